/**
 * Child process of the normalise benchmark: normalises one product zip `runs + 1` times (the first
 * is a warm-up: module loading, JIT) and prints one JSON line with the times and the process's
 * peak RSS. Running alone in a fresh process means the peak RSS is the normaliser's, not the
 * benchmark's (which holds the generated scene and zip).
 *
 *   node --import tsx bench/normalise-child.ts <product.zip> [runs]
 */
import { readFile } from "node:fs/promises";
import { basename } from "node:path";
import { createNormaliser } from "../shared/adapters/imaging/normaliser.ts";
import type { NormaliseOptions } from "../shared/ports.ts";
import { peakRssBytes } from "./peak-rss.ts";

const OPTIONS: NormaliseOptions = { rgbBands: [3, 2, 1], nirBand: 4, stretchPercentiles: [2, 98], nodataValue: null };

const [zipPath, runsArg] = process.argv.slice(2);
if (!zipPath) {
  process.stderr.write("usage: normalise-child.ts <product.zip> [runs]\n");
  process.exit(2);
}
const runs = Number(runsArg ?? 5);
const input = await readFile(zipPath);
const normaliser = createNormaliser();

const timesMs: number[] = [];
// Process CPU time (all threads: zlib and libvips work off the main thread) per run: unlike wall
// time it barely moves when the machine is shared, so it shows what an idle core would see.
const cpuMs: number[] = [];
let pixels = 0;
for (let run = 0; run <= runs; run++) {
  const started = performance.now();
  const cpuBefore = process.cpuUsage();
  const output = await normaliser.normalise(input, basename(zipPath), OPTIONS);
  const cpu = process.cpuUsage(cpuBefore);
  timesMs.push(performance.now() - started);
  cpuMs.push((cpu.user + cpu.system) / 1000);
  pixels = output.width * output.height;
}
process.stdout.write(`${JSON.stringify({ warmupMs: timesMs[0], timesMs: timesMs.slice(1), cpuMs: cpuMs.slice(1), peakRssBytes: peakRssBytes(), pixels })}\n`);
