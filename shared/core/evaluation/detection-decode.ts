import { PermanentError } from "../../errors.ts";
import { decodeYoloRaw, parseNmsOutput, type Detection } from "../metrics/detection.ts";
import { unletterboxBox, type Letterbox } from "../metrics/letterbox.ts";
import type { ModelCard } from "../models/model-card.ts";
import { expectDims } from "./segmentation.ts";
import type { ModelOutput } from "./types.ts";

/** A detection in original image pixels, COCO style ([x, y, w, h]). */
export interface DecodedBox {
  bbox: [number, number, number, number];
  score: number;
  /** Index into the model's classes. */
  classIndex: number;
}

/**
 * Decodes batch slot `slot` of a detector's output into boxes in source-image pixels: raw YOLO
 * heads are decoded and NMS'd with the card's thresholds, post-NMS rows are read as they are;
 * either way boxes are mapped back through the letterbox and clipped to the image.
 */
export function decodeDetections(card: ModelCard, output: ModelOutput, slot: number, lb: Letterbox): DecodedBox[] {
  if (!(output.data instanceof Float32Array)) throw new PermanentError("bad_model_output", `detection output "${card.output.name}" is not float`);
  const { scoreThreshold, nmsIou, maxDetections } = card.output;
  let detections: Detection[];
  if (card.output.format === "yolo_raw") {
    expectDims(output, [null, 4 + card.classes.length, null], "[N,4+C,A]", card.output.name);
    const [, rows, anchors] = output.dims as [number, number, number];
    const one = output.data.subarray(slot * rows * anchors, (slot + 1) * rows * anchors);
    detections = decodeYoloRaw(one, [1, rows, anchors], { scoreThreshold, iouThreshold: nmsIou, maxDetections })[0] ?? [];
  } else if (card.output.format === "nms") {
    expectDims(output, [null, null, 6], "[N,K,6]", card.output.name);
    const k = output.dims[1]!;
    const one = output.data.subarray(slot * k * 6, (slot + 1) * k * 6);
    detections = (parseNmsOutput(one, [1, k, 6], { scoreThreshold })[0] ?? []).slice(0, maxDetections);
  } else {
    throw new PermanentError("bad_model_card", `detection models output yolo_raw or nms, not ${card.output.format}`);
  }
  return detections.map((d) => {
    const b = unletterboxBox(d, lb);
    return { bbox: [b.x1, b.y1, Math.max(0, b.x2 - b.x1), Math.max(0, b.y2 - b.y1)], score: d.score, classIndex: d.classId };
  });
}
