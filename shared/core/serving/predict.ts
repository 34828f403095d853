import { PermanentError } from "../../errors.ts";
import { expectDims } from "../evaluation/segmentation.ts";
import { allocateInput, inputDims, inputEncoding, selectBands, writeTile } from "../evaluation/tensor.ts";
import { planTiles } from "../evaluation/tiling.ts";
import type { ItemImages, ModelRunner } from "../evaluation/types.ts";
import { confidenceInto, meanConfidence, type Confidence } from "../prelabel/priority.ts";

/**
 * Prediction over one image for the `serve` service: the same band selection, input encoding and
 * tiling as the evaluator (shared/core/evaluation), so a served model sees exactly the input it was
 * scored on. Segmentation only: the answer is a class-id raster at the image's size.
 */

/** Mask value of pixels the source marked nodata (the model card's default ignore index). */
export const MASK_NODATA = 255;

export interface PredictOptions {
  /** Edge of the square tiles a fully convolutional model sees (default 512). */
  tileSize?: number;
  /** Tiles are padded up to a multiple of this (default 32). */
  tileMultiple?: number;
  /** 8-bit nodata mask (non-zero = nodata) at the image's size; those pixels get MASK_NODATA. */
  nodata?: { data: Uint8Array; channels: number } | null;
  /**
   * Also measure the softmax's confidence (mean normalised entropy and margin over valid pixels):
   * pre-labelling's uncertainty. Needs the model's logits (load it without the fused argmax).
   */
  confidence?: boolean;
}

export interface Prediction {
  width: number;
  height: number;
  classes: string[];
  /** Class id per pixel, row-major; MASK_NODATA where the source had nodata. */
  mask: Uint8Array;
  /** Share of the valid (not nodata) pixels predicted as each class; all 0 when none is valid. */
  classFractions: Record<string, number>;
  validPixels: number;
  /** With `confidence`: the softmax's confidence; null when the model answers labels, not logits. */
  confidence?: Confidence | null;
}

export async function predictImage(runner: ModelRunner, images: ItemImages, options: PredictOptions = {}): Promise<Prediction> {
  const card = runner.card;
  if (card.task !== "segmentation") {
    throw new PermanentError("unsupported_task", `serving answers segmentation masks; model "${card.name}" is a ${card.task} model`);
  }
  const classes = card.classes.length;
  if (classes >= MASK_NODATA) throw new PermanentError("too_many_classes", `an 8-bit mask holds at most ${MASK_NODATA - 1} classes; the model has ${classes}`);
  const bands = selectBands(images, card.input.channels, "upload");
  const { width, height } = bands;
  const encoding = inputEncoding(card);
  const mask = new Uint8Array(width * height);
  const measure = options.confidence === true && card.output.format === "logits";
  const entropy = measure ? new Float32Array(width * height) : null;
  const margin = measure ? new Float32Array(width * height) : null;
  const tiles = planTiles(width, height, card.input, { tileSize: options.tileSize ?? 512, tileMultiple: options.tileMultiple ?? 32 });
  for (const tile of tiles) {
    const { region, inputWidth: w, inputHeight: h } = tile;
    const tensor = allocateInput(encoding, 1, h, w);
    writeTile(tensor, 0, encoding, h, w, bands, region);
    const output = await runner.run(tensor, inputDims(encoding, 1, h, w));
    if (card.output.format === "logits") {
      expectDims(output, [1, classes, h, w], "[N,C,H,W]", card.output.name);
      if (!(output.data instanceof Float32Array)) throw new PermanentError("bad_model_output", `logits output "${card.output.name}" is not float`);
      argmaxInto(mask, width, region, output.data, classes, w, h);
      if (entropy && margin) confidenceInto(entropy, margin, width, region, output.data, classes, w, h);
    } else {
      expectDims(output, [1, h, w], "[N,H,W]", card.output.name);
      if (!(output.data instanceof Int32Array)) throw new PermanentError("bad_model_output", `labels output "${card.output.name}" is not integer`);
      copyLabelsInto(mask, width, region, output.data, w, classes);
    }
  }
  const nodata = options.nodata ?? null;
  if (nodata) {
    if (nodata.data.length < width * height * nodata.channels) throw new PermanentError("image_size_mismatch", "the nodata mask is smaller than the image");
    for (let i = 0; i < width * height; i++) if (nodata.data[i * nodata.channels] !== 0) mask[i] = MASK_NODATA;
  }
  const { fractions, valid } = classFractions(mask, card.classes);
  const prediction: Prediction = { width, height, classes: [...card.classes], mask, classFractions: fractions, validPixels: valid };
  if (options.confidence) prediction.confidence = entropy && margin ? meanConfidence(entropy, margin, mask, classes) : null;
  return prediction;
}

/**
 * Per-pixel argmax over C logit planes of a `w`-wide tile, written into `region` of the mask.
 * NaN never wins (`v > best` is false for NaN, as for −∞); when every logit is NaN or −∞ the first
 * class wins, as in the evaluator's `accumulateLogitsRegion` and the fused ONNX argmax.
 */
export function argmaxInto(mask: Uint8Array, maskWidth: number, region: { x: number; y: number; width: number; height: number }, logits: Float32Array, classes: number, w: number, h: number): void {
  const plane = w * h;
  for (let y = 0; y < region.height; y++) {
    const outRow = (region.y + y) * maskWidth + region.x;
    for (let x = 0; x < region.width; x++) {
      const p = y * w + x;
      let best = -Infinity;
      let arg = 0;
      for (let c = 0; c < classes; c++) {
        const v = logits[c * plane + p]!;
        if (v > best) {
          best = v;
          arg = c;
        }
      }
      mask[outRow + x] = arg;
    }
  }
}

function copyLabelsInto(mask: Uint8Array, maskWidth: number, region: { x: number; y: number; width: number; height: number }, labels: Int32Array, w: number, classes: number): void {
  for (let y = 0; y < region.height; y++) {
    const outRow = (region.y + y) * maskWidth + region.x;
    for (let x = 0; x < region.width; x++) {
      const v = labels[y * w + x]!;
      // A label the model should not emit is not a class: it is reported as nodata, not clipped.
      mask[outRow + x] = v >= 0 && v < classes ? v : MASK_NODATA;
    }
  }
}

/** Fraction of non-nodata pixels per class name. */
export function classFractions(mask: Uint8Array, classes: readonly string[]): { fractions: Record<string, number>; valid: number } {
  const counts = new Float64Array(classes.length);
  let valid = 0;
  for (let i = 0; i < mask.length; i++) {
    const v = mask[i]!;
    if (v < classes.length) {
      counts[v]! += 1;
      valid++;
    }
  }
  const fractions: Record<string, number> = {};
  classes.forEach((name, c) => {
    fractions[name] = valid === 0 ? 0 : counts[c]! / valid;
  });
  return { fractions, valid };
}
