import { describe, expect, it } from "vitest";
import type { CanonicalObject } from "../../../../shared/core/annotation/canonical.ts";
import { DEFAULT_ONTOLOGY } from "../../../../shared/config/schema.ts";
import { fillClassId, ontologyFromNames } from "../../../../shared/core/annotation/ontology.ts";
import { checkQuality, type QualityContext } from "../../../../shared/core/annotation/quality.ts";
import { annotation, maskObject } from "./fixtures.ts";

const ontology = ontologyFromNames(DEFAULT_ONTOLOGY); // Fill, Clear, Cloud, Thin_Cloud, Cloud_Shadow
// 4×3 image; nodata at the top-left (index 0) and bottom-right (index 11) pixels.
const nodata = Uint8Array.from([255, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 255]);
const ctx: QualityContext = { ontology, image: { width: 4, height: 3 }, nodataMask: nodata, duplicateOf: null, task: "segmentation" };

const box = (id: string, x: number, y: number, w: number, h: number, classId: number | null = 1): CanonicalObject => ({
  id, classId, className: classId === null ? "snow" : ontology.classes[classId]?.name ?? "mystery", kind: "box", box: { x, y, w, h },
});
const polygon = (id: string, ring: number[], classId = 1): CanonicalObject => ({ id, classId, className: ontology.classes[classId]!.name, kind: "polygon", polygon: [ring] });
const check = (objects: CanonicalObject[], overrides: Partial<QualityContext> = {}) => checkQuality(annotation("item", 4, 3, objects), { ...ctx, ...overrides });

describe("checkQuality", () => {
  it("accepts a good label (Fill may cover nodata; boxes may include it)", () => {
    const result = check([
      maskObject("cloud", 2, "Cloud", ["0110", "0110", "0000"]),
      maskObject("fill", 0, "Fill", ["1000", "0000", "0001"]),
      box("lake", 0, 0, 4, 3),
      polygon("field", [1, 1, 3, 1, 3, 3]), // covers (1,1), (2,1), (2,2): clear of nodata
    ]);
    expect(result).toEqual({ verdict: "accepted", reasons: [] });
  });

  it("accepts a segmentation label with no objects (an all-background image)", () => {
    expect(check([])).toEqual({ verdict: "accepted", reasons: [] });
    expect(check([], { task: "detection" }).verdict).toBe("accepted");
  });

  it("rejects an annotation whose image size differs from the item's", () => {
    expect(check([], { image: { width: 5, height: 3 }, nodataMask: null })).toEqual({
      verdict: "rejected",
      reasons: ["annotation image size 4×3 differs from the item's image 5×3"],
    });
  });

  it("rejects a mask whose RLE does not cover the image", () => {
    const wrong: CanonicalObject = { id: "m", classId: 2, className: "Cloud", kind: "mask", mask: { counts: [1, 2, 2, 2, 4] } };
    expect(check([wrong]).reasons).toEqual([
      'mask "m" (class "Cloud"): mask size does not equal image size (RLE covers 11 pixels, image has 4×3 = 12)',
    ]);
  });

  it("rejects classes outside the ontology", () => {
    expect(check([box("u", 0, 0, 1, 1, null), box("big", 0, 0, 1, 1, 17)]).reasons).toEqual([
      'box "u" (class "snow"): class is not in the ontology',
      'box "big" (class "mystery"): class is not in the ontology',
    ]);
  });

  it("rejects mask and polygon pixels of any class but Fill on nodata, with the count", () => {
    expect(check([maskObject("m", 3, "Thin_Cloud", ["1100", "0000", "0011"])]).reasons).toEqual([
      'mask "m" (class "Thin_Cloud"): 2 pixel(s) on nodata, which must be Fill or unlabelled',
    ]);
    expect(check([polygon("p", [0, 0, 4, 0, 4, 3, 0, 3])]).reasons).toEqual([
      'polygon "p" (class "Clear"): 2 pixel(s) on nodata, which must be Fill or unlabelled',
    ]);
    // Without nodata the same polygon is fine.
    expect(check([polygon("p", [0, 0, 4, 0, 4, 3, 0, 3])], { nodataMask: null }).verdict).toBe("accepted");
  });

  it("rejects boxes outside the image beyond half a pixel, and degenerate boxes", () => {
    expect(check([box("edge", -0.4, 0, 4.8, 3.4)]).verdict).toBe("accepted");
    expect(check([box("out", -1, 0, 2, 1)]).reasons).toEqual(['box "out" (class "Clear"): box [-1, 0, 1, 1] lies outside the image 4×3']);
    expect(check([box("thin", 1, 1, 0.5, 2)]).reasons).toEqual(['box "thin" (class "Clear"): box is degenerate (0.5×2 px; needs at least 1×1)']);
  });

  it("rejects polygons with fewer than 3 distinct points or no area", () => {
    expect(check([polygon("dup", [0, 0, 1, 1, 0, 0])]).reasons).toEqual(['polygon "dup" (class "Clear"): polygon has 2 distinct point(s); needs at least 3']);
    expect(check([polygon("line", [0, 0, 1, 1, 2, 2])]).reasons).toEqual(['polygon "line" (class "Clear"): polygon has zero area']);
  });

  it("rejects a duplicate sample", () => {
    expect(check([], { duplicateOf: "item-3" }).reasons).toEqual(['duplicate sample: same content as accepted item "item-3"']);
  });

  it("requires a known classification for the classification task", () => {
    const classify = (classifications: { classId: number | null; className: string }[]) =>
      checkQuality(annotation("item", 4, 3, [], { classifications }), { ...ctx, task: "classification" });
    expect(classify([]).reasons).toEqual(["classification task: the label has no classification"]);
    expect(classify([{ classId: null, className: "hazy" }]).reasons).toEqual(['classification "hazy": class is not in the ontology']);
    expect(classify([{ classId: 1, className: "Clear" }]).verdict).toBe("accepted");
  });

  it("reports every failure together, not just the first", () => {
    const result = check(
      [
        box("u", 0, 0, 1, 1, null),
        { id: "m", classId: 2, className: "Cloud", kind: "mask", mask: { counts: [12, 1] } },
        maskObject("n", 4, "Cloud_Shadow", ["1000", "0000", "0000"]),
        box("out", 3, 2, 5, 5),
        polygon("dup", [0, 0, 1, 1, 0, 0]),
      ],
      { duplicateOf: "twin" },
    );
    expect(result.verdict).toBe("rejected");
    expect(result.reasons).toHaveLength(6);
    expect(result.reasons.join("\n")).toMatch(/duplicate sample/);
    expect(result.reasons.join("\n")).toMatch(/"u".*not in the ontology/);
    expect(result.reasons.join("\n")).toMatch(/"m".*covers 13 pixels/);
    expect(result.reasons.join("\n")).toMatch(/"n".*1 pixel\(s\) on nodata/);
    expect(result.reasons.join("\n")).toMatch(/"out".*outside the image/);
    expect(result.reasons.join("\n")).toMatch(/"dup".*2 distinct/);
  });

  it("finds the fill class by name (Fill, or the older background), and allows no class on nodata without one", () => {
    expect(fillClassId(ontology)).toBe(0);
    expect(fillClassId(ontologyFromNames(["background", "land"]))).toBe(0);
    expect(fillClassId(ontologyFromNames(["car", "person"]))).toBeNull();
    const noFill = ontologyFromNames(["car", "person"]);
    const car: CanonicalObject = { id: "c", classId: 0, className: "car", kind: "polygon", polygon: [[0, 0, 1, 0, 1, 1]] };
    expect(checkQuality(annotation("item", 4, 3, [car]), { ...ctx, ontology: noFill }).reasons).toEqual(['polygon "c" (class "car"): 1 pixel(s) on nodata, which must be unlabelled']);
  });

  it("fails loudly when the nodata mask does not match the item (our bug, not the annotator's)", () => {
    expect(() => check([], { nodataMask: new Uint8Array(5) })).toThrow(/nodata mask has 5 pixels/);
  });
});
