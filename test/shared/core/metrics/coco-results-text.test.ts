import { describe, expect, it } from "vitest";
import { createPrng } from "../../../../shared/core/demo/prng.ts";
import { cocoEvaluate, type CocoGroundTruth } from "../../../../shared/core/metrics/coco.ts";
import { bytesSource, readDetectionColumns, type ByteSource } from "../../../../shared/core/metrics/coco-results-text.ts";

/** What JSON.parse makes of the same text, as columns. */
function viaJson(text: string) {
  const list = JSON.parse(text) as { image_id: number; category_id: number; bbox: number[]; score: number }[];
  return {
    imageId: list.map((d) => d.image_id),
    categoryId: list.map((d) => d.category_id),
    bbox: list.flatMap((d) => d.bbox),
    score: list.map((d) => d.score),
  };
}

describe("readDetectionColumns", () => {
  it("reads every number exactly as JSON.parse does: long, short, negative, exponents, zeros", () => {
    const prng = createPrng(42);
    const numbers = [
      0, -0, 1, 10, 0.1, 0.5, 1.5, 123.456, 1e-7, 2.5e21, 1e300, 5e-324, 9007199254740993, 0.30000000000000004, 1.7976931348623157e308,
      ...Array.from({ length: 2000 }, () => prng.next() * 10 ** (prng.int(20) - 10)),
      ...Array.from({ length: 500 }, () => Number((prng.next() * 1000).toFixed(prng.int(8)))),
    ];
    const dets = numbers.map((v, i) => ({ image_id: i + 1, category_id: (i % 7) + 1, bbox: [v, -v, v, v], score: v }));
    // Hand-written spellings JSON.stringify never produces.
    const text = `${JSON.stringify(dets).slice(0, -1)}, {"score": 1.50E+2, "bbox": [ 0.000123 , 1.0e-3,2E2, 007e0 ], "category_id": 1.0, "image_id": -0}]`
      .replace("007e0", "7e0");
    const columns = readDetectionColumns(text)!;
    expect(columns).not.toBeNull();
    const expected = viaJson(text);
    expect(columns.count).toBe(expected.score.length);
    expect([...columns.imageId]).toEqual(expected.imageId);
    expect([...columns.categoryId]).toEqual(expected.categoryId);
    expect([...columns.bbox]).toEqual(expected.bbox);
    expect([...columns.score]).toEqual(expected.score);
    expect(Object.is(columns.imageId[columns.count - 1], -0)).toBe(true);
  });

  it.each([
    ["not a list", '{"image_id": 1}'],
    ["another key", '[{"image_id": 1, "category_id": 1, "bbox": [0, 0, 1, 1], "score": 0.5, "id": 3}]'],
    ["a repeated key", '[{"image_id": 1, "image_id": 2, "category_id": 1, "bbox": [0, 0, 1, 1], "score": 0.5}]'],
    ["a missing key", '[{"image_id": 1, "bbox": [0, 0, 1, 1], "score": 0.5}]'],
    ["a fractional id", '[{"image_id": 1.5, "category_id": 1, "bbox": [0, 0, 1, 1], "score": 0.5}]'],
    ["a negative width", '[{"image_id": 1, "category_id": 1, "bbox": [0, 0, -1, 1], "score": 0.5}]'],
    ["three coordinates", '[{"image_id": 1, "category_id": 1, "bbox": [0, 0, 1], "score": 0.5}]'],
    ["a string score", '[{"image_id": 1, "category_id": 1, "bbox": [0, 0, 1, 1], "score": "0.5"}]'],
    ["a leading zero", '[{"image_id": 01, "category_id": 1, "bbox": [0, 0, 1, 1], "score": 0.5}]'],
    ["an overflow", '[{"image_id": 1, "category_id": 1, "bbox": [0, 0, 1, 1], "score": 1e999}]'],
    ["a trailing comma", '[{"image_id": 1, "category_id": 1, "bbox": [0, 0, 1, 1], "score": 0.5},]'],
    ["text after the list", '[{"image_id": 1, "category_id": 1, "bbox": [0, 0, 1, 1], "score": 0.5}] x'],
    ["an escaped key", '[{"image\\u005fid": 1, "category_id": 1, "bbox": [0, 0, 1, 1], "score": 0.5}]'],
    ["a byte order mark", '\ufeff[]'],
  ])("leaves %s to JSON.parse and the schema (returns null)", (_what, text) => {
    expect(readDetectionColumns(text)).toBeNull();
  });

  it("reads across the source's chunk boundaries, whatever their size", () => {
    const prng = createPrng(3);
    const dets = Array.from({ length: 3000 }, (_, i) => ({
      image_id: i + 1,
      category_id: 1 + prng.int(5),
      bbox: [prng.next() * 600, prng.next() * 400, prng.next() * 90, prng.next() * 90],
      score: prng.next(),
    }));
    const text = JSON.stringify(dets, null, prng.int(2) ? 1 : 0);
    const bytes = new TextEncoder().encode(text);
    const expected = viaJson(text);
    for (const chunk of [1, 7, 4093, 65_536]) {
      // A source that hands over at most `chunk` bytes per call, as a slow pipe would.
      const whole = bytesSource(bytes);
      const trickle: ByteSource = (into, offset, length) => whole(into, offset, Math.min(length, chunk));
      const columns = readDetectionColumns(trickle)!;
      expect(columns.count).toBe(dets.length);
      expect([...columns.bbox]).toEqual(expected.bbox);
      expect([...columns.score]).toEqual(expected.score);
    }
  });

  it("reads a detection longer than its look-ahead (odd whitespace) right, or leaves it to JSON.parse", () => {
    const plain = (id: number) => `{"image_id": ${id}, "category_id": 1, "bbox": [0, 0, 1, 1], "score": 0.5}`;
    const padded = `{"image_id": 0,${" ".repeat(5000)}"category_id": 1, "bbox": [0, 0, 1, 1], "score": 0.5}`;
    const outcomes = new Set<string>();
    // Slide the padded detection across the end of the reader's first 1 MiB buffer.
    let before = 0;
    for (let at = 1; at < (1 << 20) - 6000; before++) at += plain(before + 1).length + 1;
    for (let n = before; n < before + 120; n += 3) {
      const text = `[${[...Array.from({ length: n }, (_, i) => plain(i + 1)), padded, plain(n + 1)].join(",")}]`;
      const columns = readDetectionColumns(text);
      if (columns === null) {
        outcomes.add("null");
      } else {
        outcomes.add("read");
        expect([...columns.imageId]).toEqual(viaJson(text).imageId);
      }
    }
    // Both happen: read whole when it fits the buffer, declined where it straddles a refill.
    expect(outcomes).toEqual(new Set(["null", "read"]));
    // Long whitespace between detections and after the list is always fine.
    const spaced = `[${plain(1)},${"\n".repeat(9000)}${plain(2)}]${" ".repeat(3_000_000)}`;
    expect(readDetectionColumns(spaced)?.count).toBe(2);
  });

  it("reads an empty list", () => {
    expect(readDetectionColumns(" [ ] \n")?.count).toBe(0);
  });

  it("gives cocoEvaluate the same numbers as the parsed objects", () => {
    const gt: CocoGroundTruth = {
      images: [{ id: 1 }, { id: 2 }],
      annotations: [
        { id: 1, image_id: 1, category_id: 1, bbox: [10, 10, 20, 20], area: 400, iscrowd: 0 },
        { id: 2, image_id: 2, category_id: 2, bbox: [5, 5, 50, 40], area: 2000, iscrowd: 0 },
      ],
      categories: [{ id: 1, name: "a" }, { id: 2, name: "b" }],
    };
    const text = JSON.stringify([
      { image_id: 1, category_id: 1, bbox: [11, 9, 20, 21], score: 0.9 },
      { image_id: 2, category_id: 2, bbox: [6, 5, 48, 40], score: 0.8 },
      { image_id: 2, category_id: 1, bbox: [0, 0, 5, 5], score: 0.3 },
      { image_id: 1, category_id: 9, bbox: [0, 0, 5, 5], score: 0.3 },
    ]);
    const fromColumns = cocoEvaluate(gt, readDetectionColumns(text)!);
    const fromObjects = cocoEvaluate(gt, JSON.parse(text) as []);
    expect(fromColumns).toEqual(fromObjects);
    expect(fromColumns.warnings).toEqual(['1 detection(s) have a category_id missing from "categories" and are not evaluated']);
  });
});
