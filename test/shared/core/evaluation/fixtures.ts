import type { CanonicalAnnotation, CanonicalObject } from "../../../../shared/core/annotation/canonical.ts";
import type { SampleOrSkip } from "../../../../shared/core/evaluation/evaluate.ts";
import type { EvaluationSample, ModelUnderTest } from "../../../../shared/core/evaluation/types.ts";
import type { ModelCard } from "../../../../shared/core/models/model-card.ts";
import { loadModel, type LoadedModel } from "../../../../shared/adapters/onnx/runtime.ts";
import type { DecodedRaster } from "../../../../shared/ports.ts";

/** Shared test data for the evaluator: small rasters, annotations and loaded models. */

export function raster(width: number, height: number, channels: number, fill: (x: number, y: number, c: number) => number): DecodedRaster {
  const data = new Uint8Array(width * height * channels);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) for (let c = 0; c < channels; c++) data[(y * width + x) * channels + c] = fill(x, y, c);
  return { width, height, channels, data };
}

export function annotation(itemId: string, width: number, height: number, objects: CanonicalObject[] = [], classifications: CanonicalAnnotation["classifications"] = []): CanonicalAnnotation {
  return {
    schema: "canonical-annotation/v1",
    itemId,
    image: { width, height },
    objects,
    classifications,
    provenance: { backend: "local", labelId: `label-${itemId}`, annotator: null, editedAt: "2026-01-01T00:00:00Z" },
  };
}

export function box(id: string, classId: number, className: string, x: number, y: number, w: number, h: number): CanonicalObject {
  return { id, kind: "box", classId, className, box: { x, y, w, h } };
}

export async function* samplesOf(samples: EvaluationSample[]): AsyncGenerator<SampleOrSkip> {
  for (const sample of samples) yield { kind: "sample", sample };
}

const loaded: LoadedModel[] = [];

export async function underTest(role: "candidate" | "champion", model: { bytes: Uint8Array; card: ModelCard }, selfReported: Record<string, unknown> | null = null): Promise<ModelUnderTest> {
  const runner = await loadModel({ modelBytes: model.bytes, card: model.card });
  loaded.push(runner);
  return { role, modelId: `${role}-id`, uri: `gs://models/${role}/`, runner, selfReported };
}

export async function releaseModels(): Promise<void> {
  for (const m of loaded.splice(0)) await m.release();
}

/**
 * The segmentation scene used across tests: a 4×2 image whose red channel is
 * row 0 [0, 200, 200, 0], row 1 [255, 255, 0, 0]; ground truth "cloud" (class 1) at (1,0), (2,0)
 * and (0,1); pixel (3,1) is nodata.
 *
 * The cloud model predicts cloud where red/255 > 0.5: row 0 [0,1,1,0], row 1 [1,1,0,0].
 * Confusion (rows GT, cols pred, nodata skipped): [[3,1],[0,3]] → IoU 0.75 and 0.75,
 * mIoU 0.75, pixel accuracy 6/7, support 4 and 3.
 */
export const SCENE_RED = [0, 200, 200, 0, 255, 255, 0, 0];

export function sceneSample(itemId = "scene-1", kind: "image" | "product" = "image"): EvaluationSample {
  const red = (x: number, y: number) => SCENE_RED[y * 4 + x]!;
  const images = kind === "image"
    ? { image: raster(4, 2, 3, (x, y, c) => (c === 0 ? red(x, y) : 0)) }
    : { rgb: raster(4, 2, 3, () => 0), nir: raster(4, 2, 1, (x, y) => red(x, y)) };
  return {
    itemId,
    images,
    annotation: annotation(itemId, 4, 2, [box("a", 1, "cloud", 1, 0, 2, 1), box("b", 1, "cloud", 0, 1, 1, 1)]),
    nodata: raster(4, 2, 1, (x, y) => (x === 3 && y === 1 ? 255 : 0)),
  };
}

/** Cloud where red/255 > 0.5: logits background = 0.5 − r, cloud = r − 0.5. */
export const CLOUD_BY_RED = { classes: ["background", "cloud"], weights: [-1, 0, 0, 1, 0, 0], bias: [0.5, -0.5] };
