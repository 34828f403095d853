/**
 * Whole-process ("cold") benchmarks: `mlops` as a user or a script runs it, one fresh process per
 * measurement, next to the warm in-process figures of the other suites.
 *
 * - `mlops --help` against a bare `node -e 0`: wall time above node, and peak RSS.
 * - `mlops normalise` of a 4-band 1024² float32 product zip (the normalise suite's scene): wall time
 *   and peak RSS, against the Python reference (rasterio + Pillow).
 * - `mlops metrics coco --json` on 5,000 images × 100 detections (the metrics suite's data, as
 *   files): wall time against pycocotools and faster-coco-eval, whose stats must be ours.
 *
 * Each child runs with `--import <probe>`, which writes the process's own peak RSS (VmHWM: see
 * peak-rss.ts for why not ru_maxrss) and CPU time to a file when it exits; the bare-node baseline
 * carries the same probe. The reference
 * tools are timed the same way (whole process, `python3 -c …`) when they are installed; otherwise the
 * row is not judged ("n/a"): the figures recorded on another machine are printed beside ours for
 * orientation only, since this machine's speed may differ several-fold (pycocotools took 11.65 s
 * where they were recorded and 63 s on a slower 2-vCPU VM).
 *
 *   node --import tsx bench/cold.bench.ts
 */
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { makeDemoProduct } from "../shared/adapters/demo/products.ts";
import { createPrng } from "../shared/core/demo/prng.ts";
import { buildCli } from "../scripts/build-cli.ts";
import { syntheticCoco } from "./metrics.bench.ts";
import type { BenchResult, BenchSuite } from "./types.ts";

const execFileAsync = promisify(execFile);
const ROOT = fileURLToPath(new URL("..", import.meta.url));
const BIN = join(ROOT, "bin", "mlops.js");

const HELP_RUNS = 15;
const NORMALISE_RUNS = 5;
const COCO_RUNS = 3;
const HELP_TARGET_MS = 120;
const HELP_TARGET_MB = 90;
const NORMALISE_TARGET_MB = 200;

/** Issue 12's side-by-side figures (another 2-core machine), printed when the tools are not installed here. */
const RECORDED = {
  normalisePython: { seconds: 0.46, label: "rasterio + Pillow, 0.45–0.48 s, 131 MB" },
  pycocotools: { seconds: 11.65 },
  fasterCocoEval: { seconds: 3.56 },
};

interface ProcessRun {
  wallMs: number;
  cpuMs: number;
  peakRssMb: number;
  stdout: string;
}

/** The probe every measured Node process loads first: its own rusage, written at exit. */
const PROBE = `import { readFileSync, writeFileSync } from "node:fs";
// What peak-rss.ts reads (this probe runs in front of compiled JavaScript and cannot import it).
function peakRssBytes() {
  try {
    const kb = /^VmHWM:\\s+(\\d+) kB/m.exec(readFileSync("/proc/self/status", "utf8"))?.[1];
    if (kb !== undefined) return Number(kb) * 1024;
  } catch {}
  return process.resourceUsage().maxRSS * 1024;
}
process.on("exit", () => {
  const u = process.resourceUsage();
  writeFileSync(process.env.MLOPS_BENCH_PROBE, JSON.stringify({ peakRssBytes: peakRssBytes(), cpu: u.userCPUTime + u.systemCPUTime }));
});`;

async function runNode(dir: string, args: string[]): Promise<ProcessRun> {
  const probeOut = join(dir, `probe-${process.hrtime.bigint()}.json`);
  const probe = `data:text/javascript,${encodeURIComponent(PROBE)}`;
  const started = performance.now();
  const { stdout } = await execFileAsync(process.execPath, ["--import", probe, ...args], {
    cwd: ROOT,
    env: { ...process.env, MLOPS_BENCH_PROBE: probeOut },
    maxBuffer: 64 * 1024 * 1024,
  });
  const wallMs = performance.now() - started;
  const usage = JSON.parse(await readFile(probeOut, "utf8")) as { peakRssBytes: number; cpu: number };
  return { wallMs, cpuMs: usage.cpu / 1000, peakRssMb: usage.peakRssBytes / 2 ** 20, stdout };
}

/** A Python one-off, timed whole (interpreter start and imports included), or null when it fails. */
async function runPython(script: string, args: string[]): Promise<{ wallMs: number; stdout: string } | null> {
  const started = performance.now();
  try {
    const { stdout } = await execFileAsync("python3", ["-c", script, ...args], { maxBuffer: 16 * 1024 * 1024, timeout: 600_000 });
    return { wallMs: performance.now() - started, stdout };
  } catch {
    return null;
  }
}

async function pythonHas(modules: string): Promise<boolean> {
  try {
    await execFileAsync("python3", ["-c", `import ${modules}`], { timeout: 60_000 });
    return true;
  } catch {
    return false;
  }
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

const round = (v: number, digits = 0) => Number(v.toFixed(digits));

async function benchHelp(dir: string): Promise<BenchResult[]> {
  const bare: ProcessRun[] = [];
  const help: ProcessRun[] = [];
  // Interleaved, so a busy moment on the machine costs both sides alike.
  for (let i = 0; i < HELP_RUNS; i++) {
    bare.push(await runNode(dir, ["-e", "0"]));
    help.push(await runNode(dir, [BIN, "--help"]));
  }
  if (!help[0]!.stdout.includes("normalise")) throw new Error("mlops --help printed no command list");
  const above = median(help.map((r) => r.wallMs)) - median(bare.map((r) => r.wallMs));
  const rss = Math.max(...help.map((r) => r.peakRssMb));
  const cpuAbove = median(help.map((r) => r.cpuMs)) - median(bare.map((r) => r.cpuMs));
  return [
    {
      name: `cold: mlops --help above bare node (median of ${HELP_RUNS})`,
      value: round(above),
      unit: "ms",
      target: `≤ ${HELP_TARGET_MS} ms`,
      pass: above <= HELP_TARGET_MS,
      note: `mlops ${round(median(help.map((r) => r.wallMs)))} ms vs node -e 0 ${round(median(bare.map((r) => r.wallMs)))} ms (fastest: ${round(Math.min(...help.map((r) => r.wallMs)))} vs ${round(Math.min(...bare.map((r) => r.wallMs)))}); CPU +${round(cpuAbove)} ms`,
    },
    {
      name: "cold: mlops --help peak RSS",
      value: round(rss),
      unit: "MB",
      target: `≤ ${HELP_TARGET_MB} MB`,
      pass: rss <= HELP_TARGET_MB,
      note: `bare node ${round(Math.max(...bare.map((r) => r.peakRssMb)))} MB`,
    },
  ];
}

/** The Python reference for normalise: read the GeoTIFF in the zip, 2–98 % stretch, write PNGs. */
const PYTHON_NORMALISE = `
import sys, zipfile, numpy as np, rasterio
from PIL import Image
zip_path, out = sys.argv[1], sys.argv[2]
name = next(n for n in zipfile.ZipFile(zip_path).namelist() if n.lower().endswith((".tif", ".tiff")))
with rasterio.open(f"zip://{zip_path}!/{name}") as src:
    bands = src.read().astype(np.float32)
    nodata = src.nodata
valid = np.all(np.isfinite(bands), axis=0) & (np.all(bands != nodata, axis=0) if nodata is not None else True)
def stretch(b):
    lo, hi = np.percentile(b[valid], [2, 98])
    return (np.clip((b - lo) / max(hi - lo, 1e-12), 0, 1) * 255).astype(np.uint8)
rgb = np.dstack([stretch(bands[i]) for i in (2, 1, 0)])
Image.fromarray(rgb).save(f"{out}/rgb.png")
Image.fromarray(stretch(bands[3])).save(f"{out}/nir.png")
Image.fromarray(np.where(valid, 0, 255).astype(np.uint8)).save(f"{out}/nodata.png")
`;

async function benchNormalise(dir: string): Promise<BenchResult[]> {
  const product = makeDemoProduct({ seed: 2024, width: 1024, height: 1024, name: "BENCH_1024" });
  const zipPath = join(dir, "BENCH_1024.zip");
  await writeFile(zipPath, product.zip);
  const runs: ProcessRun[] = [];
  for (let i = 0; i < NORMALISE_RUNS; i++) runs.push(await runNode(dir, [BIN, "normalise", zipPath, "--out", join(dir, "normalised"), "--json"]));
  const seconds = median(runs.map((r) => r.wallMs)) / 1000;
  const rss = Math.max(...runs.map((r) => r.peakRssMb));

  let reference = { seconds: RECORDED.normalisePython.seconds, label: `Python not measured here (needs rasterio, Pillow, numpy); recorded elsewhere: ${RECORDED.normalisePython.label}`, measured: false };
  if (await pythonHas("rasterio, PIL, numpy")) {
    const times: number[] = [];
    for (let i = 0; i < NORMALISE_RUNS; i++) {
      const run = await runPython(PYTHON_NORMALISE, [zipPath, dir]);
      if (run) times.push(run.wallMs / 1000);
    }
    if (times.length) reference = { seconds: median(times), label: `measured here: rasterio + Pillow ${median(times).toFixed(3)} s`, measured: true };
  }
  return [
    {
      name: `cold: mlops normalise 1024² 4-band product (median of ${NORMALISE_RUNS})`,
      value: round(seconds, 3),
      unit: "s",
      target: `< ${reference.seconds.toFixed(2)} s (Python)`,
      pass: reference.measured ? seconds < reference.seconds : null,
      note: `${reference.label}; fastest ${round(Math.min(...runs.map((r) => r.wallMs)) / 1000, 3)} s; CPU ${round(median(runs.map((r) => r.cpuMs)))} ms (all threads)`,
    },
    {
      name: "cold: mlops normalise peak RSS",
      value: round(rss),
      unit: "MB",
      target: `≤ ${NORMALISE_TARGET_MB} MB`,
      pass: rss <= NORMALISE_TARGET_MB,
      note: `zip ${(product.zip.length / 1024 / 1024).toFixed(1)} MiB`,
    },
  ];
}

/** COCOeval on the same files, printing its twelve stats as JSON. */
const PYTHON_COCO = (module: string) => `
import json, sys, io, contextlib
${module === "pycocotools" ? "from pycocotools.coco import COCO\nfrom pycocotools.cocoeval import COCOeval" : "from faster_coco_eval import COCO, COCOeval_faster as COCOeval"}
with contextlib.redirect_stdout(io.StringIO()):
    gt = COCO(sys.argv[1]); dt = gt.loadRes(sys.argv[2])
    e = COCOeval(gt, dt, "bbox"); e.evaluate(); e.accumulate(); e.summarize()
print(json.dumps([float(s) for s in e.stats[:12]]))
`;

const STAT_KEYS = ["AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl"] as const;

async function benchCoco(dir: string): Promise<BenchResult[]> {
  const { gt, dt } = syntheticCoco(createPrng(20_261_124));
  const gtPath = join(dir, "gt.json");
  const dtPath = join(dir, "dt.json");
  await writeFile(gtPath, JSON.stringify(gt));
  await writeFile(dtPath, JSON.stringify(dt));
  const runs: ProcessRun[] = [];
  for (let i = 0; i < COCO_RUNS; i++) runs.push(await runNode(dir, [BIN, "metrics", "coco", "--gt", gtPath, "--dt", dtPath, "--json"]));
  const seconds = median(runs.map((r) => r.wallMs)) / 1000;
  const ours = JSON.parse(runs[0]!.stdout) as Record<string, number>;

  const references: { name: string; module: string; recorded: number; factor: number }[] = [
    { name: "pycocotools", module: "pycocotools", recorded: RECORDED.pycocotools.seconds, factor: 10 },
    { name: "faster-coco-eval", module: "faster_coco_eval", recorded: RECORDED.fasterCocoEval.seconds, factor: 3 },
  ];
  const results: BenchResult[] = [];
  // The stats pycocotools printed here, when it ran: the numbers the evaluator promises.
  let reference: number[] | null = null;
  for (const ref of references) {
    let refSeconds = ref.recorded;
    let source = `recorded on another machine (${ref.module} not installed here, so not judged)`;
    let measured = false;
    let agreement = "";
    let same = true;
    if (await pythonHas(ref.module)) {
      const run = await runPython(PYTHON_COCO(ref.module), [gtPath, dtPath]);
      if (run) {
        refSeconds = run.wallMs / 1000;
        source = "measured here";
        measured = true;
        const theirs = JSON.parse(run.stdout.trim().split("\n").pop() ?? "[]") as number[];
        if (ref.module === "pycocotools") reference = theirs;
        // "Same numbers": all twelve stats bit for bit, or the row fails whatever the speed —
        // except where this tool differs from pycocotools itself and ours is pycocotools' value
        // (faster-coco-eval's C++ accumulate rounds a last bit differently now and then).
        const differing = STAT_KEYS.filter((k, i) => ours[k] !== theirs[i]);
        const theirOwn = differing.filter((k) => reference !== null && reference[STAT_KEYS.indexOf(k)] === ours[k]);
        same = differing.length === theirOwn.length;
        const worst = Math.max(...STAT_KEYS.map((k, i) => Math.abs((ours[k] ?? NaN) - (theirs[i] ?? NaN))));
        agreement =
          differing.length === 0
            ? `; all 12 stats identical to ${ref.name}`
            : `; ${differing.join(", ")} differ from ${ref.name} (max |Δ| ${worst.toExponential(1)})` +
              (same ? `, where ${ref.name} differs from pycocotools and ours is pycocotools' value` : "");
      }
    }
    const speedup = refSeconds / seconds;
    results.push({
      name: `cold: mlops metrics coco 5000×100 vs ${ref.name}`,
      value: round(speedup, 1),
      unit: "×",
      target: `≥ ${ref.factor}×`,
      pass: measured ? speedup >= ref.factor && same : null,
      note: `ours ${seconds.toFixed(3)} s (median of ${COCO_RUNS}, fastest ${(Math.min(...runs.map((r) => r.wallMs)) / 1000).toFixed(3)} s, CPU ${round(median(runs.map((r) => r.cpuMs)))} ms, peak ${round(Math.max(...runs.map((r) => r.peakRssMb)))} MB) vs ${refSeconds.toFixed(2)} s ${source}${agreement}; AP ${ours.AP?.toFixed(4)}`,
    });
  }
  return results;
}

export const coldBench: BenchSuite = async () => {
  // Measure the compiled CLI, as an install leaves it (`prepare`), even after source edits.
  await buildCli({ log: (line) => process.stderr.write(`  ${line}\n`) });
  const dir = await mkdtemp(join(tmpdir(), "mlops-bench-cold-"));
  try {
    return [...(await benchHelp(dir)), ...(await benchNormalise(dir)), ...(await benchCoco(dir))];
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
};

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  for (const r of await coldBench()) {
    process.stdout.write(`${r.pass === null ? "N/A " : r.pass ? "PASS" : "MISS"}  ${r.name}: ${r.value} ${r.unit} (target ${r.target})${r.note ? ` — ${r.note}` : ""}\n`);
  }
}
