// Stand-in for F5's rendered Ingress location: this machine's real nginx with the lines 5.5.4's template
// puts in every location, in its order (the ConfigMap's location-snippets, then its own
// X-Forwarded-For line, read from the snapshot), behind PROXY protocol. It shows what apps receive
// with and without the program's snippet. The real controller is not run here; only loopback is used.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { connect, type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { configMapData } from "../../components/controller/manifests";
import { devRaw, settingsOf } from "../fixtures/settings";
import { type Extracted, extractUpstream } from "./chart-release";

const NGINX = "127.0.6.20";
const LB = "127.0.6.21"; // the connection's source: the trusted "load balancer"
const CLIENT = "203.0.113.7"; // carried in the PROXY header
const SPOOF = "192.0.2.66"; // what the client writes in its own X-Forwarded-For

let release: Extracted;
let templateXff: string;
const dirs: string[] = [];
const stops: (() => void)[] = [];
let backendPort = 0;
let seen: { xff: string[]; realIp: string | undefined } | undefined;

beforeAll(async () => {
  if (spawnSync("bash", ["-c", "command -v nginx"]).status !== 0) throw new Error("this test needs nginx on PATH: apt-get install -y nginx");
  release = extractUpstream("kubernetes-ingress-5.5.4.tar.gz", ["internal/configs/version1/nginx.ingress.tmpl"]);
  const tmpl = readFileSync(join(release.dir, "internal/configs/version1/nginx.ingress.tmpl"), "utf8");
  templateXff = tmpl.split("\n").map((l) => l.trim()).find((l) => l.startsWith("proxy_set_header X-Forwarded-For "))!;
  const backend = createServer((req, res) => {
    seen = { xff: headerLines(req.rawHeaders, "x-forwarded-for"), realIp: req.headers["x-real-ip"] as string | undefined };
    res.end("ok\n");
  });
  await new Promise<void>((resolve) => backend.listen(0, "127.0.0.1", resolve));
  backendPort = (backend.address() as AddressInfo).port;
  stops.push(() => backend.close());
});
afterAll(() => {
  for (const stop of stops.splice(0).reverse()) stop();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  release?.remove();
});

/** Every value of header `name`, one per field line, in order (node joins duplicates in req.headers). */
function headerLines(raw: string[], name: string): string[] {
  return raw.flatMap((v, i) => (i % 2 === 0 && v.toLowerCase() === name ? [raw[i + 1]] : []));
}

/** Starts nginx with the location F5 renders, led by `snippets`; returns a stop function. */
function startNginx(port: number, snippets: string[]): () => void {
  const dir = mkdtempSync(join(tmpdir(), "ihp-xff-"));
  dirs.push(dir);
  writeFileSync(
    join(dir, "nginx.conf"),
    `worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path ${dir}/t1; proxy_temp_path ${dir}/t2; fastcgi_temp_path ${dir}/t3; uwsgi_temp_path ${dir}/t4; scgi_temp_path ${dir}/t5;
  server {
    listen ${NGINX}:${port} proxy_protocol;
    set_real_ip_from ${LB}/32;
    real_ip_header proxy_protocol;
    location / {
${snippets.map((l) => `      ${l}`).join("\n")}
      proxy_set_header Host $host;
      proxy_set_header X-Real-IP $remote_addr;
      ${templateXff}
      proxy_pass http://127.0.0.1:${backendPort};
    }
  }
}
`,
  );
  const r = spawnSync("nginx", ["-c", join(dir, "nginx.conf"), "-p", dir], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`nginx did not start: ${r.stderr}`);
  const pid = Number(readFileSync(join(dir, "nginx.pid"), "utf8").trim());
  return () => process.kill(pid, "SIGTERM");
}

/** One request through PROXY protocol v1 from the LB address; resolves with the response text. */
function request(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: NGINX, port, localAddress: LB }, () => {
      socket.write(`PROXY TCP4 ${CLIENT} ${NGINX} 40000 ${port}\r\nGET / HTTP/1.1\r\nHost: app.invalid\r\nX-Forwarded-For: ${SPOOF}\r\nConnection: close\r\n\r\n`);
    });
    let text = "";
    socket.on("data", (d) => (text += d));
    socket.on("end", () => resolve(text));
    socket.on("error", reject);
  });
}

describe("f5 X-Forwarded-For on real nginx, with 5.5.4's location lines (stand-in for the controller)", () => {
  it("the template's own line is $proxy_add_x_forwarded_for", () => {
    expect(templateXff).toBe("proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;");
  });

  it("without the program's snippet the client's own entry leads X-Forwarded-For", async () => {
    stops.push(startNginx(30121, []));
    seen = undefined;
    expect(await request(30121)).toMatch(/^HTTP\/1\.1 200 /);
    expect(seen).toEqual({ xff: [`${SPOOF}, ${CLIENT}`], realIp: CLIENT });
  });

  it("with the program's location-snippets the PROXY address comes first, in a line of its own", async () => {
    const snippets = configMapData(settingsOf(devRaw()))["location-snippets"].split("\n");
    stops.push(startNginx(30122, snippets));
    seen = undefined;
    expect(await request(30122)).toMatch(/^HTTP\/1\.1 200 /);
    expect(seen).toEqual({ xff: [CLIENT, `${SPOOF}, ${CLIENT}`], realIp: CLIENT });
  });
});
