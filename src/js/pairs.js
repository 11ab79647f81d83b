// Builds parseDotenv's result (src/dotenv.rs packs it so): one crossing from wasm per call, and no
// copy of the text back out of wasm. `spans` holds, per pair, the key's (start, length) then the
// value's, in UTF-16 units: in `text` (the string that was parsed), or in `extra` when the start has
// the 0x80000000 bit (what unescaping or interpolation made; everything when `text` is not ASCII).
// A value's start 0xffffffff is null. A key may come more than once (src/dotenv.rs does not merge
// repeated keys): assigning in turn keeps its first position and its last value, as python-dotenv's
// dict does.
export function objectFromSpans(text, extra, spans) {
  const out = {};
  for (let i = 0; i + 3 < spans.length; i += 4) {
    const key = piece(text, extra, spans[i], spans[i + 1]);
    const start = spans[i + 2];
    const value = start === 0xffffffff ? null : piece(text, extra, start, spans[i + 3]);
    // A key such as `__proto__` stays a plain own property.
    if (key === "__proto__") Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
    else out[key] = value;
  }
  return out;
}

function piece(text, extra, start, length) {
  return start < 0x80000000 ? text.slice(start, start + length) : extra.slice(start - 0x80000000, start - 0x80000000 + length);
}

const encoder = new TextEncoder();

// `text` as UTF-8 into wasm memory at `at` (`room` bytes): the byte count when all of it fit, else -1.
export function encodeInto(text, memory, at, room) {
  const { read, written } = encoder.encodeInto(text, new Uint8Array(memory.buffer, at, room));
  return read === text.length ? written : -1;
}
