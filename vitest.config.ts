import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    exclude: ["test/**/*.emulator.test.ts", "node_modules/**"],
    // Hang guards, not speed targets (those live in `npm run bench`): generous enough for a suite
    // running beside another on two busy cores, where a child process can take a minute to start.
    testTimeout: 180_000,
    hookTimeout: 180_000,
    pool: "forks",
    // Two cores on CI: keep parallelism modest so timing-sensitive integration tests stay honest.
    maxWorkers: 2,
  },
});
