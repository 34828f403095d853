import { describe, expect, it } from "vitest";
import type { CanonicalAnnotation, CanonicalObject } from "../../../../shared/core/annotation/canonical.ts";
import { ontologyFromNames } from "../../../../shared/core/annotation/ontology.ts";
import { fromYolo, toYolo, yoloDataYaml } from "../../../../shared/core/annotation/yolo.ts";
import { annotation, maskObject, provenance, seededRandom } from "./fixtures.ts";

const ontology = ontologyFromNames(["background", "land", "water"]);

describe("toYolo", () => {
  it("writes boxes as centre/size and polygons as segments, normalised", () => {
    const a = annotation("i", 100, 50, [
      { id: "b", classId: 1, className: "land", kind: "box", box: { x: 10, y: 5, w: 20, h: 10 } },
      { id: "p", classId: 2, className: "water", kind: "polygon", polygon: [[10, 5, 50, 5, 50, 25]] },
    ]);
    // Box centre (20, 10) → 0.2, 0.2; size 20×10 → 0.2, 0.2. Polygon x/100, y/50.
    const out = toYolo(a);
    expect(out.text).toBe("1 0.2 0.2 0.2 0.2\n2 0.1 0.1 0.5 0.1 0.5 0.5\n");
    expect(out.skipped).toEqual([]);
  });

  it("gives an empty file for an image without objects", () => {
    expect(toYolo(annotation("i", 10, 10, []))).toEqual({ text: "", skipped: [], warnings: [] });
  });

  it("lists masks and unknown classes as skipped, with reasons", () => {
    const a = annotation("i", 2, 1, [
      maskObject("m", 1, "land", ["10"]),
      { id: "u", classId: null, className: "snow", kind: "box", box: { x: 0, y: 0, w: 1, h: 1 } },
      { id: "b", classId: 2, className: "water", kind: "box", box: { x: 0, y: 0, w: 2, h: 1 } },
    ]);
    const out = toYolo(a);
    expect(out.text).toBe("2 0.5 0.5 1 1\n");
    expect(out.skipped).toEqual([
      { objectId: "m", reason: expect.stringMatching(/cannot represent masks/) },
      { objectId: "u", reason: expect.stringMatching(/"snow" is not in the ontology/) },
    ]);
  });

  it("warns about files mixing box and segment lines, and the modes avoid it", () => {
    const a = annotation("i", 10, 10, [
      { id: "b", classId: 1, className: "land", kind: "box", box: { x: 0, y: 0, w: 5, h: 5 } },
      { id: "p", classId: 2, className: "water", kind: "polygon", polygon: [[2, 2, 8, 2, 8, 6]] },
    ]);
    expect(toYolo(a).warnings).toEqual([expect.stringMatching(/mixes 1 box and 1 segment lines/)]);
    // detect: the triangle's envelope is x 2..8, y 2..6 → centre (5, 4), size 6×4.
    expect(toYolo(a, { mode: "detect" })).toEqual({ text: "1 0.25 0.25 0.5 0.5\n2 0.5 0.4 0.6 0.4\n", skipped: [], warnings: [] });
    // segment: the box becomes its four corners.
    expect(toYolo(a, { mode: "segment" }).text).toBe("1 0 0 0.5 0 0.5 0.5 0 0.5\n2 0.2 0.2 0.8 0.2 0.8 0.6\n");
  });

  it("writes each ring of a multi-ring polygon as a line and says so", () => {
    const a = annotation("i", 10, 10, [{ id: "p", classId: 1, className: "land", kind: "polygon", polygon: [[0, 0, 1, 0, 1, 1], [5, 5, 6, 5, 6, 6]] }]);
    const out = toYolo(a);
    expect(out.text.split("\n").filter(Boolean)).toHaveLength(2);
    expect(out.warnings).toEqual([expect.stringMatching(/"p" has 2 rings/)]);
  });
});

describe("fromYolo", () => {
  it("reads boxes and polygons with deterministic ids and ontology names", () => {
    const a = fromYolo("1 0.2 0.2 0.2 0.2\n\n2 0.1 0.1 0.5 0.1 0.5 0.5\n7 0.5 0.5 1 1\n", { itemId: "it", width: 100, height: 50, provenance, ontology });
    expect(a.objects).toEqual([
      { id: "it#0", classId: 1, className: "land", kind: "box", box: { x: 10, y: 5, w: 20, h: 10 } },
      { id: "it#1", classId: 2, className: "water", kind: "polygon", polygon: [[10, 5, 50, 5, 50, 25]] },
      { id: "it#2", classId: null, className: "7", kind: "box", box: { x: 0, y: 0, w: 100, h: 50 } },
    ]);
  });

  it("keeps an empty file as an annotation with no objects", () => {
    expect(fromYolo("", { itemId: "e", width: 4, height: 4, provenance })).toEqual(annotation("e", 4, 4, []));
  });

  it("names the line of a malformed file", () => {
    const opts = { itemId: "x", width: 4, height: 4, provenance };
    expect(() => fromYolo("1 0.5 0.5 0.1 0.1\n1 0.5 0.5 0.1\n", opts)).toThrow(/line 2: 3 coordinates/);
    expect(() => fromYolo("a 0.5 0.5 0.1 0.1", opts)).toThrow(/line 1: class "a"/);
    expect(() => fromYolo("1 0.5 nan 0.1 0.1", opts)).toThrow(/"nan" is not a number/);
  });

  it("round-trips box and polygon annotations within 1e-6 px, order kept", () => {
    const random = seededRandom(3);
    for (let trial = 0; trial < 50; trial++) {
      const width = 1 + Math.floor(random() * 10000);
      const height = 1 + Math.floor(random() * 10000);
      const objects: CanonicalObject[] = [];
      const count = Math.floor(random() * 5);
      for (let i = 0; i < count; i++) {
        const classId = Math.floor(random() * 3);
        const className = ontology.classes[classId]!.name;
        if (random() < 0.5) {
          const x = random() * width;
          const y = random() * height;
          objects.push({ id: `r#${i}`, classId, className, kind: "box", box: { x, y, w: random() * (width - x), h: random() * (height - y) } });
        } else {
          const ring = Array.from({ length: 2 * (3 + Math.floor(random() * 5)) }, (_, k) => random() * (k % 2 === 0 ? width : height));
          objects.push({ id: `r#${i}`, classId, className, kind: "polygon", polygon: [ring] });
        }
      }
      const original: CanonicalAnnotation = annotation("r", width, height, objects);
      const back = fromYolo(toYolo(original).text, { itemId: "r", width, height, provenance, ontology });
      expect(back.objects.map((o) => [o.id, o.kind, o.classId])).toEqual(objects.map((o) => [o.id, o.kind, o.classId]));
      back.objects.forEach((object, i) => {
        const expected = objects[i]!;
        const got = object.kind === "box" ? Object.values(object.box) : object.kind === "polygon" ? object.polygon.flat() : [];
        const want = expected.kind === "box" ? Object.values(expected.box) : expected.kind === "polygon" ? expected.polygon.flat() : [];
        expect(got).toHaveLength(want.length);
        got.forEach((v, k) => expect(Math.abs(v - want[k]!)).toBeLessThan(1e-6));
      });
    }
  });
});

describe("yoloDataYaml", () => {
  it("lists class names by id", () => {
    expect(yoloDataYaml(ontology, { train: "images/train" })).toBe(
      '# Class ids index the project ontology.\ntrain: "images/train"\nnc: 3\nnames:\n  - "background"\n  - "land"\n  - "water"\n',
    );
  });
});
