import * as z from "zod";

/**
 * Manual commands on the commands topic. The CLI publishes them; operators can also publish by
 * hand: `gcloud pubsub topics publish commands --message='{"name":"poll"}' --attribute=type=command`.
 */
const actor = z.string().min(1).max(200).default("operator");

export const CommandSchema = z.discriminatedUnion("name", [
  z.object({ name: z.literal("poll"), actor }),
  z.object({ name: z.literal("retrain"), actor, line: z.string().optional() }),
  z.object({ name: z.literal("promote"), actor, modelId: z.string().min(1), alias: z.string().min(1) }),
  z.object({ name: z.literal("rollback"), actor, alias: z.string().min(1) }),
  z.object({ name: z.literal("reprocess"), actor, itemId: z.string().min(1) }),
  z.object({ name: z.literal("backfill"), actor, prefix: z.string().default("") }),
  z.object({ name: z.literal("approve"), actor, evaluationId: z.string().min(1) }),
  z.object({ name: z.literal("reject"), actor, evaluationId: z.string().min(1), reason: z.string().default("rejected by reviewer") }),
  /** Re-drives a dead-lettered message (by dead-letter row id or message id) once its cause is fixed. */
  z.object({ name: z.literal("replay"), actor, deadLetter: z.string().min(1).max(300) }),
  /**
   * Batch prediction (the `predict` job) over the objects under `prefix`: a path in the archive
   * bucket (`uploads/2024/`), or a full `gs://bucket/prefix` URI.
   */
  z.object({
    name: z.literal("predict"),
    actor,
    alias: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/, "an alias name"),
    prefix: z.string().max(1000).default(""),
  }),
]);

export type Command = z.infer<typeof CommandSchema>;
export type CommandName = Command["name"];
export const COMMAND_NAMES = CommandSchema.options.map((o) => o.shape.name.value) as CommandName[];
