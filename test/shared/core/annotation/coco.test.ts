import { describe, expect, it } from "vitest";
import type { CanonicalAnnotation } from "../../../../shared/core/annotation/canonical.ts";
import { fromCoco, toCoco } from "../../../../shared/core/annotation/coco.ts";
import { ontologyFromNames } from "../../../../shared/core/annotation/ontology.ts";
import { PermanentError } from "../../../../shared/errors.ts";
import { annotation, countsFromRows, maskObject } from "./fixtures.ts";

const ontology = ontologyFromNames(["background", "land", "water", "cloud"]);

const itemA: CanonicalAnnotation = annotation(
  "item-a",
  5,
  4,
  [
    { id: "a-box", classId: 1, className: "Land", kind: "box", box: { x: 0.5, y: 1, w: 2, h: 1.5 }, attributes: { occluded: false, notes: "edge" }, iscrowd: false },
    { id: "a-poly", classId: 2, className: "water", kind: "polygon", polygon: [[0, 0, 2, 0, 2, 2], [3, 3, 5, 3, 5, 4, 3, 4]] },
    { ...maskObject("a-mask", 3, "cloud", ["11111", "10001", "10001", "11111"]), iscrowd: true },
  ],
  { classifications: [{ classId: 1, className: "land", attributes: { scene: ["land"] } }] },
);
const itemB: CanonicalAnnotation = annotation("item-b", 3, 2, [], {
  provenance: { backend: "local", labelId: "lb", annotator: null, editedAt: "2024-06-01T00:00:00.000Z" },
});
// One mask touching each border on its own.
const itemC: CanonicalAnnotation = annotation("item-c", 4, 3, [
  maskObject("top", 3, "cloud", ["1111", "0000", "0000"]),
  maskObject("bottom", 3, "cloud", ["0000", "0000", "1111"]),
  maskObject("left", 2, "water", ["1000", "1000", "1000"]),
  maskObject("right", 1, "land", ["0001", "0001", "0001"]),
]);
const files = [
  { itemId: "item-a", fileName: "a.png" },
  { itemId: "item-b", fileName: "b.png" },
  { itemId: "item-c", fileName: "c.png" },
];

describe("toCoco", () => {
  const coco = toCoco([itemA, itemB, itemC], ontology, files);

  it("lists every image, including one without objects", () => {
    expect(coco.images.map((i) => [i.id, i.file_name, i.width, i.height])).toEqual([
      [1, "a.png", 5, 4],
      [2, "b.png", 3, 2],
      [3, "c.png", 4, 3],
    ]);
    expect(coco.annotations.filter((a) => a.image_id === 2)).toEqual([]);
  });

  it("numbers categories classId + 1 with the ontology names", () => {
    expect(coco.categories.map((c) => [c.id, c.name])).toEqual([[1, "background"], [2, "land"], [3, "water"], [4, "cloud"]]);
  });

  it("writes a box as bbox with area w·h and no segmentation", () => {
    const ann = coco.annotations[0]!;
    expect(ann).toMatchObject({ id: 1, image_id: 1, category_id: 2, bbox: [0.5, 1, 2, 1.5], area: 3, iscrowd: 0 });
    expect(ann.segmentation).toBeUndefined();
  });

  it("writes a polygon with its envelope and shoelace area", () => {
    // Triangle (0,0),(2,0),(2,2) = 2 plus the 2×1 rectangle = 4; points span x 0..5, y 0..4.
    expect(coco.annotations[1]).toMatchObject({ category_id: 3, bbox: [0, 0, 5, 4], area: 4, segmentation: [[0, 0, 2, 0, 2, 2], [3, 3, 5, 3, 5, 4, 3, 4]] });
  });

  it("writes a mask as column-major compressed RLE with pixel area and bbox", () => {
    // Columns: 1111 1001 1001 1001 1111 → runs [0,5,2,2,2,2,2,5]; deltas from index 3:
    // 2−5 = −3 → 'M', 0, 0, 0, 5−2 = 3 → "052M0003".
    expect(coco.annotations[2]).toMatchObject({ category_id: 4, iscrowd: 1, area: 14, bbox: [0, 0, 5, 4], segmentation: { size: [4, 5], counts: "052M0003" } });
  });

  it("refuses objects of unknown class and items without a file name", () => {
    const unknown = annotation("x", 2, 2, [{ id: "u", classId: null, className: "snow", kind: "box", box: { x: 0, y: 0, w: 1, h: 1 } }]);
    expect(() => toCoco([unknown], ontology, [{ itemId: "x", fileName: "x.png" }])).toThrow(/"snow", which is not in the ontology/);
    expect(() => toCoco([itemB], ontology, [])).toThrow(/no file name for item "item-b"/);
    expect(() => toCoco([itemB], ontology, [...files])).toThrow(PermanentError);
  });
});

describe("fromCoco", () => {
  it("restores exactly the canonical annotations from our own export (through JSON)", () => {
    const json = JSON.parse(JSON.stringify(toCoco([itemA, itemB, itemC], ontology, files))) as unknown;
    expect(fromCoco(json, ontology)).toStrictEqual([itemA, itemB, itemC]);
  });

  it("reads a plain COCO file from another tool", () => {
    const plain = {
      images: [
        { id: 10, file_name: "x.png", width: 4, height: 3 },
        { id: 11, file_name: "empty.png", width: 2, height: 2 },
      ],
      categories: [{ id: 7, name: "Water" }, { id: 9, name: "boat" }],
      annotations: [
        { id: 100, image_id: 10, category_id: 7, bbox: [1, 1, 2, 1], area: 2, iscrowd: 0 },
        { id: 101, image_id: 10, category_id: 9, segmentation: [[0, 0, 2, 0, 2, 2]], bbox: [0, 0, 2, 2], area: 2, iscrowd: 0 },
        // Uncompressed column-major RLE of rows 0110/0110/0001.
        { id: 102, image_id: 10, category_id: 7, segmentation: { size: [3, 4], counts: [3, 2, 1, 2, 3, 1] }, bbox: [1, 0, 3, 3], area: 5, iscrowd: 1 },
      ],
    };
    const provenance = { backend: "coco", labelId: "file-1", editedAt: "2024-02-03T04:05:06.000Z", annotator: "tool" };
    expect(fromCoco(plain, ontology, provenance)).toStrictEqual([
      {
        schema: "canonical-annotation/v1",
        itemId: "x.png",
        image: { width: 4, height: 3 },
        objects: [
          { id: "100", classId: 2, className: "Water", kind: "box", box: { x: 1, y: 1, w: 2, h: 1 } },
          { id: "101", classId: null, className: "boat", kind: "polygon", polygon: [[0, 0, 2, 0, 2, 2]] },
          { id: "102", classId: 2, className: "Water", kind: "mask", mask: { counts: countsFromRows(["0110", "0110", "0001"]) }, iscrowd: true },
        ],
        classifications: [],
        provenance,
      },
      { schema: "canonical-annotation/v1", itemId: "empty.png", image: { width: 2, height: 2 }, objects: [], classifications: [], provenance },
    ]);
  });

  it("defaults provenance for plain files", () => {
    const [only] = fromCoco({ images: [{ id: 5, file_name: "p.png", width: 1, height: 1 }], annotations: [], categories: [] }, ontology);
    expect(only!.provenance).toEqual({ backend: "coco", labelId: "coco:5", annotator: null, editedAt: "1970-01-01T00:00:00.000Z" });
  });

  it("explains what is wrong with a bad file", () => {
    expect(() => fromCoco({ images: "nope" }, ontology)).toThrow(/not a COCO dataset/);
    const orphan = { images: [], annotations: [{ id: 1, image_id: 3, category_id: 1, bbox: [0, 0, 1, 1] }], categories: [] };
    expect(() => fromCoco(orphan, ontology)).toThrow(/refers to image 3/);
    const shortRing = { images: [{ id: 1, file_name: "a", width: 2, height: 2 }], annotations: [{ id: 1, image_id: 1, category_id: 1, segmentation: [[0, 0, 1, 1]] }], categories: [] };
    expect(() => fromCoco(shortRing, ontology)).toThrow(/ring with 4 coordinates/);
  });
});
