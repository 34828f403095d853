import { z } from "zod";
import { summariseIssues } from "../../../shared/messages/build.ts";

const gsUri = z.string().regex(/^gs:\/\/[a-z0-9][a-z0-9._-]*\/.+/, "a gs://bucket/name URI");
const gsPrefix = z.string().regex(/^gs:\/\/[a-z0-9][a-z0-9._-]*\/.*$/, "a gs://bucket/prefix/ URI");
const positiveInt = z.coerce.number().int().positive();

/**
 * The evaluation job's contract (DESIGN.md §5–6). Model ids default to their URIs: the launcher
 * may pass its own ids so the `evaluation.completed` message names models the way its database does.
 */
export const EvaluateEnvSchema = z.object({
  EVALUATION_ID: z.string().min(1).max(150),
  /** A prefix holding model.onnx, model.json and optionally metrics.json. */
  CANDIDATE_MODEL_URI: gsPrefix,
  CHAMPION_MODEL_URI: gsPrefix.optional(),
  CANDIDATE_MODEL_ID: z.string().min(1).optional(),
  CHAMPION_MODEL_ID: z.string().min(1).optional(),
  /** The dataset version's manifest.json. */
  DATASET_URI: gsUri,
  /** Where report.json, summary.md, summary.html and per-class.svg are written. */
  REPORT_PREFIX: gsPrefix,
  BENCHMARK_DATASET_URI: gsUri.optional(),
  CORRELATION_ID: z.string().min(1).max(200).optional(),
  EVAL_BATCH_SIZE: positiveInt.max(256).optional(),
  EVAL_TILE_SIZE: positiveInt.max(8192).optional(),
});

export type EvaluateEnv = z.infer<typeof EvaluateEnvSchema>;

/** Empty strings count as unset, as in `loadConfig`. */
export function parseEvaluateEnv(env: Record<string, string | undefined>): { ok: true; env: EvaluateEnv } | { ok: false; error: string } {
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ""));
  const parsed = EvaluateEnvSchema.safeParse(cleaned);
  return parsed.success ? { ok: true, env: parsed.data } : { ok: false, error: `invalid evaluation job environment: ${summariseIssues(parsed.error.issues)}` };
}
