/**
 * Segmentation evaluation throughput on CPU: a 4-band per-pixel model (1×1 conv MLP 4 → 16 → 6,
 * the baseline trainer's shape, built with the ONNX builder and run by onnxruntime-node) scored by
 * the evaluator on in-memory product scenes: tiling, input tensors, inference, argmax, class
 * mapping and confusion accumulation, ground-truth rasterisation included; PNG decoding excluded
 * (that is the codec's cost, not the evaluator's). Target ≥ 20 Mpixel/s.
 *
 * Also reported on its own: the metric hot loop (confusion accumulation of labels), which has to
 * be far faster than inference for the target above to be reachable.
 *
 *   node --import tsx bench/segmentation.bench.ts
 */
import { performance } from "node:perf_hooks";
import { pathToFileURL } from "node:url";
import { OnnxGraph } from "../shared/adapters/onnx/onnx-builder.ts";
import { loadModel } from "../shared/adapters/onnx/runtime.ts";
import type { CanonicalObject } from "../shared/core/annotation/canonical.ts";
import { scoreModels, type SampleOrSkip } from "../shared/core/evaluation/evaluate.ts";
import type { EvaluationSample } from "../shared/core/evaluation/types.ts";
import { accumulateLabels, createSegmentationConfusion } from "../shared/core/metrics/segmentation.ts";
import { ModelCardSchema } from "../shared/core/models/model-card.ts";
import type { DecodedRaster } from "../shared/ports.ts";
import type { BenchResult, BenchSuite } from "./types.ts";

const CLASSES = ["background", "land", "water", "thick_cloud", "thin_cloud", "cloud_shadow"];
const SIZE = 2048;
const SCENES = 3;
const HIDDEN = 16;
const TARGET_MPX = 20;
const ACCUMULATE_TARGET_MPX = 200;

/** Deterministic pseudo-random numbers (a 32-bit LCG) so every run scores the same data. */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

function mlpModel(): { bytes: Uint8Array; card: ReturnType<typeof ModelCardSchema.parse> } {
  const rand = lcg(7);
  const w1 = Float32Array.from({ length: HIDDEN * 4 }, () => rand() * 2 - 1);
  const w2 = Float32Array.from({ length: CLASSES.length * HIDDEN }, () => rand() * 2 - 1);
  const g = new OnnxGraph("bench-mlp");
  g.addInput("input", "float32", ["N", 4, "H", "W"]);
  g.addInitializer("w1", w1, [HIDDEN, 4, 1, 1]);
  g.addInitializer("b1", new Float32Array(HIDDEN), [HIDDEN]);
  g.addInitializer("w2", w2, [CLASSES.length, HIDDEN, 1, 1]);
  g.addInitializer("b2", new Float32Array(CLASSES.length), [CLASSES.length]);
  g.addNode("Conv", ["input", "w1", "b1"], ["h"]);
  g.addNode("Relu", ["h"], ["hr"]);
  g.addNode("Conv", ["hr", "w2", "b2"], ["logits"]);
  g.addOutput("logits", "float32", ["N", CLASSES.length, "H", "W"]);
  const card = ModelCardSchema.parse({
    name: "bench-mlp", task: "segmentation", classes: CLASSES,
    input: { name: "input", layout: "NCHW", height: null, width: null, channels: ["red", "green", "blue", "nir"] },
    output: { name: "logits", format: "logits" },
  });
  return { bytes: g.toBytes(), card };
}

function scene(index: number): EvaluationSample {
  const rand = lcg(100 + index);
  const pixels = SIZE * SIZE;
  const rgb: DecodedRaster = { width: SIZE, height: SIZE, channels: 3, data: new Uint8Array(pixels * 3) };
  const nir: DecodedRaster = { width: SIZE, height: SIZE, channels: 1, data: new Uint8Array(pixels) };
  for (let i = 0; i < rgb.data.length; i++) rgb.data[i] = (rand() * 256) | 0;
  for (let i = 0; i < pixels; i++) nir.data[i] = (rand() * 256) | 0;
  // Nodata border: the left 64 columns.
  const nodata: DecodedRaster = { width: SIZE, height: SIZE, channels: 1, data: new Uint8Array(pixels) };
  for (let y = 0; y < SIZE; y++) nodata.data.fill(255, y * SIZE, y * SIZE + 64);
  const objects: CanonicalObject[] = Array.from({ length: 40 }, (_, i) => {
    const classId = 1 + (i % (CLASSES.length - 1));
    const x = rand() * SIZE * 0.8;
    const y = rand() * SIZE * 0.8;
    const r = 50 + rand() * 200;
    return { id: `o${i}`, kind: "polygon", classId, className: CLASSES[classId]!, polygon: [[x, y, x + r, y, x + r * 0.8, y + r, x, y + r * 0.6]] };
  });
  return {
    itemId: `scene-${index}`,
    images: { rgb, nir },
    nodata,
    annotation: {
      schema: "canonical-annotation/v1", itemId: `scene-${index}`, image: { width: SIZE, height: SIZE }, objects, classifications: [],
      provenance: { backend: "bench", labelId: `l${index}`, annotator: null, editedAt: "2026-01-01T00:00:00Z" },
    },
  };
}

async function* samples(list: EvaluationSample[]): AsyncGenerator<SampleOrSkip> {
  for (const sample of list) yield { kind: "sample", sample };
}

export const segmentationBench: BenchSuite = async () => {
  const scenes = Array.from({ length: SCENES }, (_, i) => scene(i));
  const model = mlpModel();
  const runner = await loadModel({ modelBytes: model.bytes, card: model.card });
  const results: BenchResult[] = [];
  try {
    const run = () => scoreModels({
      task: "segmentation", datasetClasses: CLASSES, samples: samples(scenes), options: { now: () => performance.now() },
      models: [{ role: "candidate", modelId: "bench", uri: "bench", runner, selfReported: null }],
    });
    await scoreModels({
      task: "segmentation", datasetClasses: CLASSES, samples: samples([scenes[0]!]),
      models: [{ role: "candidate", modelId: "bench", uri: "bench", runner, selfReported: null }],
    });
    const cpuBefore = process.cpuUsage();
    const start = performance.now();
    const scored = await run();
    const seconds = (performance.now() - start) / 1000;
    // CPU time of every thread of the process: a load-independent figure on a shared machine.
    const cpu = process.cpuUsage(cpuBefore);
    const cpuSeconds = (cpu.user + cpu.system) / 1e6;
    const mpx = (SCENES * SIZE * SIZE) / seconds / 1e6;
    const inferenceShare = scored.scores[0]!.timings.inferenceMs / (seconds * 1000);
    results.push({
      name: "segmentation evaluation (4-band MLP, CPU)",
      value: Number(mpx.toFixed(1)),
      unit: "Mpixel/s",
      target: `≥ ${TARGET_MPX} Mpixel/s`,
      pass: mpx >= TARGET_MPX,
      note: `${SCENES} scenes of ${SIZE}×${SIZE}, 256×256 tiles; ${(inferenceShare * 100).toFixed(0)} % of the time in onnxruntime; ` +
        `${((SCENES * SIZE * SIZE) / cpuSeconds / 1e6).toFixed(1)} Mpixel per CPU-second`,
    });
  } finally {
    await runner.release();
  }

  // The metric hot loop alone: 16 Mpx of labels against ground truth with 5 % ignored pixels.
  const n = 16 * 1024 * 1024;
  const rand = lcg(3);
  const gt = new Uint8Array(n);
  const pred = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    gt[i] = rand() < 0.05 ? 255 : (rand() * CLASSES.length) | 0;
    pred[i] = (rand() * CLASSES.length) | 0;
  }
  const cm = createSegmentationConfusion(CLASSES.length);
  accumulateLabels(cm, gt, pred, { ignoreIndex: 255 });
  const t0 = performance.now();
  for (let r = 0; r < 3; r++) accumulateLabels(cm, gt, pred, { ignoreIndex: 255 });
  const accMpx = (3 * n) / ((performance.now() - t0) / 1000) / 1e6;
  results.push({
    name: "segmentation confusion accumulation",
    value: Number(accMpx.toFixed(0)),
    unit: "Mpixel/s",
    target: `≥ ${ACCUMULATE_TARGET_MPX} Mpixel/s`,
    pass: accMpx >= ACCUMULATE_TARGET_MPX,
  });
  return results;
};

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  for (const r of await segmentationBench()) console.log(`${r.name}: ${r.value} ${r.unit} (target ${r.target}) ${r.pass ? "ok" : "MISSED"}${r.note ? ` — ${r.note}` : ""}`);
}
