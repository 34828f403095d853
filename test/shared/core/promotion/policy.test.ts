import { describe, expect, it } from "vitest";
import type { ModelResult, SetResult } from "../../../../shared/core/evaluation/report.ts";
import { decidePromotion, type PromotionInput } from "../../../../shared/core/promotion/policy.ts";
import { PromotionPolicySchema, type PromotionPolicy } from "../../../../shared/core/promotion/policy-schema.ts";

interface ModelSpec {
  metrics: Record<string, number | null>;
  perClass?: Record<string, [value: number | null, support: number]>;
}

function model(role: "candidate" | "champion", spec: ModelSpec): ModelResult {
  const perClass = Object.entries(spec.perClass ?? {}).map(([className, [value, support]]) => ({ className, support, value, metrics: { IoU: value } }));
  return {
    role, modelId: role, uri: `gs://models/${role}/`, name: role, classes: perClass.map((c) => c.className), outputFormat: "logits",
    primaryMetric: { name: "mIoU", value: spec.metrics.mIoU ?? null }, metrics: spec.metrics, perClassMetric: "IoU", perClass,
    confusion: null, timings: { inferenceMs: 1, totalMs: 1, inferenceCalls: 1, items: 1, pixels: 1, pixelsPerSecond: 1000 }, selfReported: null,
  };
}

function input(options: { items?: number; candidate: ModelSpec; champion?: ModelSpec; newClasses?: string[]; policy?: Partial<Record<string, unknown>> }): PromotionInput {
  const evaluation: SetResult = {
    datasetUri: "gs://datasets/default/v/manifest.json", versionId: "v", line: "default", split: "eval", itemCount: options.items ?? 50,
    classes: [], skippedItems: [], candidate: model("candidate", options.candidate), champion: options.champion ? model("champion", options.champion) : null,
  };
  return { report: { evaluation, newClasses: options.newClasses ?? [] }, policy: policy(options.policy ?? {}) };
}

function policy(overrides: Partial<Record<string, unknown>>): PromotionPolicy {
  return PromotionPolicySchema.parse({ per_class: { max_drop: null }, ...overrides });
}

const primary = (o: Record<string, unknown>) => ({ primary_metric: { name: "mIoU", ...o } });

describe("decidePromotion: minimum evaluation size", () => {
  it("promotes when there are enough items", () => {
    const d = decidePromotion(input({ items: 3, candidate: { metrics: { mIoU: 0.5 } }, policy: { min_eval_items: 3, ...primary({ threshold: 0.3 }) } }));
    expect(d.outcome).toBe("promote");
    expect(d.checks.find((c) => c.name === "min_eval_items")?.passed).toBe(true);
  });

  it("moves nothing and asks for review when the evaluation is too small", () => {
    const d = decidePromotion(input({ items: 2, candidate: { metrics: { mIoU: 0.5 } }, policy: { min_eval_items: 3, ...primary({ threshold: 0.3 }) } }));
    expect(d).toMatchObject({ outcome: "review", stagingMove: false, prodOutcome: "none" });
    expect(d.reasons[0]).toMatch(/only 2 items; the policy needs at least 3/);
  });
});

describe("decidePromotion: threshold (MLflow semantics)", () => {
  it.each([
    { value: 0.3, greater: true, passed: true },
    { value: 0.29, greater: true, passed: false },
    { value: 0.3, greater: false, passed: true },
    { value: 0.31, greater: false, passed: false },
  ])("mIoU $value vs threshold 0.3 (greater_is_better=$greater) → passed=$passed", ({ value, greater, passed }) => {
    const d = decidePromotion(input({ candidate: { metrics: { mIoU: value } }, policy: primary({ threshold: 0.3, greater_is_better: greater }) }));
    expect(d.checks.find((c) => c.name === "threshold")?.passed).toBe(passed);
    expect(d.outcome).toBe(passed ? "promote" : "refuse");
  });

  it("names the metric in a refusal", () => {
    const d = decidePromotion(input({ candidate: { metrics: { mIoU: 0.25 } }, policy: primary({ threshold: 0.3 }) }));
    expect(d.reasons).toEqual(["mIoU 0.25 is below the threshold 0.30"]);
  });

  it("fails when the candidate lacks the metric (missing or undefined)", () => {
    for (const metrics of [{ pixelAccuracy: 0.9 }, { mIoU: null }] as Record<string, number | null>[]) {
      const d = decidePromotion(input({ candidate: { metrics }, policy: primary({ threshold: 0.3 }) }));
      expect(d.outcome).toBe("refuse");
      expect(d.reasons[0]).toMatch(/metric `mIoU` is missing from the candidate/);
    }
  });
});

describe("decidePromotion: comparison with the champion", () => {
  it.each([
    { cand: 0.75, champ: 0.7, delta: 0.05, passed: true },
    { cand: 0.74, champ: 0.7, delta: 0.05, passed: false },
  ])("min_absolute_change: $champ → $cand with Δ $delta passes=$passed", ({ cand, champ, delta, passed }) => {
    const d = decidePromotion(input({ candidate: { metrics: { mIoU: cand } }, champion: { metrics: { mIoU: champ } }, policy: primary({ min_absolute_change: delta }) }));
    expect(d.checks.find((c) => c.name === "min_absolute_change")?.passed).toBe(passed);
  });

  it("min_absolute_change when lower is better needs candidate ≤ champion − Δ", () => {
    const ok = decidePromotion(input({ candidate: { metrics: { mIoU: 0.4 } }, champion: { metrics: { mIoU: 0.5 } }, policy: primary({ min_absolute_change: 0.1, greater_is_better: false }) }));
    const bad = decidePromotion(input({ candidate: { metrics: { mIoU: 0.45 } }, champion: { metrics: { mIoU: 0.5 } }, policy: primary({ min_absolute_change: 0.1, greater_is_better: false }) }));
    expect(ok.outcome).toBe("promote");
    expect(bad.outcome).toBe("refuse");
  });

  it.each([
    // Binary-exact values, so the float arithmetic MLflow also uses cannot tip a boundary case.
    // (0.75 − 0.5) / 0.5 = 0.5 ≥ 0.5 passes; (0.625 − 0.5) / 0.5 = 0.25 fails.
    { cand: 0.75, champ: 0.5, r: 0.5, greater: true, passed: true },
    { cand: 0.625, champ: 0.5, r: 0.5, greater: true, passed: false },
    // Lower is better: (1 − 0.5) / 1 = 0.5 passes; (1 − 0.75) / 1 = 0.25 fails.
    { cand: 0.5, champ: 1, r: 0.5, greater: false, passed: true },
    { cand: 0.75, champ: 1, r: 0.5, greater: false, passed: false },
  ])("min_relative_change $champ → $cand with r $r (greater=$greater) passes=$passed", ({ cand, champ, r, greater, passed }) => {
    const d = decidePromotion(input({ candidate: { metrics: { mIoU: cand } }, champion: { metrics: { mIoU: champ } }, policy: primary({ min_relative_change: r, greater_is_better: greater }) }));
    expect(d.checks.find((c) => c.name === "min_relative_change")?.passed).toBe(passed);
  });

  it("falls back to 'strictly better by 1e-10' when the champion's value is exactly 0", () => {
    const run = (cand: number) =>
      decidePromotion(input({ candidate: { metrics: { mIoU: cand } }, champion: { metrics: { mIoU: 0 } }, policy: primary({ min_relative_change: 0.5 }) }));
    expect(run(0).outcome).toBe("refuse");
    expect(run(1e-11).outcome).toBe("refuse");
    expect(run(2e-10).outcome).toBe("promote");
    expect(run(0).reasons[0]).toMatch(/champion's mIoU is 0/);
  });

  it("fails the comparison when the champion lacks the metric", () => {
    const d = decidePromotion(input({ candidate: { metrics: { mIoU: 0.8 } }, champion: { metrics: { AP: 0.5 } }, policy: primary({ min_absolute_change: 0.01 }) }));
    expect(d.outcome).toBe("refuse");
    expect(d.reasons[0]).toMatch(/missing from the champion/);
  });

  it("checks only absolute thresholds when there is no champion", () => {
    const d = decidePromotion(input({ candidate: { metrics: { mIoU: 0.4 } }, policy: primary({ threshold: 0.3, min_absolute_change: 0.5, min_relative_change: 0.5 }) }));
    expect(d.outcome).toBe("promote");
    expect(d.checks.map((c) => c.name)).toEqual(["min_eval_items", "threshold"]);
  });

  it("tolerates a small drop instead of requiring an improvement when the candidate adds classes", () => {
    const base = { champion: { metrics: { mIoU: 0.72 } }, newClasses: ["snow"], policy: { ...primary({ min_absolute_change: 0.01 }), added_classes_tolerated_drop: 0.02 } };
    const within = decidePromotion(input({ ...base, candidate: { metrics: { mIoU: 0.71 } } }));
    expect(within.outcome).toBe("promote");
    expect(within.checks.find((c) => c.name === "added_classes_tolerated_drop")?.message).toMatch(/adds `snow`.*tolerated/);
    const beyond = decidePromotion(input({ ...base, candidate: { metrics: { mIoU: 0.69 } } }));
    expect(beyond.outcome).toBe("refuse");
    expect(beyond.reasons[0]).toMatch(/mIoU dropped 0\.72 → 0\.69 \(−0\.03\); the candidate adds `snow`, which tolerates at most 0\.02/);
    // Without new classes the same numbers fail the improvement requirement.
    const noNew = decidePromotion(input({ ...base, newClasses: [], candidate: { metrics: { mIoU: 0.71 } } }));
    expect(noNew.outcome).toBe("refuse");
  });

  it("takes new classes from the report unless the caller overrides them", () => {
    const base = input({ candidate: { metrics: { mIoU: 0.71 } }, champion: { metrics: { mIoU: 0.72 } }, newClasses: ["snow"], policy: primary({ min_absolute_change: 0.01 }) });
    expect(decidePromotion(base).outcome).toBe("promote");
    expect(decidePromotion({ ...base, newClasses: [] }).outcome).toBe("refuse");
  });
});

describe("decidePromotion: per-class regression", () => {
  const perClassPolicy = { ...primary({ threshold: 0.1 }), per_class: { max_drop: 0.1, min_support: 100 } };

  it("refuses when a shared class drops more than max_drop, naming the class and both values", () => {
    const d = decidePromotion(input({
      candidate: { metrics: { mIoU: 0.7 }, perClass: { land: [0.9, 5000], thin_cloud: [0.41, 800] } },
      champion: { metrics: { mIoU: 0.7 }, perClass: { land: [0.88, 5000], thin_cloud: [0.62, 800] } },
      policy: perClassPolicy,
    }));
    expect(d.outcome).toBe("refuse");
    expect(d.failedClasses).toEqual(["thin_cloud"]);
    expect(d.reasons).toEqual(["per-class IoU of `thin_cloud` dropped 0.62 → 0.41 (−0.21), more than the allowed 0.10"]);
  });

  it("passes a drop of exactly max_drop despite float noise", () => {
    const d = decidePromotion(input({
      candidate: { metrics: { mIoU: 0.7 }, perClass: { water: [0.52, 500] } },
      champion: { metrics: { mIoU: 0.7 }, perClass: { water: [0.62, 500] } },
      policy: perClassPolicy,
    }));
    expect(d.outcome).toBe("promote");
  });

  it("does not judge classes below min_support or classes only one model knows", () => {
    const d = decidePromotion(input({
      candidate: { metrics: { mIoU: 0.7 }, perClass: { rare: [0.0, 99], snow: [0.1, 5000] } },
      champion: { metrics: { mIoU: 0.7 }, perClass: { rare: [0.9, 99], ice: [0.9, 5000] } },
      policy: perClassPolicy,
    }));
    expect(d.outcome).toBe("promote");
    expect(d.checks.some((c) => c.name.startsWith("per_class:"))).toBe(false);
  });

  it("fails a judged class whose metric is undefined on one side", () => {
    const d = decidePromotion(input({
      candidate: { metrics: { mIoU: 0.7 }, perClass: { water: [null, 500] } },
      champion: { metrics: { mIoU: 0.7 }, perClass: { water: [0.6, 500] } },
      policy: perClassPolicy,
    }));
    expect(d.outcome).toBe("refuse");
    expect(d.failedClasses).toEqual(["water"]);
  });

  it("is off when max_drop is null", () => {
    const d = decidePromotion(input({
      candidate: { metrics: { mIoU: 0.7 }, perClass: { water: [0.1, 500] } },
      champion: { metrics: { mIoU: 0.7 }, perClass: { water: [0.9, 500] } },
      policy: { ...primary({ threshold: 0.1 }), per_class: { max_drop: null, min_support: 1 } },
    }));
    expect(d.outcome).toBe("promote");
  });
});

describe("decidePromotion: prod", () => {
  it.each([
    { prod: "auto", expected: "promote" },
    { prod: "approve", expected: "review" },
    { prod: "never", expected: "none" },
  ])("prod=$prod → $expected when staging passes", ({ prod, expected }) => {
    const d = decidePromotion(input({ candidate: { metrics: { mIoU: 0.5 } }, policy: { ...primary({ threshold: 0.3 }), prod } }));
    expect(d).toMatchObject({ outcome: "promote", stagingMove: true, prodOutcome: expected });
  });

  it("never moves prod when staging is refused, even with prod=auto", () => {
    const d = decidePromotion(input({ candidate: { metrics: { mIoU: 0.2 } }, policy: { ...primary({ threshold: 0.3 }), prod: "auto" } }));
    expect(d).toMatchObject({ outcome: "refuse", stagingMove: false, prodOutcome: "none" });
  });
});
