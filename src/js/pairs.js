// Builds parseDotenv's result from one string and a list of lengths (src/dotenv.rs packs them so):
// one crossing from wasm per call instead of several per key keeps a large .env fast.
// `lengths` holds, per pair, the key's length then the value's (UTF-16 units), 0xffffffff for null.
export function objectFromPairs(text, lengths) {
  const out = {};
  let at = 0;
  for (let i = 0; i + 1 < lengths.length; i += 2) {
    const key = text.slice(at, (at += lengths[i]));
    const length = lengths[i + 1];
    const value = length === 0xffffffff ? null : text.slice(at, (at += length));
    // A key such as `__proto__` stays a plain own property.
    if (key === "__proto__") Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
    else out[key] = value;
  }
  return out;
}

const encoder = new TextEncoder();

// `text` as UTF-8 into wasm memory at `at` (`room` bytes): the byte count when all of it fit, else -1.
export function encodeInto(text, memory, at, room) {
  const { read, written } = encoder.encodeInto(text, new Uint8Array(memory.buffer, at, room));
  return read === text.length ? written : -1;
}
