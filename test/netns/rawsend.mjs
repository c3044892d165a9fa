// Sends raw bytes over one TCP connection from INSIDE a namespace and prints what came back:
// `ip netns exec ihp-client-1 node rawsend.mjs '{"host":"192.0.2.11","port":30111,"payload":"...","timeoutMs":1500}'`.
// Used to forge PROXY headers. Documentation ranges only.
import net from "node:net";

const { host, port, payload, timeoutMs = 1500 } = JSON.parse(process.argv[2]);
if (!/^(198\.51\.100|203\.0\.113|192\.0\.2)\.[0-9]{1,3}$/.test(host)) throw new Error(`refusing host ${host}: documentation ranges only`);
const out = { connected: false, response: "", error: "" };
const s = net.createConnection({ host, port });
const timer = setTimeout(() => { out.error ||= "timeout"; s.destroy(); }, timeoutMs);
s.on("connect", () => { out.connected = true; s.write(payload); });
s.on("data", (d) => { out.response += d.toString("latin1"); });
s.on("error", (e) => { out.error = e.code || e.message; });
s.on("close", () => { clearTimeout(timer); process.stdout.write(JSON.stringify(out) + "\n"); });
