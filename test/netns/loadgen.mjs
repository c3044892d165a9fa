// Bounded load generator, run INSIDE a client namespace (`ip netns exec ihp-client-1 node loadgen.mjs
// '<json>'`). Sends exactly `count` GET requests, one new TCP connection each (TCP-mode HAProxy picks
// a server per connection), paced at `rateHz`, at most `concurrency` in flight, to `target` only.
// Prints one JSON object: { sent, ok, failed, results: [{ i, startMs, ms, status, node, remote, error }] }.
import http from "node:http";
import https from "node:https";

const p = JSON.parse(process.argv[2]);
const { target, port, scheme = "http", count, rateHz = 50, concurrency = 8, runId, timeoutMs = 15000, headers = {}, servername = "ingress.test" } = p;
if (!/^(198\.51\.100|203\.0\.113|192\.0\.2)\.[0-9]{1,3}$/.test(target)) throw new Error(`refusing target ${target}: documentation ranges only`);
if (!Number.isInteger(count) || count < 1 || count > 100000) throw new Error("count must be 1..100000");

const lib = scheme === "https" ? https : http;
const results = [];
let inFlight = 0;
const waiters = [];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function one(i) {
  return new Promise((resolve) => {
    const startMs = Date.now();
    const t0 = performance.now();
    const r = { i, startMs, ms: 0, status: 0, node: "", remote: "", error: "" };
    const req = lib.request(
      {
        host: target, port: port ?? (scheme === "https" ? 443 : 80), path: `/load/${runId}/${i}`, method: "GET", agent: false,
        headers: { Host: servername, Connection: "close", ...headers },
        ...(scheme === "https" ? { servername, rejectUnauthorized: false } : {}),
        timeout: timeoutMs,
      },
      (res) => {
        r.status = res.statusCode;
        r.node = String(res.headers["x-node"] ?? "");
        r.remote = String(res.headers["x-remote-addr"] ?? "");
        res.resume();
        res.on("end", () => { r.ms = performance.now() - t0; resolve(r); });
        res.on("error", (e) => { r.error = e.code || e.message; r.ms = performance.now() - t0; resolve(r); });
      },
    );
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", (e) => { r.error = e.code || e.message; r.ms = performance.now() - t0; resolve(r); });
    req.end();
  });
}

const start = performance.now();
const all = [];
for (let i = 0; i < count; i++) {
  const due = start + (i * 1000) / rateHz;
  const wait = due - performance.now();
  if (wait > 0) await sleep(wait);
  while (inFlight >= concurrency) await new Promise((r) => waiters.push(r));
  inFlight++;
  all.push(one(i).then((r) => { results.push(r); inFlight--; waiters.shift()?.(); }));
}
await Promise.all(all);
results.sort((a, b) => a.i - b.i);
const ok = results.filter((r) => r.status === 200 && !r.error).length;
process.stdout.write(JSON.stringify({ runId, sent: count, ok, failed: count - ok, wallMs: performance.now() - start, results }) + "\n");
