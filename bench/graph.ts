// The whole program (index.ts) under Pulumi mocks for a stack file with its node list replaced by N
// generated nodes: prints, for every registered resource, a hash of the inputs the engine would diff.
// `tsx bench/graph.ts <stack> <N>` -> one JSON line { resources: { "type name": sha256 } }.
// Used by bench/run.ts to count which resources change when one node is added.
import { createHash } from "node:crypto";
import * as pulumi from "@pulumi/pulumi";
import { CONFIG_NAMESPACE } from "../components/settings";
import { scaledRaw } from "./scale-config";

async function main(): Promise<void> {
  const [stack, n] = [process.argv[2], Number(process.argv[3])];
  const raw = scaledRaw(stack, n);
  const recorded: { type: string; name: string; inputs: unknown }[] = [];
  await pulumi.runtime.setMocks(
    {
      newResource: (args) => {
        recorded.push({ type: args.type, name: args.name, inputs: args.inputs });
        return { id: `${args.name}-id`, state: args.inputs };
      },
      call: (args) => args.inputs,
    },
    CONFIG_NAMESPACE,
    stack,
    false,
  );
  const secrets: Record<string, string> = { sshPrivateKey: "bench-not-a-key", statsPassword: "bench-stats", vrrpPassword: "bench-vrrp" };
  const all: Record<string, string> = {};
  for (const [k, v] of Object.entries(raw)) all[`${CONFIG_NAMESPACE}:${k}`] = typeof v === "string" ? v : JSON.stringify(v);
  const used = Object.keys(secrets).filter((k) => k === "sshPrivateKey" || (k === "statsPassword" && (raw.haproxy as any)?.stats?.enabled) || (k === "vrrpPassword" && raw.keepalived));
  for (const k of used) all[`${CONFIG_NAMESPACE}:${k}`] = secrets[k];
  pulumi.runtime.setAllConfig(all, used.map((k) => `${CONFIG_NAMESPACE}:${k}`));
  await import("../index");
  let last = -1;
  while (last !== recorded.length) {
    last = recorded.length;
    await new Promise((r) => setTimeout(r, 50));
  }
  const resources: Record<string, string> = {};
  for (const r of recorded) resources[`${r.type} ${r.name}`] = createHash("sha256").update(JSON.stringify(r.inputs)).digest("hex");
  process.stdout.write(JSON.stringify({ resources }) + "\n");
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
