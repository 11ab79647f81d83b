// A redirecting server and a trap, in their own process (the runtime tests block their own event
// loop while a runtime runs). The redirector answers every POST with the next of five redirect
// statuses, pointing at the trap (another origin), and answers CORS so a browser gets as far as the
// redirect itself. It speaks HTTP/1.1 (fetch) and h2c (the node:http2 transport, the default of
// Node, Deno and Bun) on one port: a connection that opens with HTTP/2's preface goes to the h2c
// server. Whatever reaches the trap is a leak: it is appended to the file named by argv[2].
// Prints one JSON line: { redirectUrl, trapOrigin }.
import { createServer } from "node:http";
import { createServer as createH2cServer } from "node:http2";
import { createServer as createNetServer } from "node:net";
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
const redirect = (req, res) => {
  const cors = { "access-control-allow-origin": "*", "access-control-allow-headers": "*", "access-control-allow-methods": "POST" };
  if (req.method === "OPTIONS") return res.writeHead(204, cors).end();
  req.resume();
  const code = REDIRECTS[answered++ % REDIRECTS.length];
  res.writeHead(code, { ...cors, location: `${trapOrigin}/modal.client.ModalClient/SecretGetOrCreate?from=redirect` }).end();
};
const h1 = createServer(redirect);
const h2c = createH2cServer(redirect);
const redirector = createNetServer((socket) => {
  socket.on("error", () => {});
  const sniff = () => {
    const head = socket.read(3);
    if (head === null) return socket.once("readable", sniff);
    socket.unshift(head);
    (head.toString("latin1") === "PRI" ? h2c : h1).emit("connection", socket);
  };
  socket.once("readable", sniff);
});
const redirectUrl = `http://127.0.0.1:${await listen(redirector)}`;
console.log(JSON.stringify({ redirectUrl, trapOrigin }));
// Ends with its parent (stdin closes), or after ten minutes at most.
process.stdin.resume();
process.stdin.on("end", () => process.exit(0));
setTimeout(() => process.exit(0), 600_000).unref();
