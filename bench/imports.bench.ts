import { spawnSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import type { BenchResult, BenchSuite } from "./types.ts";

/**
 * Cold-start cost of each built function: the time to import `dist/functions/<name>/index.js` in a
 * fresh `node` process (what the functions framework does before it can answer the first request).
 * The SDKs and the image stack are dynamic imports, so this is the framework, zod and the use cases.
 * Median of a few fresh processes; builds first when dist/ is missing.
 */

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const RUNS = 5;
const TARGET_MS = 300;
/** ingest is the one function whose first request decodes imagery; its import is still lazy. */
const INGEST_TARGET_MS = 1000;

const MEASURE = `
const t0 = performance.now();
await import(process.argv[1]);
process.stdout.write(String(performance.now() - t0));
`;

function importMs(entry: string): number {
  const result = spawnSync(process.execPath, ["--input-type=module", "-e", MEASURE, pathToFileURL(entry).href], {
    cwd: ROOT,
    encoding: "utf8",
    timeout: 60_000,
    // A function instance has none of our dev tooling loaded (no tsx loader, no inspector).
    env: { PATH: process.env.PATH ?? "", NODE_ENV: "production" },
  });
  if (result.status !== 0) throw new Error(`importing ${entry} failed: ${result.stderr.slice(-500)}`);
  return Number(result.stdout);
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export const importsBench: BenchSuite = async () => {
  const dist = join(ROOT, "dist", "functions");
  if (!existsSync(dist)) {
    const { buildAll } = await import("../scripts/build.ts");
    await buildAll({ log: () => undefined });
  }
  const names = readdirSync(dist, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name).sort();
  const results: BenchResult[] = [];
  for (const name of names) {
    const entry = join(dist, name, "index.js");
    importMs(entry); // warm the OS file cache, as a deployed instance's image layers are
    const samples = Array.from({ length: RUNS }, () => importMs(entry));
    const value = Math.round(median(samples));
    const target = name === "ingest" ? INGEST_TARGET_MS : TARGET_MS;
    results.push({
      name: `import functions/${name}`,
      value,
      unit: "ms",
      target: `≤ ${target} ms`,
      pass: value <= target,
      note: `median of ${RUNS} fresh processes (min ${Math.round(Math.min(...samples))} ms)`,
    });
  }
  return results;
};
