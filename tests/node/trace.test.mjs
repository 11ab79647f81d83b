// Issue 18: an uncaught error of the package in Node prints a trace a person can read. Node shows
// the source line of the frame that threw above the message; from a minified node.cjs that line
// was thousands of characters. A real NotFoundError from the real server, uncaught in a child Node.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { PKG_ENTRY, startServer } from "./support/server.mjs";

const server = await startServer();
const token = server.token();

test("an uncaught NotFoundError prints under 2 KB, naming a readable file and line", () => {
  const script = `
    import { Client, Secret } from ${JSON.stringify(PKG_ENTRY)};
    const client = new Client(${JSON.stringify({ serverUrl: server.url, tokenId: token.tokenId, tokenSecret: token.tokenSecret })});
    await Secret.fromName("no-such-secret").hydrate({ client });
  `;
  const child = spawnSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8", timeout: 30_000 });
  const printed = child.stderr;
  assert.notEqual(child.status, 0, "the error was uncaught");
  assert.match(printed, /NotFoundError: .*no-such-secret/);
  assert.ok(printed.length < 2048, `${printed.length} characters printed:\n${printed.slice(0, 600)}`);
  const lines = printed.split("\n");
  const longest = Math.max(...lines.map((l) => l.length));
  assert.ok(longest <= 200, `a line of ${longest} characters`);
  // Node's header: the file and line of the throw site, then that line of code.
  const [where, code] = lines;
  assert.match(where, /node\.cjs:\d+$/, `the first line names the file and line: ${where}`);
  assert.match(code, /\b(new|throw|return)\b/, `a line of code: ${code}`);
  // Every frame of the package names node.cjs at a line of its own, not one huge line.
  const frames = lines.filter((l) => /node\.cjs:\d+:\d+/.test(l));
  assert.ok(frames.length >= 3, printed);
  assert.ok(new Set(frames.map((l) => l.match(/node\.cjs:(\d+)/)[1])).size >= 3, `frames on distinct lines:\n${frames.join("\n")}`);
});
