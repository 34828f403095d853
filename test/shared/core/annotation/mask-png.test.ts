import sharp from "sharp";
import { describe, expect, it } from "vitest";
import type { CanonicalAnnotation } from "../../../../shared/core/annotation/canonical.ts";
import { fromSemanticRaster, toSemanticRaster, type SemanticRaster } from "../../../../shared/core/annotation/mask-png.ts";
import { ontologyFromNames } from "../../../../shared/core/annotation/ontology.ts";
import { annotation, maskObject, provenance, rasterFromRows } from "./fixtures.ts";

const ontology = ontologyFromNames(["background", "land", "water", "cloud"]);

/** Through a real 8-bit greyscale PNG, as the mask export should write it. */
async function throughPng(raster: SemanticRaster): Promise<SemanticRaster> {
  const png = await sharp(Buffer.from(raster.data), { raw: { width: raster.width, height: raster.height, channels: 1 } })
    .toColourspace("b-w")
    .png()
    .toBuffer();
  expect((await sharp(png).metadata()).channels).toBe(1);
  // sharp outputs sRGB unless told otherwise, even for a greyscale source.
  const { data, info } = await sharp(png).toColourspace("b-w").raw().toBuffer({ resolveWithObject: true });
  expect(info.channels).toBe(1);
  return { width: info.width, height: info.height, data: new Uint8Array(data) };
}

describe("semantic mask rasters", () => {
  it("paints class ids over the background value", () => {
    const a = annotation("i", 3, 2, [maskObject("i#class-2", 2, "water", ["110", "000"])]);
    expect(toSemanticRaster(a).data).toEqual(rasterFromRows(["220", "000"]));
    expect(toSemanticRaster(a, 1).data).toEqual(rasterFromRows(["221", "111"]));
  });

  it("round-trips a semantic annotation through a PNG, masks touching every border", async () => {
    // land along the top row and left column, water on the right column, cloud on the bottom row.
    const original: CanonicalAnnotation = annotation("item", 5, 4, [
      maskObject("item#class-1", 1, "land", ["11110", "10000", "10000", "00000"]),
      maskObject("item#class-2", 2, "water", ["00001", "00001", "00001", "00000"]),
      maskObject("item#class-3", 3, "cloud", ["00000", "00000", "00000", "11111"]),
    ]);
    const raster = await throughPng(toSemanticRaster(original));
    expect(raster.data).toEqual(rasterFromRows(["11112", "10002", "10002", "33333"]));
    expect(fromSemanticRaster(raster, { itemId: "item", ontology, provenance })).toStrictEqual(original);
  });

  it("round-trips an image that is all background as no objects", async () => {
    const original = annotation("bg", 4, 3, []);
    const raster = await throughPng(toSemanticRaster(original));
    expect(fromSemanticRaster(raster, { itemId: "bg", ontology, provenance })).toStrictEqual(original);
  });

  it("keeps values the ontology lacks as unknown classes and can leave out nodata", () => {
    const raster = { width: 2, height: 2, data: Uint8Array.from([0, 9, 255, 1]) };
    const a = fromSemanticRaster(raster, { itemId: "x", ontology, provenance, ignoreValue: 255 });
    expect(a.objects.map((o) => [o.id, o.classId, o.className])).toEqual([
      ["x#class-1", 1, "land"],
      ["x#class-9", null, "class 9"],
    ]);
  });

  it("refuses a raster of the wrong length", () => {
    expect(() => fromSemanticRaster({ width: 2, height: 2, data: new Uint8Array(3) }, { itemId: "x", ontology, provenance })).toThrow(/3 pixels, expected 2×2/);
  });
});
