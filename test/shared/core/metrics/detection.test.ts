import { describe, expect, it } from "vitest";
import { decodeYoloRaw, parseNmsOutput, toCocoResults } from "../../../../shared/core/metrics/detection.ts";
import type { Detection } from "../../../../shared/core/metrics/detection.ts";

/** One anchor of a raw head: centre box and per-class scores. */
interface Anchor {
  cx: number;
  cy: number;
  w: number;
  h: number;
  scores: number[];
}

/** Lays anchors out as [N, 4 + C, A]: channel-major, anchors along the last axis. */
function rawHead(images: Anchor[][], classes: number): { output: Float32Array; dims: [number, number, number] } {
  const anchors = images[0]!.length;
  const channels = 4 + classes;
  const output = new Float32Array(images.length * channels * anchors);
  images.forEach((list, n) => {
    list.forEach((a, i) => {
      const values = [a.cx, a.cy, a.w, a.h, ...a.scores];
      values.forEach((v, c) => (output[(n * channels + c) * anchors + i] = v));
    });
  });
  return { output, dims: [images.length, channels, anchors] };
}

const f32 = Math.fround;
const options = { scoreThreshold: 0.25, iouThreshold: 0.5, maxDetections: 100 };

// a0 and a1 overlap: [40,40,60,60] vs [42,40,62,60] → 18·20 = 360 / (400 + 400 − 360) = .818.
const a0: Anchor = { cx: 50, cy: 50, w: 20, h: 20, scores: [0.9, 0.1] };
const a1: Anchor = { cx: 52, cy: 50, w: 20, h: 20, scores: [0.8, 0.05] };
const a2: Anchor = { cx: 52, cy: 50, w: 20, h: 20, scores: [0.1, 0.7] };
const a3: Anchor = { cx: 200, cy: 200, w: 10, h: 10, scores: [0.2, 0.15] };

function box(d: Detection): number[] {
  return [d.x1, d.y1, d.x2, d.y2];
}

describe("decodeYoloRaw", () => {
  it("converts centre boxes, keeps each anchor's best class and suppresses same-class overlaps", () => {
    const { output, dims } = rawHead([[a0, a1, a2, a3]], 2);
    const [detections] = decodeYoloRaw(output, dims, options);
    // a1 (class 0, IoU .818 with a0) is suppressed; a2 has the same box but class 1 → kept; a3's
    // best score .2 is below .25.
    expect(detections).toEqual([
      { x1: 40, y1: 40, x2: 60, y2: 60, score: f32(0.9), classId: 0 },
      { x1: 42, y1: 40, x2: 62, y2: 60, score: f32(0.7), classId: 1 },
    ]);
  });

  it("suppresses across classes when class-agnostic, and caps the count at maxDetections", () => {
    const { output, dims } = rawHead([[a0, a1, a2, a3]], 2);
    expect(decodeYoloRaw(output, dims, { ...options, classAgnostic: true })[0]!.map((d) => d.classId)).toEqual([0]);
    expect(decodeYoloRaw(output, dims, { ...options, maxDetections: 1 })[0]).toHaveLength(1);
  });

  it("keeps a score equal to the threshold and an overlap equal to the IoU threshold", () => {
    // [0,0,10,10] and [0,0,10,5]: IoU = 50/100 = .5, not > .5 → both kept.
    const big: Anchor = { cx: 5, cy: 5, w: 10, h: 10, scores: [0.5] };
    const half: Anchor = { cx: 5, cy: 2.5, w: 10, h: 5, scores: [0.25] };
    const { output, dims } = rawHead([[big, half]], 1);
    const [detections] = decodeYoloRaw(output, dims, options);
    expect(detections!.map(box)).toEqual([[0, 0, 10, 10], [0, 0, 10, 5]]);
    // Lower the NMS threshold below .5 and the smaller box goes.
    expect(decodeYoloRaw(output, dims, { ...options, iouThreshold: 0.49 })[0]).toHaveLength(1);
  });

  it("orders equal scores by anchor index, so the earlier anchor survives NMS", () => {
    const first: Anchor = { cx: 50, cy: 50, w: 20, h: 20, scores: [0.6] };
    const second: Anchor = { cx: 51, cy: 50, w: 20, h: 20, scores: [0.6] };
    const { output, dims } = rawHead([[second, first]], 1);
    // Anchor 0 (the box centred at 51) comes first among equals and suppresses anchor 1.
    expect(decodeYoloRaw(output, dims, options)[0]!.map(box)).toEqual([[41, 40, 61, 60]]);
  });

  it("gives a tie between classes to the lower class id", () => {
    const tied: Anchor = { cx: 10, cy: 10, w: 4, h: 4, scores: [0.1, 0.6, 0.6] };
    const { output, dims } = rawHead([[tied]], 3);
    expect(decodeYoloRaw(output, dims, options)[0]!.map((d) => d.classId)).toEqual([1]);
  });

  it("agrees with a plain sort-then-suppress reference on random heads", () => {
    // Reference written the obvious way: best class per anchor (first maximum), keep ≥ threshold,
    // sort by score (then anchor), greedy same-class suppression at IoU > threshold, top K.
    let seed = 12345;
    const random = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
    const classes = 5;
    const images = Array.from({ length: 3 }, () =>
      Array.from({ length: 400 }, () => ({
        cx: random() * 100, cy: random() * 100, w: 5 + random() * 30, h: 5 + random() * 30,
        // Coarse scores make ties (between anchors and between classes) common.
        scores: Array.from({ length: classes }, () => Math.round(random() * 20) / 20),
      })),
    );
    const { output, dims } = rawHead(images, classes);
    const opts = { scoreThreshold: 0.3, iouThreshold: 0.45, maxDetections: 60 };
    const iou = (p: number[], q: number[]) => {
      const w = Math.min(p[2]!, q[2]!) - Math.max(p[0]!, q[0]!);
      const h = Math.min(p[3]!, q[3]!) - Math.max(p[1]!, q[1]!);
      if (w <= 0 || h <= 0) return 0;
      return (w * h) / ((p[2]! - p[0]!) * (p[3]! - p[1]!) + (q[2]! - q[0]!) * (q[3]! - q[1]!) - w * h);
    };
    const reference = images.map((list) => {
      const candidates = list
        .map((a, anchor) => {
          const scores = a.scores.map(f32);
          const score = Math.max(...scores);
          const [cx, cy, hw, hh] = [f32(a.cx), f32(a.cy), f32(a.w) / 2, f32(a.h) / 2];
          return { anchor, score, classId: scores.indexOf(score), box: [cx - hw, cy - hh, cx + hw, cy + hh] };
        })
        .filter((c) => c.score >= opts.scoreThreshold)
        .sort((p, q) => q.score - p.score || p.anchor - q.anchor);
      const kept: typeof candidates = [];
      for (const c of candidates) {
        if (kept.length === opts.maxDetections) break;
        if (!kept.some((k) => k.classId === c.classId && iou(k.box, c.box) > opts.iouThreshold)) kept.push(c);
      }
      return kept.map((k) => [...k.box, k.score, k.classId]);
    });
    const decoded = decodeYoloRaw(output, dims, opts).map((list) => list.map((d) => [d.x1, d.y1, d.x2, d.y2, d.score, d.classId]));
    expect(decoded).toEqual(reference);
    expect(reference.flat().length).toBeGreaterThan(60); // the case is not trivially empty
  });

  it("decodes every image of a batch on its own", () => {
    const quiet: Anchor = { cx: 0, cy: 0, w: 1, h: 1, scores: [0.01, 0.01] };
    const { output, dims } = rawHead([[a0, quiet, quiet, quiet], [quiet, quiet, quiet, a2]], 2);
    const [first, second] = decodeYoloRaw(output, dims, options);
    expect(first!.map((d) => d.classId)).toEqual([0]);
    expect(second!.map((d) => [d.classId, d.score])).toEqual([[1, f32(0.7)]]);
  });

  it("refuses a tensor that does not match its dims", () => {
    expect(() => decodeYoloRaw(new Float32Array(10), [1, 6, 4], options)).toThrow(/need 24/);
    expect(() => decodeYoloRaw(new Float32Array(16), [1, 4, 4], options)).toThrow(/C ≥ 1/);
  });
});

describe("parseNmsOutput", () => {
  it("keeps real rows and drops low scores, zero padding and negative classes", () => {
    const rows = [
      [10, 20, 30, 40, 0.9, 2],
      [0, 0, 5, 5, 0.1, 1], // below threshold
      [0, 0, 0, 0, 0, 0], // padding
      [1, 1, 2, 2, 0.8, -1], // padded with class −1
      [5, 6, 7, 8, 0.3, 0],
    ];
    const second = [[1, 2, 3, 4, 0.5, 1], [0, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0]];
    const output = Float32Array.from([...rows.flat(), ...second.flat()]);
    const [a, b] = parseNmsOutput(output, [2, 5, 6], { scoreThreshold: 0.25 });
    expect(a).toEqual([
      { x1: 10, y1: 20, x2: 30, y2: 40, score: f32(0.9), classId: 2 },
      { x1: 5, y1: 6, x2: 7, y2: 8, score: f32(0.3), classId: 0 },
    ]);
    expect(b).toEqual([{ x1: 1, y1: 2, x2: 3, y2: 4, score: 0.5, classId: 1 }]);
  });

  it("insists on six values per row", () => {
    expect(() => parseNmsOutput(new Float32Array(10), [1, 2, 5], { scoreThreshold: 0 })).toThrow(/6 values/);
  });
});

describe("toCocoResults", () => {
  it("turns xyxy into [x, y, w, h] and maps classes to category ids, dropping unknown ones", () => {
    const detections: Detection[] = [
      { x1: 10, y1: 20, x2: 40, y2: 60, score: 0.9, classId: 0 },
      { x1: 0, y1: 0, x2: 1, y2: 1, score: 0.5, classId: 7 },
    ];
    const categoryIdOf = (classId: number) => (classId === 0 ? 3 : undefined);
    expect(toCocoResults(detections, 12, categoryIdOf)).toEqual([{ image_id: 12, category_id: 3, bbox: [10, 20, 30, 40], score: 0.9 }]);
  });
});
