// Paced load for the failover figure, run INSIDE the bench client namespace. One new connection per
// request (TCP-mode HAProxy picks a server per connection), `rateHz` requests/s for `seconds` at most,
// at most `concurrency` in flight, each failed after `timeoutMs`. Prints one JSON line:
// { sent, ok, failed, results: [[startMs, ms, ok(0|1)], ...] }. Documentation-range targets only.
import http from "node:http";

const { target, port, rateHz, seconds, concurrency = 512, timeoutMs = 2000 } = JSON.parse(process.argv[2]);
if (!/^(198\.51\.100|203\.0\.113|192\.0\.2)\.[0-9]{1,3}$/.test(target)) throw new Error(`refusing target ${target}`);
if (!(seconds > 0 && seconds <= 120 && rateHz > 0 && rateHz <= 2000)) throw new Error("seconds must be 1..120, rateHz 1..2000");

const results = [];
let inFlight = 0;
const one = () =>
  new Promise((resolve) => {
    const startMs = Date.now();
    const t0 = performance.now();
    let settled = false;
    const end = (ok) => {
      if (settled) return;
      settled = true;
      results.push([startMs, Math.round(performance.now() - t0), ok ? 1 : 0]);
      resolve();
    };
    const req = http.request({ host: target, port, path: "/", agent: false, headers: { Connection: "close" }, timeout: timeoutMs }, (res) => {
      res.resume();
      res.on("end", () => end(res.statusCode === 200));
      res.on("error", () => end(false));
    });
    const timer = setTimeout(() => { req.destroy(new Error("timeout")); end(false); }, timeoutMs);
    req.on("close", () => clearTimeout(timer));
    req.on("error", () => end(false));
    req.end();
  });

const start = performance.now();
const total = Math.round(rateHz * seconds);
const all = [];
for (let i = 0; i < total; i++) {
  const wait = start + (i * 1000) / rateHz - performance.now();
  if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  if (inFlight >= concurrency) { results.push([Date.now(), 0, 0]); continue; } // counted as failed: no slot
  inFlight++;
  all.push(one().then(() => inFlight--));
}
await Promise.all(all);
const ok = results.filter((r) => r[2]).length;
process.stdout.write(JSON.stringify({ sent: results.length, ok, failed: results.length - ok, results }) + "\n");
