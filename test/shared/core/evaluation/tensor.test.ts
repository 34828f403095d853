import { describe, expect, it } from "vitest";
import {
  allocateInput, inputDims, inputEncoding, letterboxPlacement, selectBands, writeResampled, writeTile,
} from "../../../../shared/core/evaluation/tensor.ts";
import { gridRegions, planTiles } from "../../../../shared/core/evaluation/tiling.ts";
import { ModelCardSchema, type ModelCard } from "../../../../shared/core/models/model-card.ts";
import { raster } from "./fixtures.ts";

function card(input: Record<string, unknown>): ModelCard {
  return ModelCardSchema.parse({
    name: "m", task: "segmentation", classes: ["a"],
    input: { name: "input", layout: "NCHW", height: null, width: null, channels: ["red", "nir"], ...input },
    output: { name: "out", format: "logits" },
  });
}

// A 2×1 product: RGB pixels (10, 20, 30) and (40, 50, 60); NIR 100 and 200.
const product = { rgb: raster(2, 1, 3, (x, _y, c) => 10 * (c + 1) + 30 * x), nir: raster(2, 1, 1, (x) => 100 * (x + 1)) };

describe("input tensors", () => {
  it("normalises (pixel · scale − mean) / std per channel in NCHW", () => {
    const c = card({ normalisation: { scale: 0.01, mean: [0.1, 1], std: [0.5, 2] } });
    const enc = inputEncoding(c);
    const bands = selectBands(product, c.input.channels, "p");
    const t = allocateInput(enc, 1, 1, 3);
    writeTile(t, 0, enc, 1, 3, bands, { x: 0, y: 0, width: 2, height: 1 });
    // red: (10·0.01 − 0.1)/0.5 = 0, (40·0.01 − 0.1)/0.5 = 0.6; pad pixel 0 → −0.2.
    // nir: (100·0.01 − 1)/2 = 0, (200·0.01 − 1)/2 = 0.5; pad → −0.5.
    const expected = [0, 0.6, -0.2, 0, 0.5, -0.5];
    Array.from(t).forEach((v, i) => expect(v).toBeCloseTo(expected[i]!, 6));
    expect(inputDims(enc, 1, 1, 3)).toEqual([1, 2, 1, 3]);
  });

  it("interleaves channels for NHWC and passes raw samples for uint8 inputs", () => {
    const c = card({ layout: "NHWC", dtype: "uint8" });
    const enc = inputEncoding(c);
    const t = allocateInput(enc, 2, 1, 2);
    expect(t).toBeInstanceOf(Uint8Array);
    writeTile(t, 1, enc, 1, 2, selectBands(product, c.input.channels, "p"), { x: 0, y: 0, width: 2, height: 1 });
    // Slot 0 untouched; slot 1 = (red, nir) per pixel.
    expect(Array.from(t)).toEqual([0, 0, 0, 0, 10, 100, 40, 200]);
    expect(inputDims(enc, 2, 1, 2)).toEqual([2, 1, 2, 2]);
  });

  it("reads red, green and blue from a plain grey image as the same plane", () => {
    const grey = { image: raster(1, 1, 1, () => 77) };
    const bands = selectBands(grey, ["red", "green", "blue"], "g");
    expect(bands.planes.map((p) => p.data[p.offset])).toEqual([77, 77, 77]);
  });

  it("refuses bands of different sizes", () => {
    expect(() => selectBands({ rgb: raster(2, 1, 3, () => 0), nir: raster(1, 1, 1, () => 0) }, ["red", "nir"], "x")).toThrow(/band "nir" is 1×1, other bands are 2×1/);
  });

  it("letterboxes: resizes keeping the aspect and pads with the pad value", () => {
    // 4×2 image into 2×2: scale 0.5 → 2×1 image, padded 0 rows above (floor of 1/2) and 1 below.
    const placement = letterboxPlacement(4, 2, 2, 2);
    expect(placement).toEqual({ scale: 0.5, left: 0, top: 0, width: 2, height: 1 });
    const c = card({ channels: ["red"], dtype: "uint8" });
    const enc = inputEncoding(c);
    // Red columns 0, 100, 200, 250 in both rows: each output pixel averages a 2×2 block.
    const bands = selectBands({ image: raster(4, 2, 3, (x, _y, ch) => (ch === 0 ? [0, 100, 200, 250][x]! : 0)) }, ["red"], "i");
    const t = allocateInput(enc, 1, 2, 2);
    writeResampled(t, 0, enc, 2, 2, bands, placement, 114);
    expect(Array.from(t)).toEqual([50, 225, 114, 114]);
  });
});

describe("tiling", () => {
  it("covers the image with tiles, the last ones smaller", () => {
    expect(gridRegions(5, 3, 2, 2)).toEqual([
      { x: 0, y: 0, width: 2, height: 2 }, { x: 2, y: 0, width: 2, height: 2 }, { x: 4, y: 0, width: 1, height: 2 },
      { x: 0, y: 2, width: 2, height: 1 }, { x: 2, y: 2, width: 2, height: 1 }, { x: 4, y: 2, width: 1, height: 1 },
    ]);
  });

  it("pads fully convolutional tiles to a multiple and fixed-size tiles to the model size", () => {
    const fcn = planTiles(5, 3, { width: null, height: null }, { tileSize: 4, tileMultiple: 4 });
    expect(fcn.map((t) => [t.region.width, t.region.height, t.inputWidth, t.inputHeight])).toEqual([[4, 3, 4, 4], [1, 3, 4, 4]]);
    const fixed = planTiles(5, 3, { width: 4, height: 4 }, { tileSize: 512, tileMultiple: 32 });
    expect(fixed.map((t) => [t.region.x, t.region.width, t.inputWidth, t.inputHeight])).toEqual([[0, 4, 4, 4], [4, 1, 4, 4]]);
  });
});
