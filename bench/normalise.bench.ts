/**
 * Normalise benchmark: a product zip holding a 4-band 1024×1024 float32 deflate GeoTIFF (a demo
 * scene, so the data compresses like real reflectance rather than like zeros) normalised to RGB +
 * NIR + nodata PNGs with the default band mapping and a 2–98 % stretch.
 *
 * Measured in fresh child processes (bench/normalise-child.ts) so peak RSS is the normaliser's:
 * one child times a warm-up and seven runs; another normalises once, as a cold function instance
 * would, for the peak RSS compared with the target.
 *
 *   node --import tsx bench/normalise.bench.ts
 */
import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { promisify } from "node:util";
import * as z from "zod";
import { makeDemoProduct } from "../shared/adapters/demo/products.ts";
import type { BenchResult, BenchSuite } from "./types.ts";

const execFileAsync = promisify(execFile);
const SIZE = 1024;
const RUNS = 7;
const TARGET_SECONDS = 0.4;
const TARGET_RSS_MB = 200;

const ChildReport = z.object({
  warmupMs: z.number(),
  timesMs: z.array(z.number()),
  cpuMs: z.array(z.number()),
  peakRssBytes: z.number(),
  pixels: z.number(),
});

async function runChild(zipPath: string, runs: number): Promise<z.infer<typeof ChildReport>> {
  const child = fileURLToPath(new URL("./normalise-child.ts", import.meta.url));
  const { stdout } = await execFileAsync(process.execPath, ["--import", "tsx", child, zipPath, String(runs)], {
    cwd: fileURLToPath(new URL("..", import.meta.url)),
    maxBuffer: 1024 * 1024,
  });
  return ChildReport.parse(JSON.parse(stdout.trim().split("\n").pop() ?? "{}"));
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export const normaliseBench: BenchSuite = async () => {
  const dir = await mkdtemp(join(tmpdir(), "mlops-bench-normalise-"));
  try {
    const product = makeDemoProduct({ seed: 2024, width: SIZE, height: SIZE, name: "BENCH_1024" });
    const zipPath = join(dir, "BENCH_1024.zip");
    await writeFile(zipPath, product.zip);

    const timed = await runChild(zipPath, RUNS);
    const single = await runChild(zipPath, 0);
    const seconds = median(timed.timesMs) / 1000;
    const rssMb = single.peakRssBytes / 1024 / 1024;
    const zipMb = (product.zip.length / 1024 / 1024).toFixed(1);
    const results: BenchResult[] = [
      {
        name: `normalise ${SIZE}² 4-band float32 product zip (median of ${RUNS})`,
        value: Math.round(seconds * 1000) / 1000,
        unit: "s",
        target: `≤ ${TARGET_SECONDS} s`,
        pass: seconds <= TARGET_SECONDS,
        note: `zip ${zipMb} MiB; runs ${timed.timesMs.map((t) => Math.round(t)).join(", ")} ms; median CPU ${Math.round(median(timed.cpuMs))} ms (all threads); cold first run ${Math.round(single.warmupMs)} ms`,
      },
      {
        name: "normalise peak RSS (fresh process, one product)",
        value: Math.round(rssMb),
        unit: "MB",
        target: `≤ ${TARGET_RSS_MB} MB`,
        pass: rssMb <= TARGET_RSS_MB,
        note: `after ${RUNS + 1} runs in one process: ${Math.round(timed.peakRssBytes / 1024 / 1024)} MB`,
      },
    ];
    return results;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
};

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  for (const r of await normaliseBench()) {
    process.stdout.write(`${r.pass ? "PASS" : "MISS"}  ${r.name}: ${r.value} ${r.unit} (target ${r.target})${r.note ? ` — ${r.note}` : ""}\n`);
  }
}
