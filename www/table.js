// The secrets table: sorting, filtering and windowed rendering. Only the rows in (and just around)
// the visible part of the scroller are in the DOM; two spacer rows stand in for the rest, so 2,000
// or 20,000 secrets cost the same to draw and scroll. Filtering is a pass over plain objects.
import { h, formatDate, formatAgo } from "./ui.js";

const OVERSCAN = 8;
const collator = new Intl.Collator(undefined, { numeric: true, sensitivity: "base" });
const time = (d) => (d ? d.getTime() : -Infinity);

const COMPARE = {
  name: (a, b) => collator.compare(a.name, b.name),
  keys: (a, b) => a.keys.length - b.keys.length,
  createdAt: (a, b) => time(a.createdAt) - time(b.createdAt),
  createdBy: (a, b) => collator.compare(a.createdBy ?? "", b.createdBy ?? ""),
  lastUsed: (a, b) => time(a.lastUsed) - time(b.lastUsed),
};

/** A row's data from what the package returns: no values exist here to begin with. */
export function rowOf(name, keys, info) {
  return {
    name,
    keys: [...keys],
    createdAt: info.createdAt ?? null,
    createdBy: info.createdBy ?? null,
    lastUsed: info.lastUsed ?? null,
    search: `${name}\n${keys.join("\n")}`.toLowerCase(),
  };
}

export class SecretsTable {
  #scroller;
  #table;
  #tbody;
  #onOpen;
  #rows = new Map(); // name → row
  #sorted = []; // every row, in the current order
  #view = []; // the sorted rows the filter keeps
  #sort = { key: "createdAt", dir: -1 };
  #terms = [];
  #rowHeight = 0;
  #range = null; // [first, end) drawn, or null when the DOM must be redrawn
  #frame = 0;

  constructor({ scroller, table, onOpen }) {
    this.#scroller = scroller;
    this.#table = table;
    this.#tbody = table.tBodies[0];
    this.#onOpen = onOpen;
    scroller.addEventListener("scroll", () => this.#schedule(), { passive: true });
    new ResizeObserver(() => this.#schedule(true)).observe(scroller);
    this.#tbody.addEventListener("click", (event) => {
      const tr = event.target.closest("tr[data-index]");
      if (tr) this.#onOpen(this.#view[Number(tr.dataset.index)].name);
    });
    this.#tbody.addEventListener("keydown", (event) => this.#onKey(event));
    for (const button of table.tHead.querySelectorAll("button[data-sort]")) {
      button.addEventListener("click", () => this.sortBy(button.dataset.sort));
    }
  }

  /** Rows shown / rows loaded. */
  get shown() {
    return this.#view.length;
  }
  get total() {
    return this.#rows.size;
  }
  has(name) {
    return this.#rows.has(name);
  }

  /** Replaces every row. */
  reset(rows = []) {
    this.#rows = new Map(rows.map((r) => [r.name, r]));
    this.#scroller.scrollTop = 0;
    this.#resort();
  }

  /** Adds rows, or replaces those of the same name. */
  upsert(rows) {
    for (const r of rows) this.#rows.set(r.name, r);
    this.#resort();
  }

  remove(name) {
    if (this.#rows.delete(name)) this.#resort();
  }

  /** Keeps rows whose name or a key name contains every word of `query` (case-insensitive). */
  filter(query) {
    this.#terms = query.toLowerCase().split(/\s+/).filter(Boolean);
    this.#refilter();
  }

  /** Sorts by a column; the same column again reverses the order. */
  sortBy(key) {
    const dir = this.#sort.key === key ? -this.#sort.dir : key === "name" || key === "createdBy" ? 1 : -1;
    this.#sort = { key, dir };
    for (const th of this.#table.tHead.rows[0].cells) {
      const own = th.querySelector("button").dataset.sort === key;
      th.setAttribute("aria-sort", own ? (dir > 0 ? "ascending" : "descending") : "none");
    }
    this.#resort();
  }

  #resort() {
    const { key, dir } = this.#sort;
    const compare = COMPARE[key];
    this.#sorted = [...this.#rows.values()].sort((a, b) => dir * compare(a, b) || collator.compare(a.name, b.name));
    this.#refilter();
  }

  #refilter() {
    const terms = this.#terms;
    this.#view = terms.length ? this.#sorted.filter((r) => terms.every((t) => r.search.includes(t))) : this.#sorted;
    this.#table.setAttribute("aria-rowcount", String(this.#view.length + 1));
    this.#range = null;
    this.render();
  }

  #schedule(force = false) {
    if (force) this.#range = null;
    if (this.#frame) return;
    this.#frame = requestAnimationFrame(() => {
      this.#frame = 0;
      this.render();
    });
  }

  /** Draws the rows in view (and OVERSCAN around), keeping keyboard focus on its row. */
  render() {
    const view = this.#view;
    const scroller = this.#scroller;
    const rowHeight = this.#rowHeight || 44;
    const head = this.#table.tHead.offsetHeight;
    const visible = Math.ceil(Math.max(scroller.clientHeight, 400) / rowHeight);
    const first = Math.max(0, Math.floor(Math.max(0, scroller.scrollTop - head) / rowHeight) - OVERSCAN);
    const end = Math.min(view.length, first + visible + 2 * OVERSCAN);
    if (this.#range && this.#range[0] === first && this.#range[1] === end) return;

    const focused = this.#tbody.contains(document.activeElement)
      ? document.activeElement.closest("tr")?.dataset.index
      : undefined;
    const fragment = document.createDocumentFragment();
    if (first > 0) fragment.append(spacer(first * rowHeight));
    for (let i = first; i < end; i++) fragment.append(this.#rowElement(view[i], i));
    if (end < view.length) fragment.append(spacer((view.length - end) * rowHeight));
    this.#tbody.replaceChildren(fragment);
    this.#range = [first, end];

    if (!this.#rowHeight && end > first) {
      const measured = this.#tbody.querySelector("tr[data-index]").getBoundingClientRect().height;
      if (measured > 0) {
        this.#rowHeight = measured;
        if (Math.abs(measured - rowHeight) > 0.5) {
          this.#range = null;
          this.render();
          return;
        }
      }
    }
    if (focused !== undefined) this.#focusIndex(Number(focused), false);
  }

  #rowElement(row, index) {
    const keys = row.keys;
    return h(
      "tr",
      { "data-index": index, "data-name": row.name, "aria-rowindex": index + 2 },
      h("td", { class: "col-name" }, h("button", { type: "button", class: "row-open", text: row.name })),
      h(
        "td",
        { class: "col-keys" },
        h("span", { class: "key-count", text: String(keys.length) }),
        keys.length ? h("span", { class: "key-preview", text: keys.join(", ") }) : null,
      ),
      h("td", { class: "col-created" }, dateCell(row.createdAt, formatDate(row.createdAt))),
      h("td", { class: "col-by", text: row.createdBy ?? "—" }),
      h("td", { class: "col-used" }, row.lastUsed ? dateCell(row.lastUsed, formatAgo(row.lastUsed)) : "never"),
    );
  }

  /** Arrow keys, Page Up/Down, Home and End move between rows; the window follows. */
  #onKey(event) {
    const tr = event.target.closest("tr[data-index]");
    if (!tr) return;
    const index = Number(tr.dataset.index);
    const page = Math.max(1, Math.floor(this.#scroller.clientHeight / (this.#rowHeight || 44)) - 1);
    const target = {
      ArrowDown: index + 1,
      ArrowUp: index - 1,
      PageDown: index + page,
      PageUp: index - page,
      Home: 0,
      End: this.#view.length - 1,
    }[event.key];
    if (target === undefined) return;
    event.preventDefault();
    this.#focusIndex(Math.max(0, Math.min(this.#view.length - 1, target)), true);
  }

  #focusIndex(index, scroll) {
    if (scroll) {
      const rowHeight = this.#rowHeight || 44;
      const head = this.#table.tHead.offsetHeight;
      const top = index * rowHeight;
      const scroller = this.#scroller;
      if (top < scroller.scrollTop) scroller.scrollTop = top;
      else if (top + rowHeight + head > scroller.scrollTop + scroller.clientHeight) {
        scroller.scrollTop = top + rowHeight + head - scroller.clientHeight;
      }
      this.render();
    }
    this.#tbody.querySelector(`tr[data-index="${index}"] .row-open`)?.focus({ preventScroll: true });
  }

  /** Moves focus to the first row shown, if any. */
  focusFirst() {
    if (this.#view.length) this.#focusIndex(0, true);
  }
}

function spacer(height) {
  const td = h("td", { colspan: 5 });
  td.style.height = `${height}px`; // CSSOM, which the page's CSP (style-src 'self') allows
  return h("tr", { class: "spacer", "aria-hidden": "true" }, td);
}

function dateCell(date, text) {
  return h("time", { datetime: date.toISOString(), title: date.toLocaleString(), text });
}
