// A minimal client of the local API server (scripts/cluster) for the harness's own loops (pod
// watcher, probes, status patches): plain HTTPS with the cluster's admin certificate, so a loop that
// runs every second costs no kubectl process.
import { readFileSync } from "node:fs";
import { request } from "node:https";
import { join } from "node:path";

export interface Api {
  get(path: string): Promise<any>;
  /** The object, or undefined on 404. */
  find(path: string): Promise<any | undefined>;
  post(path: string, body: unknown): Promise<any>;
  /** A strategic-merge or merge patch; `status: true` patches the status subresource. */
  patch(path: string, body: unknown, type?: "merge" | "strategic-merge"): Promise<any>;
  delete(path: string): Promise<any>;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly method: string,
    readonly path: string,
    body: string,
  ) {
    super(`${method} ${path}: HTTP ${status}: ${body.slice(0, 400)}`);
  }
}

/** `clusterDir` as made by scripts/cluster/up.sh (pki/ca.crt, pki/admin.{crt,key}). */
export function clusterApi(clusterDir: string, port: number): Api {
  const pki = join(clusterDir, "pki");
  const tls = { ca: readFileSync(join(pki, "ca.crt")), cert: readFileSync(join(pki, "admin.crt")), key: readFileSync(join(pki, "admin.key")) };
  const call = (method: string, path: string, body?: unknown, contentType = "application/json"): Promise<{ status: number; text: string }> =>
    new Promise((done, fail) => {
      const payload = body === undefined ? undefined : JSON.stringify(body);
      const req = request(
        { host: "127.0.0.1", port, path, method, ...tls, timeout: 10_000, headers: { accept: "application/json", ...(payload ? { "content-type": contentType } : {}) } },
        (res) => {
          let text = "";
          res.setEncoding("utf8");
          res.on("data", (d) => (text += d));
          res.on("end", () => done({ status: res.statusCode ?? 0, text }));
        },
      );
      req.on("timeout", () => req.destroy(new Error(`${method} ${path}: timed out`)));
      req.on("error", fail);
      req.end(payload);
    });
  const json = async (method: string, path: string, body?: unknown, contentType?: string) => {
    const r = await call(method, path, body, contentType);
    if (r.status < 200 || r.status > 299) throw new ApiError(r.status, method, path, r.text);
    return JSON.parse(r.text);
  };
  return {
    get: (path) => json("GET", path),
    find: async (path) => {
      const r = await call("GET", path);
      if (r.status === 404) return undefined;
      if (r.status !== 200) throw new ApiError(r.status, "GET", path, r.text);
      return JSON.parse(r.text);
    },
    post: (path, body) => json("POST", path, body),
    patch: (path, body, type = "merge") => json("PATCH", path, body, `application/${type}-patch+json`),
    delete: (path) => json("DELETE", path),
  };
}
