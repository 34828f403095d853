/**
 * What pre-labels and priority buy, simulated on the demo's scenes (`npm run bench -- active-learning`):
 *
 * - A held-out pool of POOL generated demo scenes is the unlabelled data; TEST other scenes score
 *   each model (mIoU over Clear, Cloud, Thin_Cloud, Cloud_Shadow). The demo's annotation team
 *   labels BATCH images per round; after each round the baseline trainer's model is retrained on
 *   everything labelled so far (the loop's retrain) and becomes the pre-labelling model.
 * - Labels: how many labelled images each ordering needs before the model's mIoU reaches the
 *   target — TARGET_SHARE of the mIoU a model trained on the whole pool reaches — in random order
 *   (arrival order) vs priority order (the product's score on the current model: top BATCH of the
 *   pool). Both start from the same SEED_LABELS random images; curves are the mean of REPEATS runs.
 * - Pixels: in the priority run, the valid pixels annotators must change: without pre-labels every
 *   valid pixel gets its class painted (a blank task); with one, the pixels where the current
 *   model's mask differs from the truth. The seed images have no model yet and count in full.
 *
 * Targets (issue 11): the same mIoU with ≥ 30 % fewer labels; ≥ 50 % fewer pixels edited. The
 * numbers are printed as they come out; the targets are not tuned for.
 */
import { performance } from "node:perf_hooks";
import { DEFAULT_PRIORITY_WEIGHTS } from "../shared/core/prelabel/priority.ts";
import { SeededRng, deriveSeed } from "../shared/core/training/rng.ts";
import { meanIoU, pixelsToFix, predictAndScore, prelabelOf, simImage, train, type SimImage, type TrainOptions } from "./active-learning/sim.ts";
import type { BenchResult, BenchSuite } from "./types.ts";

const SIZE = 64;
const POOL = 120;
const TEST = 40;
const SEED_LABELS = 4;
const BATCH = 4;
const MAX_LABELS = 80;
const REPEATS = 6;
/**
 * The headline target: 99 % of the full-pool mIoU. With every model trained to convergence (see
 * `training`), 4 random labels already reach ~97 % on these scenes, so a 95 % target is met by the
 * seed set in both orders and measures nothing. 95 % and 100 % are printed beside it.
 */
const TARGET_SHARE = 0.99;
const LABEL_SAVING_TARGET = 0.3;
const PIXEL_SAVING_TARGET = 0.5;
const SAMPLES_PER_IMAGE = 400;
/** The full-pool model's optimisation budget: POOL × 400 samples × 10 epochs in batches of 256. */
const STEPS = Math.ceil((POOL * SAMPLES_PER_IMAGE * 10) / 256);
/**
 * Every model gets the same number of Adam steps as the full-pool reference, however few images it
 * has, as the product's trainer gives small datasets thousands of steps (6 000 pixels per image,
 * 30 epochs). A fixed epoch count here would leave a 4-image model with 62 steps, and the curve
 * would measure the optimiser's budget rather than what the labels teach.
 */
function training(images: number): Omit<TrainOptions, "seed"> {
  return { hidden: 16, samplesPerImage: SAMPLES_PER_IMAGE, epochs: Math.max(10, Math.ceil((STEPS * 256) / (images * SAMPLES_PER_IMAGE))) };
}

type Strategy = "random" | "priority";

interface Run {
  /** mIoU after each round, by labelled count. */
  curve: Map<number, number>;
  /** Cumulative pixels edited with and without pre-labels, by labelled count (priority runs). */
  edits: Map<number, { with: number; without: number }>;
}

async function simulate(strategy: Strategy, pool: readonly SimImage[], test: readonly SimImage[], rep: number): Promise<Run> {
  const rng = new SeededRng(deriveSeed(11, `rep:${rep}`));
  const order = Array.from(rng.shuffle(Int32Array.from({ length: pool.length }, (_, k) => k)));
  const labelled = order.slice(0, SEED_LABELS);
  const remaining = new Set(order.slice(SEED_LABELS));
  const curve = new Map<number, number>();
  const edits = new Map<number, { with: number; without: number }>();
  let withPre = labelled.reduce((n, i) => n + pool[i]!.validPixels, 0);
  let without = withPre;
  edits.set(labelled.length, { with: withPre, without });
  for (;;) {
    const model = await train(labelled.map((i) => pool[i]!), { ...training(labelled.length), seed: rep + 1 });
    curve.set(labelled.length, meanIoU(model, test));
    if (labelled.length >= MAX_LABELS || remaining.size === 0) break;
    let chosen: number[];
    if (strategy === "random") {
      // Arrival order: the next BATCH of the shuffled pool.
      chosen = [...remaining].slice(0, BATCH);
    } else {
      const scored = [...remaining].map((i) => ({ i, p: predictAndScore(model, pool[i]!, DEFAULT_PRIORITY_WEIGHTS).priority }));
      scored.sort((a, b) => b.p - a.p || a.i - b.i);
      chosen = scored.slice(0, BATCH).map((s) => s.i);
    }
    for (const i of chosen) {
      remaining.delete(i);
      labelled.push(i);
      const image = pool[i]!;
      withPre += pixelsToFix(prelabelOf(model, image), image);
      without += image.validPixels;
    }
    edits.set(labelled.length, { with: withPre, without });
  }
  return { curve, edits };
}

function meanCurve(runs: readonly Run[]): Map<number, number> {
  const out = new Map<number, number>();
  for (const labels of runs[0]!.curve.keys()) out.set(labels, runs.reduce((s, r) => s + (r.curve.get(labels) ?? 0), 0) / runs.length);
  return out;
}

function labelsToReach(curve: Map<number, number>, target: number): number | null {
  for (const [labels, miou] of curve) if (miou >= target) return labels;
  return null;
}

const pct = (v: number) => `${(v * 100).toFixed(1)}`;

export const activeLearningBench: BenchSuite = async () => {
  const started = performance.now();
  const pool = Array.from({ length: POOL }, (_, k) => simImage(10_000 + k, SIZE));
  const test = Array.from({ length: TEST }, (_, k) => simImage(50_000 + k, SIZE));
  const full = meanIoU(await train(pool, { ...training(pool.length), seed: 1 }), test);
  const target = TARGET_SHARE * full;

  const runs: Record<Strategy, Run[]> = { random: [], priority: [] };
  for (let rep = 0; rep < REPEATS; rep++) {
    for (const strategy of ["random", "priority"] as const) runs[strategy].push(await simulate(strategy, pool, test, rep));
  }
  const random = meanCurve(runs.random);
  const priority = meanCurve(runs.priority);

  // The curves, for people: mIoU by labels in both orders, and cumulative pixels edited.
  const edits = new Map<number, { with: number; without: number }>();
  for (const labels of runs.priority[0]!.edits.keys()) {
    const all = runs.priority.map((r) => r.edits.get(labels)!);
    edits.set(labels, { with: all.reduce((s, e) => s + e.with, 0) / all.length, without: all.reduce((s, e) => s + e.without, 0) / all.length });
  }
  console.log(`\nactive learning: ${POOL} pool images, ${TEST} test images (${SIZE}×${SIZE}), batches of ${BATCH}, mean of ${REPEATS} runs`);
  console.log(`full-pool mIoU ${full.toFixed(3)}; target = ${TARGET_SHARE} × that = ${target.toFixed(3)}`);
  console.log(`${"labels".padStart(6)}  ${"mIoU random".padStart(11)}  ${"mIoU priority".padStart(13)}  ${"px edited, blank".padStart(16)}  ${"px edited, pre-labelled".padStart(23)}`);
  for (const labels of random.keys()) {
    const e = edits.get(labels);
    console.log(`${String(labels).padStart(6)}  ${random.get(labels)!.toFixed(3).padStart(11)}  ${(priority.get(labels)?.toFixed(3) ?? "").padStart(13)}  ${(e ? Math.round(e.without).toString() : "").padStart(16)}  ${(e ? Math.round(e.with).toString() : "").padStart(23)}`);
  }

  // The headline is TARGET_SHARE; the others show where the curves part.
  for (const share of [0.95, 0.99, 1]) {
    const goal = share * full;
    console.log(`labels to mIoU ≥ ${goal.toFixed(3)} (${share} × full pool): random ${labelsToReach(random, goal) ?? `> ${MAX_LABELS}`}, priority ${labelsToReach(priority, goal) ?? `> ${MAX_LABELS}`}`);
  }
  const needRandom = labelsToReach(random, target);
  const needPriority = labelsToReach(priority, target);
  // Each run's own count, so a one-round difference between the mean curves can be read against the runs' spread.
  const perRun = (strategy: Strategy) => runs[strategy].map((r) => labelsToReach(r.curve, target) ?? `>${MAX_LABELS}`).join(", ");
  console.log(`labels to mIoU ≥ ${target.toFixed(3)} in each run: random ${perRun("random")}; priority ${perRun("priority")}`);
  // Not reached within MAX_LABELS counts as MAX_LABELS + BATCH: a bound, said so in the note.
  const r = needRandom ?? MAX_LABELS + BATCH;
  const p = needPriority ?? MAX_LABELS + BATCH;
  const labelSaving = needPriority === null ? Number.NaN : 1 - p / r;
  const last = edits.get(Math.max(...edits.keys()))!;
  const pixelSaving = 1 - last.with / last.without;
  const seconds = (performance.now() - started) / 1000;
  const reached = (n: number | null) => (n === null ? `not reached by ${MAX_LABELS}` : `${n}`);
  const results: BenchResult[] = [
    {
      name: "active-learning labels to target mIoU, priority vs random",
      value: Number.isFinite(labelSaving) ? Number(pct(labelSaving)) : Number.NaN,
      unit: "% fewer",
      target: `≥ ${LABEL_SAVING_TARGET * 100} % fewer`,
      pass: Number.isFinite(labelSaving) && labelSaving >= LABEL_SAVING_TARGET,
      note: `mIoU ≥ ${target.toFixed(3)}: random ${reached(needRandom)}, priority ${reached(needPriority)} labels${needRandom === null && needPriority !== null ? " (a lower bound)" : ""}`,
    },
    {
      name: "active-learning pixels edited, pre-labelled vs blank",
      value: Number(pct(pixelSaving)),
      unit: "% fewer",
      target: `≥ ${PIXEL_SAVING_TARGET * 100} % fewer`,
      pass: pixelSaving >= PIXEL_SAVING_TARGET,
      note: `${Math.round(last.with)} vs ${Math.round(last.without)} px over ${Math.max(...edits.keys())} labels (priority order, per-pixel repaint); ${seconds.toFixed(0)} s`,
    },
  ];
  return results;
};
