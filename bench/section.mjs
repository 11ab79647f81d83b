// Replaces (or appends) one section of a Markdown results file: from its `## <Title>` line up to
// the next `## ` heading. The rest of the file is kept as it is.
//
//   node bench/section.mjs bench/RESULTS.md "Server" < fragment.md
import { existsSync, readFileSync, writeFileSync } from "node:fs";

const [file, title] = process.argv.slice(2);
if (!file || !title) {
  console.error("usage: node bench/section.mjs FILE TITLE < fragment.md");
  process.exit(2);
}
const fragment = readFileSync(0, "utf8").trim();
const heading = `## ${title}`;
const intro =
  "# Benchmarks\n\nWritten by `npm run bench` (`bench/run.sh`). Each section is replaced when its\n" +
  "benchmark runs again; the others are kept.\n";
const text = existsSync(file) ? readFileSync(file, "utf8") : intro;

const lines = text.split("\n");
const start = lines.findIndex((line) => line.trim() === heading);
const section = [heading, "", fragment, ""];
let out;
if (start === -1) {
  out = [...lines.join("\n").trimEnd().split("\n"), "", ...section];
} else {
  let end = lines.findIndex((line, i) => i > start && line.startsWith("## "));
  if (end === -1) end = lines.length;
  out = [...lines.slice(0, start), ...section, ...lines.slice(end)];
}
writeFileSync(file, out.join("\n").trimEnd() + "\n");
