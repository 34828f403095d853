import * as z from "zod";

/**
 * The promotion policy. Threshold names follow MLflow's `MetricThreshold` (`threshold`,
 * `min_absolute_change`, `min_relative_change`, `greater_is_better`) so users recognise them:
 *
 * - `threshold`: the candidate must reach it (≤ when lower is better);
 * - `min_absolute_change`: candidate ≥ champion + Δ (≤ champion − Δ when lower is better);
 * - `min_relative_change`: candidate ≥ champion × (1 + r) (≤ champion × (1 − r)); when the
 *   champion is exactly 0 it means "strictly better by 1e-10", as in MLflow.
 * A metric missing on either side fails the check.
 */
export const MetricThresholdSchema = z.object({
  name: z.string().min(1),
  threshold: z.number().nullable().default(null),
  min_absolute_change: z.number().positive().nullable().default(null),
  min_relative_change: z.number().min(0).max(1).nullable().default(null),
  greater_is_better: z.boolean().default(true),
});

export const PromotionPolicySchema = z.object({
  /** The metric that decides, e.g. `mIoU` (segmentation), `AP` (detection), `macroF1` (classification). */
  primary_metric: MetricThresholdSchema.default({
    name: "mIoU",
    threshold: 0.3,
    min_absolute_change: null,
    min_relative_change: null,
    greater_is_better: true,
  }),
  per_class: z
    .object({
      /** Largest tolerated absolute drop of a per-class metric (IoU, AP, F1) against the champion. */
      max_drop: z.number().min(0).nullable().default(0.1),
      /** Classes with fewer evaluation instances (pixels, boxes, images) than this are not judged. */
      min_support: z.number().int().min(0).default(1),
    })
    .default({ max_drop: 0.1, min_support: 1 }),
  /**
   * When the candidate knows classes the champion does not, the primary metric may drop by up to
   * this much (absolute) and still pass: new classes usually cost a little on the old ones.
   */
  added_classes_tolerated_drop: z.number().min(0).default(0.02),
  /** Fewer evaluation items than this and nothing is promoted. */
  min_eval_items: z.number().int().min(1).default(3),
  /** `staging` is moved by the policy; `prod` is `auto`, needs `approve`, or is never moved by it. */
  prod: z.enum(["auto", "approve", "never"]).default("approve"),
  /** The alias whose holder is the champion the candidate must beat. */
  champion_alias: z.enum(["staging", "prod"]).default("staging"),
});

export type MetricThreshold = z.infer<typeof MetricThresholdSchema>;
export type PromotionPolicy = z.infer<typeof PromotionPolicySchema>;

export const DEFAULT_PROMOTION_POLICY: PromotionPolicy = PromotionPolicySchema.parse({});
