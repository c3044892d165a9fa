import { defineConfig } from "vitest/config";

// Tiers: `unit` (pure functions and Pulumi mocks, seconds), `real` (real haproxy/shellcheck/keepalived
// on this machine), `netns` (real hosts in network namespaces, root), `engine` (real Pulumi engine
// against a local Kubernetes API server, root + built toolchain).

export default defineConfig({
  test: {
    projects: [
      { test: { name: "unit", include: ["test/**/*.test.ts"], exclude: ["test/**/*.real.test.ts", "test/**/*.e2e.test.ts"], testTimeout: 60_000, hookTimeout: 60_000 } },
      { test: { name: "real", include: ["test/**/*.real.test.ts"], testTimeout: 120_000, hookTimeout: 120_000, poolOptions: { forks: { singleFork: true } } } },
      { test: { name: "netns", include: ["test/netns/**/*.e2e.test.ts", "test/keepalived/**/*.e2e.test.ts"], testTimeout: 300_000, hookTimeout: 300_000, poolOptions: { forks: { singleFork: true } } } },
      { test: { name: "engine", include: ["test/engine/**/*.e2e.test.ts"], testTimeout: 900_000, hookTimeout: 900_000, poolOptions: { forks: { singleFork: true } } } },
    ],
  },
});
