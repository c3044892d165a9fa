// The backend app behind the test Ingress (an app, not an imitation of anything): answers every
// request with what it received, as JSON: the peer address (the controller pod) and the headers.
// GET /healthz is its readiness probe. Port from argv[2] (default 8080).
import { createServer } from "node:http";

const port = Number(process.argv[2] ?? 8080);
createServer((req, res) => {
  if (req.url === "/healthz") {
    res.writeHead(200, { "content-type": "text/plain" }).end("ok\n");
    return;
  }
  const body = JSON.stringify({ peer: req.socket.remoteAddress, method: req.method, url: req.url, headers: req.headers });
  res.writeHead(200, { "content-type": "application/json" }).end(`${body}\n`);
}).listen(port, "0.0.0.0", () => console.log(`echo listening on :${port}`));
