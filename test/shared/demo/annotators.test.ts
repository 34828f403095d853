import { describe, expect, it } from "vitest";
import { DEFAULT_ONTOLOGY } from "../../../shared/config/schema.ts";
import { fromEncordLabelRow } from "../../../shared/core/annotation/encord-label-row.ts";
import { ontologyFromNames } from "../../../shared/core/annotation/ontology.ts";
import { checkQuality } from "../../../shared/core/annotation/quality.ts";
import { decodeRowMajor } from "../../../shared/core/annotation/rle.ts";
import { generateScene, SceneClass } from "../../../shared/core/demo/scenes.ts";
import { LABEL_MISTAKES, simulatedLabelRow, type LabelMistake } from "../../../shared/demo/annotators.ts";

const SIZE = 48;
const ontology = ontologyFromNames(DEFAULT_ONTOLOGY);
const scene = generateScene({ seed: 31, width: SIZE, height: SIZE });
const nodata = Uint8Array.from(scene.groundTruth, (c) => (c === SceneClass.fill ? 255 : 0));

function judge(mistake: LabelMistake | null) {
  const row = simulatedLabelRow({
    itemId: "it_1", title: "demo-0001", groundTruth: { width: SIZE, height: SIZE, mask: scene.groundTruth }, ontology,
    revision: 1, annotator: "a@demo.team", editedAt: new Date("2026-01-01T00:00:00Z"), mistake,
  });
  const converted = fromEncordLabelRow(row, { itemId: "it_1", ontology });
  if (!converted.ok) throw new Error(converted.error);
  return { annotation: converted.annotation, quality: checkQuality(converted.annotation, { ontology, image: { width: SIZE, height: SIZE }, nodataMask: nodata, duplicateOf: null, task: "segmentation" }) };
}

describe("the demo's simulated annotators", () => {
  it("label in the seed's classes: land and water both Clear, nodata painted Fill, and pass the quality checks", () => {
    const { annotation, quality } = judge(null);
    expect(quality).toEqual({ verdict: "accepted", reasons: [] });
    expect(annotation.objects.map((o) => o.className)).toEqual(DEFAULT_ONTOLOGY);
    const fill = annotation.objects.find((o) => o.className === "Fill")!;
    expect(fill.kind).toBe("mask");
    if (fill.kind === "mask") expect(Array.from(decodeRowMajor(fill.mask.counts, SIZE, SIZE), (v) => v * 255)).toEqual(Array.from(nodata));
    const clear = annotation.objects.find((o) => o.className === "Clear")!;
    if (clear.kind === "mask") {
      const pixels = decodeRowMajor(clear.mask.counts, SIZE, SIZE);
      // Both surfaces under a clear sky: some Clear pixels are water, some are land.
      const water = [...pixels.keys()].filter((i) => pixels[i] && scene.water[i]).length;
      const land = [...pixels.keys()].filter((i) => pixels[i] && !scene.water[i]).length;
      expect(water).toBeGreaterThan(0);
      expect(land).toBeGreaterThan(0);
    }
  });

  it.each([
    ["unknown_class", /"snow".*class is not in the ontology/],
    ["cloud_on_nodata", /class "Cloud".*pixel\(s\) on nodata, which must be Fill or unlabelled/],
    ["wrong_mask_size", /mask size does not equal image size/],
    ["degenerate_box", /box is degenerate/],
  ] as const)("make the %s mistake, which a quality check catches", (mistake, reason) => {
    expect(LABEL_MISTAKES).toContain(mistake);
    const { quality } = judge(mistake);
    expect(quality.verdict).toBe("rejected");
    expect(quality.reasons.join("\n")).toMatch(reason);
  });
});
