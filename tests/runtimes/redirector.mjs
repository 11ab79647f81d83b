// A redirecting server and a trap, in their own process (the runtime tests block their own event
// loop while a runtime runs). The redirector answers every POST with the next of five redirect
// statuses, pointing at the trap (another origin), and answers CORS so a browser gets as far as the
// redirect itself. Whatever reaches the trap is a leak: it is appended to the file named by argv[2].
// Prints one JSON line: { redirectUrl, trapOrigin }.
import { createServer } from "node:http";
import { appendFileSync, writeFileSync } from "node:fs";

const REDIRECTS = [301, 302, 303, 307, 308];
const trapLog = process.argv[2];
writeFileSync(trapLog, "");
let answered = 0;

const listen = (server) => new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server.address().port)));
const trap = createServer((req, res) => {
  appendFileSync(trapLog, `${req.method} ${req.url}\n`);
  res.writeHead(200).end("trapped");
});
const trapOrigin = `http://127.0.0.1:${await listen(trap)}`;
const redirector = createServer((req, res) => {
  const cors = { "access-control-allow-origin": "*", "access-control-allow-headers": "*", "access-control-allow-methods": "POST" };
  if (req.method === "OPTIONS") return res.writeHead(204, cors).end();
  req.resume();
  const code = REDIRECTS[answered++ % REDIRECTS.length];
  res.writeHead(code, { ...cors, location: `${trapOrigin}/modal.client.ModalClient/SecretGetOrCreate?from=redirect` }).end();
});
const redirectUrl = `http://127.0.0.1:${await listen(redirector)}`;
console.log(JSON.stringify({ redirectUrl, trapOrigin }));
// Ends with its parent (stdin closes), or after ten minutes at most.
process.stdin.resume();
process.stdin.on("end", () => process.exit(0));
setTimeout(() => process.exit(0), 600_000).unref();
