import * as z from "zod";
import { PermanentError } from "../../errors.ts";
import { summariseIssues } from "../../messages/build.ts";

/**
 * PARAMS of the baseline trainer. Defaults keep the demo (≈20 scenes of 256×256) around ten
 * seconds on one core: 6k pixels per image, 30 epochs of mini-batch Adam on a 4→16→C network.
 */
export const BaselineParamsSchema = z.object({
  seed: z.number().int().min(0).max(2 ** 32 - 1).default(42),
  epochs: z.number().int().min(1).max(1000).default(30),
  hidden: z.number().int().min(1).max(256).default(16),
  samplesPerImage: z.number().int().min(1).max(1_000_000).default(6000),
  /** Cap on pixels over the whole dataset; samplesPerImage shrinks for large datasets. */
  maxSamples: z.number().int().min(1).max(10_000_000).default(240_000),
  batchSize: z.number().int().min(1).max(65_536).default(256),
  learningRate: z.number().positive().max(1).default(0.01),
  balancePower: z.number().min(0).max(1).default(0.5),
  /** Share of sampled pixels kept out of training for the self-reported metrics. */
  holdoutFraction: z.number().min(0).max(0.5).default(0.1),
});

export type BaselineParams = z.infer<typeof BaselineParamsSchema>;

/**
 * Parses PARAMS. Keys the baseline does not know are returned (to be logged), not refused: PARAMS
 * is the run's configuration and may carry settings meant for the team's own trainer.
 */
export function parseBaselineParams(raw: unknown): { params: BaselineParams; ignoredKeys: string[] } {
  const source = raw ?? {};
  const parsed = BaselineParamsSchema.safeParse(source);
  if (!parsed.success) throw new PermanentError("invalid_params", `PARAMS for the baseline trainer: ${summariseIssues(parsed.error.issues)}`);
  const known = new Set(Object.keys(BaselineParamsSchema.shape));
  const ignoredKeys = typeof source === "object" ? Object.keys(source as object).filter((k) => !known.has(k)) : [];
  return { params: parsed.data, ignoredKeys };
}
