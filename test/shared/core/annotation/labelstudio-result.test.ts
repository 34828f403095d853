import { describe, expect, it } from "vitest";
import { bindLabelStudioConfig, labelingConfigFor, type ParsedLabelConfig } from "../../../../shared/core/annotation/labelstudio-config.ts";
import { classMaskToLabelStudioResult, fromLabelStudioResult, type FromLabelStudioOptions } from "../../../../shared/core/annotation/labelstudio-result.ts";
import { encodeBrushRle } from "../../../../shared/core/annotation/labelstudio-rle.ts";
import { ontologyFromNames } from "../../../../shared/core/annotation/ontology.ts";
import { decodeRowMajor } from "../../../../shared/core/annotation/rle.ts";

const NAMES = ["Fill", "Clear", "Cloud"];
const options: FromLabelStudioOptions = {
  itemId: "it_1", ontology: ontologyFromNames(NAMES), control: "tag", imageSize: null,
  provenance: { backend: "labelstudio", labelId: "5", annotator: "a@b", editedAt: "2026-01-01T00:00:00.000Z" },
};

/** A brush whose alpha per pixel is given (the editor copies alpha into R, G and B). */
const brush = (alpha: number[], w: number, h: number, label: string, extra: Record<string, unknown> = {}) => ({
  type: "brushlabels", from_name: "tag", to_name: "image", original_width: w, original_height: h,
  value: { format: "rle", rle: encodeBrushRle(Uint8Array.from(alpha.flatMap((a) => [a, a, a, a]))), brushlabels: [label] }, ...extra,
});

const maskOf = (r: ReturnType<typeof fromLabelStudioResult>, classId: number | null, w = 3, h = 2) => {
  if (!r.ok) throw new Error(r.error);
  const o = r.annotation.objects.find((x) => x.classId === classId);
  return o && o.kind === "mask" ? [...decodeRowMajor(o.mask.counts, w, h)] : null;
};

describe("Label Studio labeling config", () => {
  it("has one Label per class, in id order, names escaped", () => {
    const xml = labelingConfigFor(["Fill", 'A "b" & <c>']);
    expect(xml).toContain('<BrushLabels name="tag" toName="image">');
    expect(xml).toContain('<Image name="image" value="$image" zoom="true"/>');
    expect(xml).toMatch(/<Label value="Fill" [^>]*\/>\n\s*<Label value="A &quot;b&quot; &amp; &lt;c&gt;"/);
  });

  it("binds the BrushLabels control that covers most classes and names what is missing or extra", () => {
    const parsed: ParsedLabelConfig = {
      other: { type: "BrushLabels", to_name: ["img"], inputs: [{ type: "Image", value: "img" }], labels: ["Fill"] },
      mask: { type: "BrushLabels", to_name: ["img"], inputs: [{ type: "Image", value: "$img" }], labels: ["Fill", "Cloud", "Snow"] },
      box: { type: "RectangleLabels", to_name: ["img"], inputs: [{ type: "Image", value: "img" }], labels: NAMES },
    };
    expect(bindLabelStudioConfig(parsed, NAMES)).toEqual({ control: "mask", imageName: "img", imageKey: "img", missing: ["Clear"], extra: ["Snow"] });
    expect(bindLabelStudioConfig({ box: parsed.box! }, NAMES).control).toBeNull();
  });
});

describe("Label Studio results → canonical", () => {
  it("paints later regions over earlier ones and ignores faint (anti-aliased) alpha", () => {
    const r = fromLabelStudioResult([brush([255, 255, 255, 255, 255, 255], 3, 2, "Clear"), brush([0, 255, 100, 0, 0, 255], 3, 2, "Cloud")], options);
    expect(maskOf(r, 1)).toEqual([1, 0, 1, 1, 1, 0]);
    expect(maskOf(r, 2)).toEqual([0, 1, 0, 0, 0, 1]);
    expect(r.ok && r.annotation.objects.map((o) => o.id)).toEqual(["it_1#class-1", "it_1#class-2"]);
  });

  it("keeps a label that is not ours as an unknown class, and notes results of other controls", () => {
    const r = fromLabelStudioResult([brush([255, 0, 0, 0, 0, 0], 3, 2, "Snow"), { type: "rectanglelabels", from_name: "box", value: {} }], options);
    expect(r.ok && r.annotation.objects.map((o) => [o.classId, o.className])).toEqual([[null, "Snow"]]);
    expect(r.ok && r.notes).toEqual(["result item 1 (rectanglelabels from box) is not a brush of our control; left out"]);
  });

  it("uses the task's size for an empty result, and refuses what cannot be placed", () => {
    const empty = fromLabelStudioResult([], { ...options, imageSize: { width: 3, height: 2 } });
    expect(empty.ok && empty.annotation).toMatchObject({ image: { width: 3, height: 2 }, objects: [] });
    expect(fromLabelStudioResult([], options)).toEqual({ ok: false, error: "the annotation has no brush and the task carries no image size" });
    expect(fromLabelStudioResult([brush([255, 0, 0, 0, 0, 0], 3, 2, "Fill"), brush([255, 0, 0, 0], 2, 2, "Fill")], options)).toMatchObject({ ok: false, error: expect.stringMatching(/disagree on the image size/) });
    expect(fromLabelStudioResult([brush([255, 0, 0, 0, 0, 0], 3, 2, "Fill", { original_width: 4 })], options)).toMatchObject({ ok: false, error: expect.stringMatching(/needs 32/) });
    expect(fromLabelStudioResult([brush([255, 0, 0, 0, 0, 0], 3, 2, "Fill", { value: { format: "rle", rle: [1, 2], brushlabels: ["Fill"] } })], options)).toMatchObject({ ok: false });
  });

  it("round-trips a class mask through predictions (pre-labels), leaving 255 unlabelled", () => {
    const classMask = Uint8Array.from([0, 1, 2, 255, 1, 1]);
    const items = classMaskToLabelStudioResult(classMask, { width: 3, height: 2 }, ontologyFromNames(NAMES));
    expect(items.map((i) => i.value?.brushlabels)).toEqual([["Fill"], ["Clear"], ["Cloud"]]);
    const back = fromLabelStudioResult(items, options);
    expect(maskOf(back, 0)).toEqual([1, 0, 0, 0, 0, 0]);
    expect(maskOf(back, 1)).toEqual([0, 1, 0, 0, 1, 1]);
    expect(maskOf(back, 2)).toEqual([0, 0, 1, 0, 0, 0]);
  });
});
