// The command line's output: lines on stdout, JSON and tables as Modal's CLI prints them, times in
// the local time zone, names quoted as Python's repr, and a progress line on a terminal's stderr.
// Nothing here is given a value: callers pass key names only.

export const out = (text = "") => process.stdout.write(`${text}\n`);

/**
 * A progress line on stderr, only when stderr is a terminal and only once the work has taken
 * 250 ms (so quick runs print nothing); `done()` erases it.
 */
export function progress(initial) {
  if (!process.stderr.isTTY) return { update() {}, done() {} };
  let text = initial;
  let shown = false;
  let last = 0;
  const started = Date.now();
  const draw = () => {
    last = Date.now();
    shown = true;
    process.stderr.write(`\r\x1b[K${text}`);
  };
  const timer = setTimeout(draw, 250);
  return {
    update(next) {
      text = next;
      const now = Date.now();
      if (now - started >= 250 && now - last >= 100) draw();
    },
    done() {
      clearTimeout(timer);
      if (shown) process.stderr.write("\r\x1b[K");
    },
  };
}

const two = (n) => String(n).padStart(2, "0");

/** The local time zone's short name (UTC, CET, GMT+1 …), as Python's %Z shows it. */
function zoneName(date) {
  const part = new Intl.DateTimeFormat("en-US", { timeZoneName: "short" })
    .formatToParts(date)
    .find((p) => p.type === "timeZoneName");
  return part?.value ?? "";
}

/**
 * A time as Modal's CLI prints it, in the local time zone: `2026-11-28 15:56 UTC` in tables,
 * `2026-11-28 15:56:39+00:00` (Python's isoformat) in JSON; null for none.
 */
export function formatTime(date, json) {
  if (!(date instanceof Date) || !(date.getTime() > 0)) return null;
  const day = `${date.getFullYear()}-${two(date.getMonth() + 1)}-${two(date.getDate())}`;
  const minute = `${two(date.getHours())}:${two(date.getMinutes())}`;
  if (!json) return `${day} ${minute} ${zoneName(date)}`;
  const offset = -date.getTimezoneOffset();
  const sign = offset < 0 ? "-" : "+";
  const zone = `${sign}${two(Math.floor(Math.abs(offset) / 60))}:${two(Math.abs(offset) % 60)}`;
  return `${day} ${minute}:${two(date.getSeconds())}${zone}`;
}

/** A table in rich's default style (Modal's `display_table`), with a centred title. */
export function table(title, columns, rows) {
  const cells = rows.map((row) => row.map((c) => (c === null || c === undefined ? "" : String(c))));
  const widths = columns.map((h, i) => Math.max(h.length, ...cells.map((r) => r[i].length)));
  const line = (l, fill, mid, r) => l + widths.map((w) => fill.repeat(w + 2)).join(mid) + r;
  const row = (values, bar) => bar + values.map((v, i) => ` ${v.padEnd(widths[i])} `).join(bar) + bar;
  const total = widths.reduce((n, w) => n + w + 3, 1);
  const lines = [];
  if (title) lines.push(" ".repeat(Math.max(0, Math.floor((total - title.length) / 2))) + title);
  lines.push(line("┏", "━", "┳", "┓"), row(columns, "┃"), line("┡", "━", "╇", "┩"));
  for (const r of cells) lines.push(row(r, "│"));
  lines.push(line("└", "─", "┴", "┘"));
  return lines.join("\n");
}

/** JSON as Modal's CLI prints it (Python's json.dumps with indent=2). */
export const json = (value) => out(JSON.stringify(value, null, 2));

/** Snake-case JSON keys of Modal's column names: "Created at" → created_at. */
export const jsonKey = (column) => column.toLowerCase().replace(/ /g, "_");

/** A name or key as Python's repr shows it ('KEY'), for messages in Modal's style. */
export function quote(name) {
  return `'${String(name).replace(/[\\']/g, (c) => `\\${c}`).replace(/[\u0000-\u001f\u007f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`)}'`;
}

export const listOf = (keys) => keys.map(quote).join(", ");
