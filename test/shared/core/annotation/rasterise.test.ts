import { describe, expect, it } from "vitest";
import type { CanonicalObject } from "../../../../shared/core/annotation/canonical.ts";
import {
  maskArea,
  maskBounds,
  objectPixelMask,
  pointInRing,
  polygonArea,
  polygonBounds,
  polygonRingsArea,
  semanticMask,
} from "../../../../shared/core/annotation/rasterise.ts";
import { annotation, countsFromRows, maskFromRows, maskObject, rasterFromRows } from "./fixtures.ts";

const box = (id: string, classId: number | null, x: number, y: number, w: number, h: number): CanonicalObject => ({
  id, classId, className: `c${classId}`, kind: "box", box: { x, y, w, h },
});
const polygon = (id: string, classId: number, rings: number[][]): CanonicalObject => ({
  id, classId, className: `c${classId}`, kind: "polygon", polygon: rings,
});

describe("objectPixelMask", () => {
  it("fills a box by pixel centres", () => {
    expect(objectPixelMask(box("b", 1, 1, 1, 2, 2), 4, 4)).toEqual(maskFromRows(["0000", "0110", "0110", "0000"]).mask);
  });

  it("leaves out pixels whose centre is not inside a fractional box", () => {
    // x from 0.6 to 1.6: centre 0.5 is outside, 1.5 inside. y from 0 to 1: only row 0.
    expect(objectPixelMask(box("b", 1, 0.6, 0, 1, 1), 3, 2)).toEqual(maskFromRows(["010", "000"]).mask);
  });

  it("clips a box that overhangs the image", () => {
    expect(objectPixelMask(box("b", 1, -2, 1, 4, 5), 3, 3)).toEqual(maskFromRows(["000", "110", "110"]).mask);
  });

  it("fills a triangle: centres on the right-hand edge are outside", () => {
    // (0,0),(4,0),(0,4): centre (c+.5, r+.5) is inside when c + r + 1 < 4.
    const triangle = polygon("t", 1, [[0, 0, 4, 0, 0, 4]]);
    expect(objectPixelMask(triangle, 4, 4)).toEqual(maskFromRows(["1110", "1100", "1000", "0000"]).mask);
  });

  it("uses the even-odd rule, so an inner ring is a hole", () => {
    const withHole = polygon("h", 1, [[0, 0, 4, 0, 4, 4, 0, 4], [1, 1, 3, 1, 3, 3, 1, 3]]);
    expect(objectPixelMask(withHole, 4, 4)).toEqual(maskFromRows(["1111", "1001", "1001", "1111"]).mask);
  });

  it("fills two disjoint rings as two parts", () => {
    const parts = polygon("p", 1, [[0, 0, 1, 0, 1, 1, 0, 1], [3, 2, 4, 2, 4, 3, 3, 3]]);
    expect(objectPixelMask(parts, 4, 3)).toEqual(maskFromRows(["1000", "0000", "0001"]).mask);
  });

  it("decodes a mask object", () => {
    const rows = ["0110", "0001"];
    expect(objectPixelMask(maskObject("m", 1, "c1", rows), 4, 2)).toEqual(maskFromRows(rows).mask);
  });

  it("refuses a mask whose RLE is not the image size", () => {
    expect(() => objectPixelMask({ id: "m", classId: 1, className: "c", kind: "mask", mask: { counts: [3, 2] } }, 4, 2)).toThrow(/5 pixels/);
  });
});

describe("semanticMask", () => {
  it("paints objects in order, later over earlier, and skips unknown classes", () => {
    const a = annotation("i", 4, 3, [
      box("first", 1, 0, 0, 3, 3),
      box("second", 2, 2, 0, 2, 2),
      box("unknown", null, 0, 0, 4, 3),
      maskObject("third", 3, "c3", ["0000", "0000", "1100"]),
    ]);
    expect(semanticMask(a)).toEqual(rasterFromRows(["1122", "1122", "3310"]));
  });

  it("uses the given background and writes ignoreValue on nodata pixels", () => {
    const a = annotation("i", 3, 2, [box("b", 2, 0, 0, 2, 1)]);
    const ignore = Uint8Array.from([255, 0, 0, 0, 0, 255]);
    expect(semanticMask(a, { background: 1, ignore, ignoreValue: 9 })).toEqual(rasterFromRows(["921", "119"]));
    expect(semanticMask(a, { ignore })[0]).toBe(255);
  });

  it("refuses class ids that do not fit in 8 bits", () => {
    expect(() => semanticMask(annotation("i", 2, 2, [box("b", 300, 0, 0, 1, 1)]))).toThrow(/8-bit/);
  });
});

describe("areas and bounds", () => {
  it("computes shoelace areas", () => {
    expect(polygonArea([0, 0, 4, 0, 0, 4])).toBe(8);
    expect(polygonArea([0, 0, 0, 4, 4, 0])).toBe(8); // orientation does not matter
  });

  it("subtracts holes and adds disjoint parts", () => {
    expect(polygonRingsArea([[0, 0, 4, 0, 4, 4, 0, 4], [1, 1, 3, 1, 3, 3, 1, 3]])).toBe(12);
    expect(polygonRingsArea([[0, 0, 1, 0, 1, 1, 0, 1], [3, 2, 4, 2, 4, 3, 3, 3]])).toBe(2);
  });

  it("tests points against a ring", () => {
    expect(pointInRing(1, 1, [0, 0, 4, 0, 0, 4])).toBe(true);
    expect(pointInRing(3, 3, [0, 0, 4, 0, 0, 4])).toBe(false);
  });

  it("bounds polygons and masks", () => {
    expect(polygonBounds([[1, 2, 5, 2, 3, 7]])).toEqual([1, 2, 4, 5]);
    // Pixels at (3,0) and (0,1) in a 4-wide mask: one run wrapping the row end → full width.
    expect(maskBounds(countsFromRows(["0001", "1000"]), 4)).toEqual([0, 0, 4, 2]);
    expect(maskBounds(countsFromRows(["0000", "0110", "0010"]), 4)).toEqual([1, 1, 2, 2]);
    expect(maskBounds([12], 4)).toEqual([0, 0, 0, 0]);
    expect(maskArea(countsFromRows(["0000", "0110", "0010"]))).toBe(3);
  });
});
