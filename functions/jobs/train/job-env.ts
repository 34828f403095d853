import { z } from "zod";
import { PermanentError } from "../../../shared/errors.ts";
import { summariseIssues } from "../../../shared/messages/build.ts";

/** The training job's inputs (DESIGN.md §5), as the launcher sets them on the execution. */
const gsUri = z.string().regex(/^gs:\/\/[a-z0-9][a-z0-9._-]*\/.*/, "a gs://bucket/name URI");

export const TrainingJobEnvSchema = z.object({
  RUN_ID: z.string().min(1).max(200),
  DATASET_URI: gsUri,
  BASE_MODEL_URI: gsUri.optional(),
  PARAMS: z
    .string()
    .default("{}")
    .transform((s, ctx) => {
      try {
        const value = JSON.parse(s) as unknown;
        if (value && typeof value === "object" && !Array.isArray(value)) return s;
        ctx.addIssue({ code: "custom", message: "must be a JSON object" });
      } catch (e) {
        ctx.addIssue({ code: "custom", message: `not valid JSON (${(e as Error).message})` });
      }
      return z.NEVER;
    }),
  OUTPUT_PREFIX: gsUri.refine((s) => s.endsWith("/"), "must end with /"),
  TRAINER_COMMAND: z.string().min(1).optional(),
});

export type TrainingJobEnv = z.infer<typeof TrainingJobEnvSchema>;

export function parseTrainingJobEnv(env: Record<string, string | undefined>): TrainingJobEnv {
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ""));
  const parsed = TrainingJobEnvSchema.safeParse(cleaned);
  if (!parsed.success) throw new PermanentError("invalid_job_env", `training job environment: ${summariseIssues(parsed.error.issues)}`);
  return parsed.data;
}

/** Variables the team's trainer must not inherit: it needs none of the loop's secrets. */
export const SECRET_ENV_KEYS = ["DB_PASSWORD", "DATABASE_URL", "ENCORD_SSH_KEY", "ENCORD_SSH_KEY_FILE", "SLACK_BOT_TOKEN"] as const;
