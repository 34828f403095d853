/**
 * Detection metrics benchmarks, in-process on one core:
 * - COCO bbox evaluation (`cocoEvaluate`, zod validation included) of 5,000 images × 100
 *   detections, 80 categories, ~7 ground-truth boxes per image. Target ≤ 3 s.
 * - YOLO raw decode + class-wise NMS of one [1, 84, 8400] output (80 classes), at the evaluator's
 *   score threshold 0.001 (nearly every anchor is a candidate: the slow case). Target ≤ 2 ms median.
 * Synthetic, seeded inputs: the same numbers every run. Times are the process's CPU time
 * (user + system) around each call, so a busy machine (CI, parallel test workers) does not inflate
 * them the way wall-clock time would; wall-clock medians are in the notes.
 *
 *   node --import tsx bench/metrics.bench.ts
 */
import { performance } from "node:perf_hooks";
import { pathToFileURL } from "node:url";
import { createPrng } from "../shared/core/demo/prng.ts";
import type { Prng } from "../shared/core/demo/prng.ts";
import { cocoEvaluate } from "../shared/core/metrics/coco.ts";
import type { CocoDetectionResult, CocoGroundTruth } from "../shared/core/metrics/coco.ts";
import { decodeYoloRaw } from "../shared/core/metrics/detection.ts";
import type { BenchResult, BenchSuite } from "./types.ts";

const IMAGES = 5_000;
const CATEGORIES = 80;
const DETECTIONS_PER_IMAGE = 100;
const COCO_TARGET_S = 3;
const COCO_RUNS = 3;

const ANCHORS = 8_400;
const CLASSES = 80;
const YOLO_IMAGES = 60;
const YOLO_DISTINCT_TENSORS = 6;
const YOLO_TARGET_MS = 2;

/** CPU milliseconds this process has used so far (all threads: JIT and GC helpers included). */
function cpuMs(): number {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1000;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** A COCO-like set: GT boxes of all sizes; detections are jittered GT copies plus background noise. */
export function syntheticCoco(prng: Prng): { gt: CocoGroundTruth; dt: CocoDetectionResult[] } {
  const images: CocoGroundTruth["images"] = [];
  const annotations: CocoGroundTruth["annotations"] = [];
  const dt: CocoDetectionResult[] = [];
  let annotationId = 1;
  for (let imageId = 1; imageId <= IMAGES; imageId++) {
    images.push({ id: imageId, width: 640, height: 480 });
    const truths = 3 + prng.int(9); // 3–11, mean 7
    const boxes: { cat: number; box: [number, number, number, number] }[] = [];
    for (let g = 0; g < truths; g++) {
      const w = 8 + prng.next() ** 2 * 300;
      const h = 8 + prng.next() ** 2 * 300;
      const box: [number, number, number, number] = [prng.range(0, 640 - w), prng.range(0, 480 - h), w, h];
      const cat = 1 + prng.int(CATEGORIES);
      boxes.push({ cat, box });
      annotations.push({ id: annotationId++, image_id: imageId, category_id: cat, bbox: box, area: w * h * 0.8, iscrowd: prng.next() < 0.01 });
    }
    for (let d = 0; d < DETECTIONS_PER_IMAGE; d++) {
      if (d < boxes.length * 3) {
        const { cat, box } = boxes[d % boxes.length]!;
        // Localisation error up to ±15 % of the box size: IoUs spread over the 0.5–0.95 thresholds.
        const jitter = () => (prng.next() - 0.5) * 0.3;
        const category_id = prng.next() < 0.9 ? cat : 1 + prng.int(CATEGORIES);
        const [x, y, w, h] = box;
        const bbox: [number, number, number, number] = [x + jitter() * w, y + jitter() * h, w * (1 + jitter()), h * (1 + jitter())];
        dt.push({ image_id: imageId, category_id, bbox, score: prng.next() });
      } else {
        const w = 4 + prng.next() * 200;
        const h = 4 + prng.next() * 200;
        dt.push({ image_id: imageId, category_id: 1 + prng.int(CATEGORIES), bbox: [prng.range(0, 600), prng.range(0, 440), w, h], score: prng.next() * 0.5 });
      }
    }
  }
  const categories = Array.from({ length: CATEGORIES }, (_, i) => ({ id: i + 1, name: `class${i + 1}` }));
  return { gt: { images, annotations, categories }, dt };
}

/** A raw YOLO head: boxes in 640-pixel model space, mostly near-zero sigmoid class scores. */
export function syntheticYoloOutput(prng: Prng): Float32Array {
  const output = new Float32Array((4 + CLASSES) * ANCHORS);
  for (let a = 0; a < ANCHORS; a++) {
    output[a] = prng.range(0, 640);
    output[ANCHORS + a] = prng.range(0, 640);
    output[2 * ANCHORS + a] = prng.range(4, 200);
    output[3 * ANCHORS + a] = prng.range(4, 200);
  }
  for (let i = 4 * ANCHORS; i < output.length; i++) output[i] = prng.next() ** 6 * 0.05;
  // A few confident anchors, as around real objects.
  for (let k = 0; k < 300; k++) output[(4 + prng.int(CLASSES)) * ANCHORS + prng.int(ANCHORS)] = 0.3 + prng.next() * 0.7;
  return output;
}

function benchCoco(): BenchResult {
  const { gt, dt } = syntheticCoco(createPrng(20_261_124));
  const cpuSeconds: number[] = [];
  const wallSeconds: number[] = [];
  let ap = 0;
  for (let run = 0; run <= COCO_RUNS; run++) {
    const cpuStart = cpuMs();
    const wallStart = performance.now();
    ap = cocoEvaluate(gt, dt).stats.AP;
    if (run === 0) continue; // warms up the JIT
    cpuSeconds.push((cpuMs() - cpuStart) / 1000);
    wallSeconds.push((performance.now() - wallStart) / 1000);
  }
  const seconds = median(cpuSeconds);
  return {
    name: `COCO bbox eval, ${IMAGES} images × ${DETECTIONS_PER_IMAGE} detections, ${CATEGORIES} categories`,
    value: Number(seconds.toFixed(3)),
    unit: "s",
    target: `≤ ${COCO_TARGET_S} s`,
    pass: seconds <= COCO_TARGET_S,
    note: `CPU time, median of ${COCO_RUNS} after a warm-up (wall ${median(wallSeconds).toFixed(3)} s), validation included; ${dt.length} detections, ${gt.annotations.length} GT, AP ${ap.toFixed(3)}`,
  };
}

function benchYolo(): BenchResult {
  const prng = createPrng(8_400);
  const tensors = Array.from({ length: YOLO_DISTINCT_TENSORS }, () => syntheticYoloOutput(prng));
  const options = { scoreThreshold: 0.001, iouThreshold: 0.7, maxDetections: 300 };
  const dims: [number, number, number] = [1, 4 + CLASSES, ANCHORS];
  for (const tensor of tensors) decodeYoloRaw(tensor, dims, options); // warm-up
  const cpuTimes: number[] = [];
  const wallTimes: number[] = [];
  let kept = 0;
  for (let i = 0; i < YOLO_IMAGES; i++) {
    const cpuStart = cpuMs();
    const wallStart = performance.now();
    kept = decodeYoloRaw(tensors[i % tensors.length]!, dims, options)[0]!.length;
    cpuTimes.push(cpuMs() - cpuStart);
    wallTimes.push(performance.now() - wallStart);
  }
  const ms = median(cpuTimes);
  return {
    name: `YOLO decode + NMS, ${ANCHORS} anchors × ${CLASSES} classes`,
    value: Number(ms.toFixed(3)),
    unit: "ms/image",
    target: `≤ ${YOLO_TARGET_MS} ms`,
    pass: ms <= YOLO_TARGET_MS,
    note: `CPU time, median over ${YOLO_IMAGES} images (wall ${median(wallTimes).toFixed(3)} ms); score ≥ 0.001, NMS IoU 0.7, ${kept} kept (max 300)`,
  };
}

export const metricsBench: BenchSuite = async () => [benchCoco(), benchYolo()];

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  for (const r of await metricsBench()) {
    process.stdout.write(`${r.pass ? "PASS" : "MISS"}  ${r.name}: ${r.value} ${r.unit} (target ${r.target})${r.note ? ` — ${r.note}` : ""}\n`);
  }
}
