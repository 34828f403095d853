import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { fromEncordLabelRow } from "../../../../shared/core/annotation/encord-label-row.ts";
import { ontologyFromEncord } from "../../../../shared/core/annotation/ontology.ts";
import { countsToString, decodeRowMajor, stringToCounts } from "../../../../shared/core/annotation/rle.ts";

/**
 * Vectors produced by the Encord SDK's own code (encord-client-python v0.1.190, run offline; each
 * file's `produced` field names the functions), so the reader is checked against what Encord's
 * client writes, not only against our own writer.
 */

interface RleVectors {
  produced: { version: string; commit: string; how: string };
  masks: { name: string; width: number; height: number; set?: number[]; counts: number[]; rleString: string }[];
  padding: { name: string; rleString: string; pixels: number; counts: number[]; set: number[] }[];
}

interface LabelRowVectors {
  produced: { version: string; commit: string; how: string };
  ontology: unknown;
  width: number;
  height: number;
  expectedPixelsByClass: Record<string, number[]>;
  labelRows: Record<"image" | "img_group", Record<string, unknown>>;
}

const fixture = <T>(name: string): T => JSON.parse(readFileSync(new URL(`../../../fixtures/encord/${name}`, import.meta.url), "utf8")) as T;
const rle = fixture<RleVectors>("sdk-rle-vectors.json");
const rows = fixture<LabelRowVectors>("sdk-label-rows.json");
const SEED_CLASSES = ["Fill", "Clear", "Cloud", "Thin_Cloud", "Cloud_Shadow"];

const setPixels = (mask: Uint8Array) => [...mask.keys()].filter((i) => mask[i] === 1);

describe("RLE against the SDK's bitmask_operations", () => {
  it("the vectors come from the SDK release the handout documents", () => {
    expect(rle.produced).toMatchObject({ version: "0.1.190", commit: "2abd4c868a92" });
    expect(rle.masks.length).toBeGreaterThanOrEqual(8);
  });

  it.each(rle.masks.map((m) => [m.name, m] as const))("%s: decodes and re-encodes byte for byte", (_name, m) => {
    expect(stringToCounts(m.rleString)).toEqual(m.counts);
    expect(countsToString(m.counts)).toBe(m.rleString);
    const mask = decodeRowMajor(m.counts, m.width, m.height);
    if (m.set) expect(setPixels(mask)).toEqual(m.set);
  });

  it.each(rle.padding.map((p) => [p.name, p] as const))("%s: short counts are padded with unset pixels, as deserialise_bitmask does", (_name, p) => {
    // An 8-wide frame cannot hold a 5-pixel mask: use a one-row frame as wide as the mask.
    const row = {
      label_hash: "LH", data_type: "image", last_edited_at: "Thu, 02 Jan 2025 03:04:05 UTC",
      data_units: { U: { data_sequence: 0, width: p.pixels, height: 1, labels: { objects: [{ objectHash: "o", name: "Cloud", shape: "bitmask", bitmask: { top: 0, left: 0, width: p.pixels, height: 1, rleString: p.rleString } }], classifications: [] } } },
    };
    const result = fromEncordLabelRow(row, { itemId: "it", ontology: ontologyFromEncord({ objects: [] }, SEED_CLASSES) });
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    const object = result.annotation.objects[0]!;
    expect(object.kind).toBe("mask");
    if (object.kind === "mask") expect(setPixels(decodeRowMajor(object.mask.counts, p.pixels, 1))).toEqual(p.set);
  });
});

describe("label rows written by the SDK (LabelRowV2.to_encord_dict) with the seed ontology", () => {
  const ontology = ontologyFromEncord(rows.ontology, SEED_CLASSES);

  it("binds every seed class to its bitmask object", () => {
    expect(ontology.classes.map((c) => [c.name, c.shape, c.featureNodeHash])).toEqual([
      ["Fill", "bitmask", "seed0001"], ["Clear", "bitmask", "seed0003"], ["Cloud", "bitmask", "seed0005"],
      ["Thin_Cloud", "bitmask", "seed0004"], ["Cloud_Shadow", "bitmask", "seed0002"],
    ]);
  });

  it.each(["image", "img_group"] as const)("reads the %s row: all five classes, pixel for pixel, and notes the point and polyline it skips", (kind) => {
    const result = fromEncordLabelRow(rows.labelRows[kind], { itemId: "it", ontology });
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    const { annotation, notes } = result;
    expect(annotation.image).toEqual({ width: rows.width, height: rows.height });
    expect(annotation.provenance).toMatchObject({ labelId: rows.labelRows[kind].label_hash, annotator: "annotator@example.com", editedAt: "2025-01-02T03:04:05.000Z" });
    const byClass = new Map(annotation.objects.map((o) => [o.className, o]));
    expect([...byClass.keys()].sort()).toEqual([...SEED_CLASSES].sort());
    for (const name of SEED_CLASSES) {
      const object = byClass.get(name)!;
      expect(object.classId).toBe(SEED_CLASSES.indexOf(name));
      expect(object.kind).toBe("mask");
      if (object.kind === "mask") expect(setPixels(decodeRowMajor(object.mask.counts, rows.width, rows.height))).toEqual(rows.expectedPixelsByClass[name]);
    }
    expect(notes).toHaveLength(2);
    expect(notes.join("\n")).toMatch(/object pointAAA \("Marker", point\) skipped/);
    expect(notes.join("\n")).toMatch(/object lineBBBB \("Coastline", polyline\) skipped/);
  });
});
