import { describe, expect, it } from "vitest";
import type { CanonicalAnnotation } from "../../../../shared/core/annotation/canonical.ts";
import { fromEncordLabelRow, toEncordLabelRow, type LabelConversion } from "../../../../shared/core/annotation/encord-label-row.ts";
import { ontologyFromEncord, ontologyFromNames } from "../../../../shared/core/annotation/ontology.ts";
import { countsToString } from "../../../../shared/core/annotation/rle.ts";
import { annotation, countsFromRows, maskObject } from "./fixtures.ts";

const CLASSES = ["background", "land", "water", "thick_cloud", "thin_cloud", "cloud_shadow"];
const editorOntology = {
  objects: [
    { id: "1", name: "Land", shape: "polygon", featureNodeHash: "LAND1" },
    { id: "2", name: "water", shape: "bounding_box", featureNodeHash: "WATR1" },
    { id: "3", name: "thick_cloud", shape: "bitmask", featureNodeHash: "TC/1+" },
    { id: "4", name: "Boat", shape: "rotatable_bounding_box", featureNodeHash: "BOAT9" },
  ],
  classifications: [{ id: "1", featureNodeHash: "CLSF1", attributes: [{ id: "1.1", name: "Scene", type: "radio", featureNodeHash: "SCN1", options: [] }] }],
};
const ontology = ontologyFromEncord(editorOntology, CLASSES);

function ok(result: LabelConversion): CanonicalAnnotation {
  if (!result.ok) throw new Error(`expected a conversion, got: ${result.error}`);
  return result.annotation;
}

/** An `image` label row, 8×4 px, in the documented wire shape (docs/encord.md §7.2–7.6), written by hand. */
function imageRow(objects: unknown[], extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    label_hash: "LH-1",
    branch_name: "main",
    created_at: "Wed, 08 Feb 2023 09:00:00 UTC",
    last_edited_at: "Thu, 09 Feb 2023 14:12:03 UTC",
    data_title: "scene.png",
    data_hash: "DH-1",
    data_type: "image",
    label_status: "LABELLED",
    data_units: {
      "DH-1": { data_hash: "DH-1", data_title: "scene.png", data_type: "image/png", data_sequence: 0, width: 8, height: 4, labels: { objects, classifications: [] } },
    },
    object_answers: {},
    classification_answers: {},
    object_actions: {},
    ...extra,
  };
}

describe("fromEncordLabelRow: geometry", () => {
  it("converts a bounding box from normalised to pixels", () => {
    const row = imageRow([{ objectHash: "o1", featureHash: "WATR1", name: "water", shape: "bounding_box", boundingBox: { x: 0.25, y: 0.25, w: 0.5, h: 0.5 } }]);
    expect(ok(fromEncordLabelRow(row, { itemId: "it", ontology })).objects).toEqual([
      { id: "o1", classId: 2, className: "water", kind: "box", box: { x: 2, y: 1, w: 4, h: 2 } },
    ]);
  });

  it("reads polygons as a legacy point map, a point list, and prefers `polygons`", () => {
    const row = imageRow([
      { objectHash: "map", featureHash: "LAND1", name: "Land", shape: "polygon", polygon: { "2": { x: 0.5, y: 0.5 }, "0": { x: 0, y: 0 }, "1": { x: 0.5, y: 0 } } },
      { objectHash: "list", featureHash: "LAND1", name: "Land", shape: "polygon", polygon: [{ x: 0.5, y: 0.5 }, { x: 1, y: 0.5 }, { x: 1, y: 1 }] },
      {
        objectHash: "multi",
        featureHash: "LAND1",
        name: "Land",
        shape: "polygon",
        polygon: { "0": { x: 0.9, y: 0.9 }, "1": { x: 1, y: 0.9 }, "2": { x: 1, y: 1 } }, // legacy, ignored
        polygons: [[[0, 0, 0.25, 0, 0.25, 0.5], [0.125, 0.25, 0.25, 0.25, 0.25, 0.5]], [[0.75, 0.75, 1, 0.75, 1, 1]]],
      },
    ]);
    expect(ok(fromEncordLabelRow(row, { itemId: "it", ontology })).objects.map((o) => (o.kind === "polygon" ? o.polygon : null))).toEqual([
      [[0, 0, 4, 0, 4, 2]],
      [[4, 2, 8, 2, 8, 4]],
      [[0, 0, 2, 0, 2, 2], [1, 1, 2, 1, 2, 2], [6, 3, 8, 3, 8, 4]],
    ]);
  });

  it("decodes a bitmask rleString (row-major, whole frame)", () => {
    // Rows 00000000 / 00111100 / 00111100 / 00000000 → counts [10,4,4,4,10];
    // string: 10 → ':', 4 → '4', 4 → '4', 4−4 = 0 → '0', 10−4 = 6 → '6'.
    const row = imageRow([{ objectHash: "m", featureHash: "TC/1+", name: "thick_cloud", shape: "bitmask", bitmask: { top: 0, left: 0, width: 8, height: 4, rleString: ":4406" } }]);
    expect(ok(fromEncordLabelRow(row, { itemId: "it", ontology })).objects).toEqual([
      { id: "m", classId: 3, className: "thick_cloud", kind: "mask", mask: { counts: countsFromRows(["00000000", "00111100", "00111100", "00000000"]) } },
    ]);
  });

  it("carries a bitmask larger than the frame through unchanged for quality checks to reject", () => {
    // 9×4 = 36 pixels at (0, 0) cannot be placed in an 8×4 frame.
    const row = imageRow([{ objectHash: "m", featureHash: "TC/1+", name: "thick_cloud", shape: "bitmask", bitmask: { top: 0, left: 0, width: 9, height: 4, rleString: countsToString([10, 4, 22]) } }]);
    const [object] = ok(fromEncordLabelRow(row, { itemId: "it", ontology })).objects;
    expect(object).toMatchObject({ kind: "mask", mask: { counts: [10, 4, 22] } });
  });

  it("places a bitmask crop at its top/left in the frame", () => {
    // The documented 4×3 vector (rows 0110/0110/0001) placed at row 1, column 3 of the 8×4 frame.
    const row = imageRow([{ objectHash: "m", featureHash: "TC/1+", name: "thick_cloud", shape: "bitmask", bitmask: { top: 1, left: 3, width: 4, height: 3, rleString: "12202O" } }]);
    const [object] = ok(fromEncordLabelRow(row, { itemId: "it", ontology })).objects;
    expect(object).toMatchObject({ kind: "mask", mask: { counts: countsFromRows(["00000000", "00001100", "00001100", "00000010"]) } });
  });

  it("pads RLE counts shorter than the bitmask with unset pixels, as the SDK does", () => {
    // [10, 4] covers 14 of 32 pixels; deserialise_bitmask leaves the rest unset.
    const row = imageRow([{ objectHash: "m", featureHash: "TC/1+", name: "thick_cloud", shape: "bitmask", bitmask: { top: 0, left: 0, width: 8, height: 4, rleString: countsToString([10, 4]) } }]);
    const [object] = ok(fromEncordLabelRow(row, { itemId: "it", ontology })).objects;
    expect(object).toMatchObject({ kind: "mask", mask: { counts: [10, 4, 18] } });
  });

  it("skips, with a note, objects of a shape we do not use whose class is not ours", () => {
    const row = imageRow([
      { objectHash: "p", featureHash: "PIN1", name: "pin", shape: "point", point: { "0": { x: 0, y: 0 } } },
      { objectHash: "l", featureHash: "COAST", name: "Coastline", shape: "polyline", polyline: { "0": { x: 0, y: 0 }, "1": { x: 1, y: 1 } } },
      { objectHash: "s", featureHash: "SKEL", name: "Person", shape: "skeleton", skeleton: {} },
      { objectHash: "m", featureHash: "TC/1+", name: "thick_cloud", shape: "bitmask", bitmask: { top: 0, left: 0, width: 8, height: 4, rleString: ":4406" } },
    ]);
    const result = fromEncordLabelRow(row, { itemId: "it", ontology });
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.annotation.objects.map((o) => o.id)).toEqual(["m"]);
    expect(result.notes).toEqual([
      'object p ("pin", point) skipped: its shape has no canonical form and its class is not in the ontology',
      'object l ("Coastline", polyline) skipped: its shape has no canonical form and its class is not in the ontology',
      'object s ("Person", skeleton) skipped: its shape has no canonical form and its class is not in the ontology',
    ]);
  });

  it("turns a rotatable box into its axis-aligned envelope (theta in degrees)", () => {
    const row = imageRow([
      { objectHash: "r0", featureHash: "BOAT9", name: "Boat", shape: "rotatable_bounding_box", rotatableBoundingBox: { x: 0.25, y: 0.25, w: 0.5, h: 0.25, theta: 0 } },
      { objectHash: "r90", featureHash: "BOAT9", name: "Boat", shape: "rotatable_bounding_box", rotatableBoundingBox: { x: 0.25, y: 0.25, w: 0.5, h: 0.25, theta: 90 } },
    ]);
    const [r0, r90] = ok(fromEncordLabelRow(row, { itemId: "it", ontology })).objects;
    expect(r0).toEqual({ id: "r0", classId: null, className: "Boat", kind: "box", box: { x: 2, y: 1, w: 4, h: 1 } });
    // 4×1 box centred at (4, 1.5), turned a quarter: 1×4 around the same centre.
    const box = r90!.kind === "box" ? r90!.box : null;
    expect(box!.x).toBeCloseTo(3.5, 9);
    expect(box!.y).toBeCloseTo(-0.5, 9);
    expect(box!.w).toBeCloseTo(1, 9);
    expect(box!.h).toBeCloseTo(4, 9);
  });

  it("maps an unknown feature hash to classId null and keeps the name", () => {
    const row = imageRow([{ objectHash: "u", featureHash: "NOT-OURS", name: "Land", shape: "polygon", polygon: [{ x: 0, y: 0 }, { x: 1, y: 0 }, { x: 1, y: 1 }] }]);
    expect(ok(fromEncordLabelRow(row, { itemId: "it", ontology })).objects[0]).toMatchObject({ classId: null, className: "Land" });
  });

  it("skips deleted objects", () => {
    const row = imageRow([{ objectHash: "d", featureHash: "WATR1", name: "water", shape: "bounding_box", isDeleted: true, boundingBox: { x: 0, y: 0, w: 1, h: 1 } }]);
    expect(ok(fromEncordLabelRow(row, { itemId: "it", ontology })).objects).toEqual([]);
  });
});

describe("fromEncordLabelRow: attributes, classifications, provenance", () => {
  const row = imageRow(
    [
      {
        objectHash: "o1", featureHash: "WATR1", name: "water", shape: "bounding_box", boundingBox: { x: 0, y: 0, w: 0.5, h: 0.5 },
        createdBy: "a@x", createdAt: "2023-02-09 10:00:00",
      },
      {
        objectHash: "o2", featureHash: "WATR1", name: "water", shape: "bounding_box", boundingBox: { x: 0.5, y: 0, w: 0.5, h: 0.5 },
        createdBy: "a@x", createdAt: "2023-02-09 09:00:00", lastEditedBy: "c@x", lastEditedAt: "2023-02-09T13:00:00+02:00",
      },
      {
        objectHash: "o3", featureHash: "WATR1", name: "water", shape: "bounding_box", boundingBox: { x: 0, y: 0.5, w: 0.5, h: 0.5 },
        createdBy: "d@x", createdAt: "Thu, 09 Feb 2023 12:30:00 GMT",
      },
    ],
    {
      object_answers: {
        o1: {
          objectHash: "o1",
          classifications: [
            { name: "Occluded", value: "occluded", featureHash: "A1", manualAnnotation: true, answers: [{ name: "Yes", value: "yes", featureHash: "OPT1" }] },
            { name: "Notes", value: "notes", featureHash: "A2", manualAnnotation: true, answers: "near shore" },
            { name: "Tags", value: "tags", featureHash: "A3", manualAnnotation: true, answers: [{ name: "reef", value: "reef", featureHash: "T1" }, { name: "foam", value: "foam", featureHash: "T2" }] },
          ],
        },
      },
      classification_answers: {
        C1: { classificationHash: "C1", featureHash: "CLSF1", classifications: [{ name: "Scene", value: "scene", featureHash: "SCN1", answers: [{ name: "water", value: "water", featureHash: "OPTW" }] }] },
        C2: { classificationHash: "C2", featureHash: "CLSF2", classifications: [{ name: "Cloud cover", value: "cloud_cover", featureHash: "CC", answers: "about 30%" }] },
      },
    },
  );
  (row.data_units as Record<string, { labels: { classifications: unknown[] } }>)["DH-1"]!.labels.classifications = [
    { classificationHash: "C1", featureHash: "CLSF1", name: "Scene", value: "scene", createdBy: "b@x", createdAt: "2023-02-09T12:00:00" },
    { classificationHash: "C3", featureHash: "CLSF3", name: "Orphan", value: "orphan", createdBy: "e@x", createdAt: "2023-02-09T08:00:00" },
  ];
  const converted = ok(fromEncordLabelRow(row, { itemId: "it", ontology }));

  it("keeps object attribute answers: radio and checklist as option names, text as text", () => {
    expect(converted.objects[0]!.attributes).toEqual({ Occluded: ["Yes"], Notes: "near shore", Tags: ["reef", "foam"] });
    expect(converted.objects[1]!.attributes).toBeUndefined();
  });

  it("reads classifications: the radio option as the class, global ones too, unanswered ones ignored", () => {
    expect(converted.classifications).toEqual([
      { classId: 2, className: "water", attributes: { Scene: ["water"] } },
      { classId: null, className: "Cloud cover", attributes: { "Cloud cover": "about 30%" } },
    ]);
  });

  it("takes provenance from the row and the most recent editor", () => {
    // Editors: a@x 10:00Z, c@x 11:00Z (13:00+02:00), d@x 12:30Z, b@x 12:00Z (no zone = UTC), e@x 08:00Z.
    expect(converted.provenance).toEqual({ backend: "encord", labelId: "LH-1", annotator: "d@x", editedAt: "2023-02-09T14:12:03.000Z" });
  });

  it("falls back to created_at and to the editors' latest time", () => {
    const noEdit = ok(fromEncordLabelRow(imageRow([], { last_edited_at: null, created_at: "2023-01-01 00:00:00" }), { itemId: "it", ontology }));
    expect(noEdit.provenance).toMatchObject({ editedAt: "2023-01-01T00:00:00.000Z", annotator: null });
    const fromEditors = ok(fromEncordLabelRow({ ...row, last_edited_at: undefined, created_at: undefined }, { itemId: "it", ontology }));
    expect(fromEditors.provenance.editedAt).toBe("2023-02-09T12:30:00.000Z");
  });
});

describe("fromEncordLabelRow: image groups and sizes", () => {
  const box = (hash: string, x: number) => ({ objectHash: hash, featureHash: "WATR1", name: "water", shape: "bounding_box", boundingBox: { x, y: 0, w: 0.25, h: 0.25 } });
  const group = (nirSize = { width: 8, height: 4 }) => ({
    label_hash: "LH-G",
    data_type: "img_group",
    last_edited_at: "2023-03-01 10:00:00",
    data_units: {
      NIR: { data_hash: "NIR", data_sequence: "1", ...nirSize, labels: { objects: [box("obj-x", 0.5), box("obj-z", 0.75)], classifications: [] } },
      RGB: { data_hash: "RGB", data_sequence: "0", width: 8, height: 4, labels: { objects: [box("obj-x", 0), box("obj-y", 0.25)], classifications: [] } },
    },
  });

  it("takes objects from every unit in sequence order, first occurrence of an objectHash wins", () => {
    const a = ok(fromEncordLabelRow(group(), { itemId: "p", ontology }));
    expect(a.image).toEqual({ width: 8, height: 4 });
    expect(a.objects.map((o) => [o.id, o.kind === "box" ? o.box.x : null])).toEqual([
      ["obj-x", 0], // from RGB (sequence 0), not NIR's x = 4
      ["obj-y", 2],
      ["obj-z", 6],
    ]);
  });

  it("refuses units of different sizes", () => {
    const result = fromEncordLabelRow(group({ width: 16, height: 8 }), { itemId: "p", ontology });
    expect(result).toEqual({ ok: false, error: expect.stringMatching(/units differ in size: RGB is 8×4, NIR is 16×8/) });
  });

  it("uses the size from options when the unit has none", () => {
    const row = imageRow([]);
    const unit = (row.data_units as Record<string, Record<string, unknown>>)["DH-1"]!;
    delete unit.width;
    delete unit.height;
    expect(ok(fromEncordLabelRow(row, { itemId: "it", ontology, width: 20, height: 10 })).image).toEqual({ width: 20, height: 10 });
    expect(fromEncordLabelRow(row, { itemId: "it", ontology })).toEqual({ ok: false, error: expect.stringMatching(/image size/) });
  });
});

describe("fromEncordLabelRow: refusals", () => {
  it.each([
    ["not an object", "nope", /not an Encord label row/],
    ["no label yet", { ...imageRow([]), label_hash: null }, /label_hash is null/],
    ["video", { ...imageRow([]), data_type: "video" }, /data_type "video" is not supported/],
    ["a class of ours drawn as a point", imageRow([{ objectHash: "p", featureHash: "WATR1", name: "water", shape: "point", point: { "0": { x: 0, y: 0 } } }]), /class "water" is drawn as a point, which has no canonical form/],
    ["a class of ours (by name) drawn as a polyline", imageRow([{ objectHash: "p", name: "thin_cloud", shape: "polyline", polyline: [] }]), /class "thin_cloud" is drawn as a polyline/],
    ["RLE counts beyond the bitmask", imageRow([{ objectHash: "m", featureHash: "TC/1+", name: "thick_cloud", shape: "bitmask", bitmask: { top: 0, left: 0, width: 8, height: 4, rleString: countsToString([30, 4]) } }]), /covers 34 pixels, more than its 32/],
    ["a 2-point polygon", imageRow([{ objectHash: "p", featureHash: "LAND1", name: "Land", shape: "polygon", polygon: [{ x: 0, y: 0 }, { x: 1, y: 1 }] }]), /2 points/],
    ["a broken rleString", imageRow([{ objectHash: "m", featureHash: "TC/1+", name: "thick_cloud", shape: "bitmask", bitmask: { top: 0, left: 0, width: 8, height: 4, rleString: "1 2" } }]), /invalid character/],
    ["a box without coordinates", imageRow([{ objectHash: "b", featureHash: "WATR1", name: "water", shape: "bounding_box" }]), /has no coordinates/],
    ["an unreadable date", imageRow([], { last_edited_at: "last Tuesday" }), /"last Tuesday" is not a timestamp/],
  ])("refuses %s with a reason", (_what, row, reason) => {
    const result = fromEncordLabelRow(row, { itemId: "it", ontology });
    expect(result.ok).toBe(false);
    expect(result.ok ? "" : result.error).toMatch(reason);
  });
});

describe("toEncordLabelRow", () => {
  const original: CanonicalAnnotation = annotation(
    "item-7",
    10,
    6,
    [
      { id: "b1", classId: 2, className: "water", kind: "box", box: { x: 1, y: 2, w: 3.3, h: 1.7 }, attributes: { Notes: "calm", Tags: ["reef"] } },
      { id: "p1", classId: 1, className: "Land", kind: "polygon", polygon: [[0, 0, 3, 0, 3, 3], [7, 1, 9, 1, 9, 5.5]] },
      maskObject("m1", 3, "thick_cloud", ["1000000001", "0000000000", "0000000000", "0000000000", "0000000000", "1111111111"]),
      { id: "u1", classId: null, className: "Boat", kind: "box", box: { x: 0, y: 0, w: 1, h: 1 } },
    ],
    { classifications: [{ classId: 2, className: "water", attributes: { Scene: ["water"] } }], provenance: { backend: "encord", labelId: "LH-7", annotator: "sim@demo", editedAt: "2024-05-01T10:00:00.000Z" } },
  );

  function expectClose(actual: CanonicalAnnotation, expected: CanonicalAnnotation): void {
    const strip = (a: CanonicalAnnotation) => ({ ...a, objects: a.objects.map((o) => ({ ...o, box: undefined, polygon: undefined })) });
    expect(strip(actual)).toEqual(strip(expected));
    actual.objects.forEach((object, i) => {
      const want = expected.objects[i]!;
      const flat = (o: typeof object) => (o.kind === "box" ? Object.values(o.box) : o.kind === "polygon" ? o.polygon.flat() : []);
      expect(flat(object)).toHaveLength(flat(want).length);
      flat(object).forEach((v, k) => expect(v).toBeCloseTo(flat(want)[k]!, 9));
    });
  }

  it("round-trips through an image label row (Encord-bound ontology)", () => {
    const row = JSON.parse(JSON.stringify(toEncordLabelRow(original, ontology, { labelHash: "LH-7", dataHash: "DH-7", dataTitle: "item-7.png", dataType: "image" }))) as unknown;
    expectClose(ok(fromEncordLabelRow(row, { itemId: "item-7", ontology })), original);
  });

  it("round-trips through an image group labelled on both units, with a plain-names ontology", () => {
    const names = ontologyFromNames(CLASSES);
    const row = toEncordLabelRow(original, names, {
      labelHash: "LH-7",
      dataHash: "GROUP",
      dataTitle: "product",
      dataType: "img_group",
      units: [
        { dataHash: "U-RGB", dataTitle: "product_rgb.png", labelled: true },
        { dataHash: "U-NIR", dataTitle: "product_nir.png", labelled: true },
      ],
    });
    expectClose(ok(fromEncordLabelRow(row, { itemId: "item-7", ontology: names })), original);
  });

  it("writes the documented wire shapes", () => {
    const row = toEncordLabelRow(original, ontology, { labelHash: "LH-7", dataHash: "DH-7", dataTitle: "item-7.png", dataType: "image" }) as {
      last_edited_at: string;
      data_units: Record<string, { width: number; height: number; labels: { objects: Record<string, unknown>[] } }>;
    };
    expect(row.last_edited_at).toBe("Wed, 01 May 2024 10:00:00 UTC");
    const objects = row.data_units["DH-7"]!.labels.objects;
    expect(objects[0]).toMatchObject({ objectHash: "b1", featureHash: "WATR1", shape: "bounding_box", boundingBox: { x: 0.1, y: expect.closeTo(2 / 6, 12), w: expect.closeTo(0.33, 12), h: expect.closeTo(1.7 / 6, 12) } });
    expect(objects[1]).toMatchObject({ shape: "polygon", featureHash: "LAND1", polygon: { "0": { x: 0, y: 0 }, "1": { x: 0.3, y: 0 }, "2": { x: 0.3, y: 0.5 } } });
    // Mask rows 1000000001 / 0…0 ×4 / 1111111111 → counts [0,1,8,1,40,10] → '0','1','8',
    // 1−1 = 0 → '0', 40−8 = 32 → 'P' (0 with continuation) + '1', 10−1 = 9 → '9'.
    expect(objects[2]).toMatchObject({ shape: "bitmask", featureHash: "TC/1+", bitmask: { top: 0, left: 0, width: 10, height: 6, rleString: "0180P19" } });
    expect(objects[3]).toMatchObject({ name: "Boat", featureHash: "unknown-boat" });
  });
});
