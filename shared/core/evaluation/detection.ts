import { PermanentError } from "../../errors.ts";
import { maskArea, maskBounds, polygonBounds, polygonRingsArea } from "../annotation/rasterise.ts";
import { cocoEvaluate, type CocoDetectionResult, type CocoGtAnnotation } from "../metrics/coco.ts";
import { FixedSizeBatcher, timingsOf, type InferenceClock } from "./batcher.ts";
import { classMapByName, knownDatasetIds } from "./classes.ts";
import { decodeDetections } from "./detection-decode.ts";
import { letterbox, type Letterbox } from "../metrics/letterbox.ts";
import { inputEncoding, placementOf, selectBands, writeResampled } from "./tensor.ts";
import type { EvaluationSample, ModelOutput, ModelScores, ModelUnderTest, Stopwatch, TaskEvaluator } from "./types.ts";

/** One ground-truth box in COCO terms (bbox x, y, w, h in image pixels). */
export interface TruthBox {
  bbox: [number, number, number, number];
  area: number;
  classId: number;
  iscrowd: boolean;
}

export interface DetectionTruth {
  /** COCO image id of this sample (1-based, unique within the evaluation). */
  imageId: number;
  width: number;
  height: number;
  boxes: TruthBox[];
}

/**
 * COCO ground truth from canonical objects: boxes as drawn (area w·h), polygons by their point
 * bounds (area by the shoelace rule, holes subtracted) and masks by their pixel bounds (area =
 * pixel count), as COCO's own annotation files define area. Objects of unknown class are dropped.
 */
export function detectionTruth(sample: EvaluationSample, numClasses: number, imageId: number): DetectionTruth {
  const { width, height } = sample.annotation.image;
  const boxes: TruthBox[] = [];
  for (const object of sample.annotation.objects) {
    if (object.classId === null) continue;
    if (object.classId >= numClasses) {
      throw new PermanentError("unknown_class", `item ${sample.itemId}: object ${object.id} has class id ${object.classId}, but the dataset has ${numClasses} classes`);
    }
    const iscrowd = object.iscrowd === true;
    switch (object.kind) {
      case "box":
        boxes.push({ bbox: [object.box.x, object.box.y, object.box.w, object.box.h], area: object.box.w * object.box.h, classId: object.classId, iscrowd });
        break;
      case "polygon":
        boxes.push({ bbox: polygonBounds(object.polygon), area: polygonRingsArea(object.polygon), classId: object.classId, iscrowd });
        break;
      case "mask":
        boxes.push({ bbox: maskBounds(object.mask.counts, width), area: maskArea(object.mask.counts), classId: object.classId, iscrowd });
        break;
    }
  }
  return { imageId, width, height, boxes };
}

interface DetectionJob {
  truth: DetectionTruth;
  lb: Letterbox;
}

/**
 * Scores one detector: letterbox each image to the card's size (batched), decode the output
 * (raw YOLO with our NMS, or the model's own post-NMS rows), map boxes back through the letterbox,
 * map classes to dataset classes by name, and run pycocotools-exact COCOeval over the split.
 */
export function createDetectionEvaluator(
  model: ModelUnderTest,
  datasetClasses: readonly string[],
  options: { batchSize: number; now: Stopwatch },
): TaskEvaluator<DetectionTruth> {
  const card = model.runner.card;
  if (card.input.width === null || card.input.height === null) {
    throw new PermanentError("invalid_model_card", `detection model "${card.name}" needs a fixed input size`);
  }
  const encoding = inputEncoding(card);
  const classMap = classMapByName(card.classes, datasetClasses);
  const clock: InferenceClock = { inferenceMs: 0, calls: 0 };
  const { now } = options;
  const images: { id: number; width: number; height: number }[] = [];
  const groundTruth: CocoGtAnnotation[] = [];
  const detections: CocoDetectionResult[] = [];
  const support = new Float64Array(datasetClasses.length);
  let totalMs = 0;
  let items = 0;
  let pixels = 0;

  const consume = (job: DetectionJob, output: ModelOutput, slot: number): void => {
    const { truth, lb } = job;
    for (const d of decodeDetections(card, output, slot, lb)) {
      const id = classMap[d.classIndex] ?? -1;
      // A class the dataset does not know has no ground truth: COCOeval would ignore it anyway.
      if (id < 0) continue;
      detections.push({ image_id: truth.imageId, category_id: id + 1, bbox: d.bbox, score: d.score });
    }
  };

  const batcher = new FixedSizeBatcher<DetectionJob>(
    model.runner, encoding, card.input.height, card.input.width,
    Math.max(1, Math.min(options.batchSize, model.runner.maxBatch)), consume, clock, now,
  );

  return {
    async add(sample, truth) {
      const start = now();
      const bands = selectBands(sample.images, card.input.channels, sample.itemId);
      if (bands.width !== truth.width || bands.height !== truth.height) {
        throw new PermanentError("image_size_mismatch", `item ${sample.itemId}: image is ${bands.width}×${bands.height} but its label is ${truth.width}×${truth.height}`);
      }
      images.push({ id: truth.imageId, width: truth.width, height: truth.height });
      for (const b of truth.boxes) {
        groundTruth.push({ id: groundTruth.length + 1, image_id: truth.imageId, category_id: b.classId + 1, bbox: b.bbox, area: b.area, iscrowd: b.iscrowd ? 1 : 0 });
        if (!b.iscrowd) support[b.classId]! += 1;
      }
      const lb = letterbox({ srcWidth: bands.width, srcHeight: bands.height, dstWidth: batcher.inputWidth, dstHeight: batcher.inputHeight });
      const placement = placementOf(lb);
      await batcher.add({ truth, lb }, (tensor, slot) =>
        writeResampled(tensor, slot, encoding, batcher.inputHeight, batcher.inputWidth, bands, placement, card.input.letterboxPad));
      items += 1;
      pixels += truth.width * truth.height;
      totalMs += now() - start;
    },

    async finish() {
      const start = now();
      await batcher.flush();
      // Categories are the model's classes the dataset knows: AP is averaged over what it can detect.
      const known = knownDatasetIds(classMap);
      const coco = cocoEvaluate(
        { images, annotations: groundTruth, categories: known.map((id) => ({ id: id + 1, name: datasetClasses[id]! })) },
        detections,
      );
      totalMs += now() - start;
      const defined = (v: number) => (v < 0 ? null : v);
      const byCategory = new Map(coco.perClass.map((p) => [p.categoryId, p] as const));
      const s = coco.stats;
      return {
        primaryMetric: { name: "AP", value: defined(s.AP) },
        metrics: {
          AP: defined(s.AP), AP50: defined(s.AP50), AP75: defined(s.AP75), APs: defined(s.APs), APm: defined(s.APm), APl: defined(s.APl),
          AR1: defined(s.AR1), AR10: defined(s.AR10), AR100: defined(s.AR100),
        },
        perClassMetric: "AP",
        perClass: card.classes.map((className, i) => {
          const id = classMap[i]!;
          const p = id >= 0 ? byCategory.get(id + 1) : undefined;
          return {
            className,
            support: id >= 0 ? support[id]! : 0,
            value: p ? defined(p.AP) : null,
            metrics: { AP: p ? defined(p.AP) : null, AP50: p ? defined(p.AP50) : null, AP75: p ? defined(p.AP75) : null, recall: p ? defined(p.AR100) : null },
          };
        }),
        confusion: null,
        timings: timingsOf(clock, totalMs, items, pixels),
      } satisfies ModelScores;
    },
  };
}
