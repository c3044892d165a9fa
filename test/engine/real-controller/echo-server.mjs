// The backend app behind the test Ingress (an app, not an imitation of anything): answers every
// request with what it received, as JSON: the peer address (the controller pod), the headers, and
// the header lines as sent (`rawHeaders`: a header sent twice is two lines, which `headers` joins).
// GET /healthz is its readiness probe. Port from argv[2] (default 8080).
import { createServer } from "node:http";

const port = Number(process.argv[2] ?? 8080);
createServer((req, res) => {
  if (req.url === "/healthz") {
    res.writeHead(200, { "content-type": "text/plain" }).end("ok\n");
    return;
  }
  const body = JSON.stringify({ peer: req.socket.remoteAddress, method: req.method, url: req.url, headers: req.headers, rawHeaders: req.rawHeaders });
  res.writeHead(200, { "content-type": "application/json" }).end(`${body}\n`);
}).listen(port, "0.0.0.0", () => console.log(`echo listening on :${port}`));
