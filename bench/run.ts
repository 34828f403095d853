import type { BenchResult, BenchSuite } from "./types.ts";

/**
 * `npm run bench`: every benchmark suite, one table. Targets are printed next to the numbers;
 * a miss is reported, never turned into a failing test. `npm run bench -- metrics` runs one suite;
 * `npm run bench -- scale` (not run by default: it fills a Postgres) the scale benchmark;
 * `npm run bench -- serve` the model server (a few minutes on 2 cores); `npm run bench --
 * active-learning` what pre-labels and priority save annotators (a few minutes on 2 cores).
 */
const SUITES: Record<string, () => Promise<BenchSuite>> = {
  normalise: async () => (await import("./normalise.bench.ts")).normaliseBench,
  throughput: async () => (await import("./throughput.bench.ts")).throughputBench,
  metrics: async () => (await import("./metrics.bench.ts")).metricsBench,
  cold: async () => (await import("./cold.bench.ts")).coldBench,
  segmentation: async () => (await import("./segmentation.bench.ts")).segmentationBench,
  imports: async () => (await import("./imports.bench.ts")).importsBench,
  safety: async () => (await import("./safety.bench.ts")).safetyBench,
  serve: async () => (await import("./serve.bench.ts")).serveBench,
  scale: async () => (await import("./scale.bench.ts")).scaleBench,
  "active-learning": async () => (await import("./active-learning.bench.ts")).activeLearningBench,
};
/** Suites that take several minutes (scale also needs a Postgres): run only when named (`npm run bench -- scale`). */
const ON_REQUEST = new Set(["scale", "safety", "serve", "active-learning"]);

const wanted = process.argv.slice(2).filter((a) => !a.startsWith("-"));
const names = wanted.length ? wanted : Object.keys(SUITES).filter((name) => !ON_REQUEST.has(name));
const rows: BenchResult[] = [];
for (const name of names) {
  const load = SUITES[name];
  if (!load) {
    console.error(`unknown suite ${name} (have: ${Object.keys(SUITES).join(", ")})`);
    process.exitCode = 2;
    continue;
  }
  process.stderr.write(`running ${name}…\n`);
  try {
    const results = await (await load())();
    rows.push(...results);
    for (const r of results) process.stderr.write(`  ${r.name}: ${r.value} ${r.unit} (target ${r.target})\n`);
  } catch (err) {
    rows.push({ name: `${name} (failed to run)`, value: Number.NaN, unit: "", target: "", pass: false, note: (err as Error).message });
  }
}

const width = Math.max(...rows.map((r) => r.name.length), 10);
console.log("");
console.log(`${"benchmark".padEnd(width)}  ${"value".padStart(12)}  ${"target".padEnd(16)}  ok   note`);
for (const r of rows) {
  const value = `${Number.isFinite(r.value) ? r.value : "—"} ${r.unit}`.trim();
  console.log(`${r.name.padEnd(width)}  ${value.padStart(12)}  ${r.target.padEnd(16)}  ${r.pass === null ? "n/a " : r.pass ? "yes " : "NO  "} ${r.note ?? ""}`);
}
