import * as z from "zod";
import { PermanentError } from "../../errors.ts";
import { summariseIssues } from "../../messages/build.ts";
import { canonicalJson, sha256Hex } from "../json.ts";
import { parameterCount } from "./mlp.ts";
import type { TrainingState } from "./fit.ts";
import type { ChannelStats } from "./sampling.ts";

/**
 * The baseline's checkpoint: everything a resumed run needs to end exactly where an uninterrupted
 * one would (weights, Adam moments and step, shuffle RNG state, epochs done, normalisation), plus
 * a fingerprint of the inputs that produced it. Weights are JSON numbers: JavaScript prints a
 * float64 with enough digits to read it back bit-for-bit, so no binary encoding is needed.
 */
export const CHECKPOINT_SCHEMA = "baseline-mlp-checkpoint/v1";

const finite = z.number().refine(Number.isFinite, "must be finite");

/**
 * One epoch's numbers, in the per-epoch history both trainers write to metrics.json (the PyTorch
 * trainer's `history` uses the same keys): the training loss, the learning rate, and pixel accuracy
 * and mIoU on the trainer's held-out pixels (null when a class mean is undefined).
 */
export const EpochRecordSchema = z.object({
  epoch: z.number().int().positive(),
  loss: finite,
  learningRate: finite,
  pixelAccuracy: finite.nullable(),
  mIoU: finite.nullable(),
});
export type EpochRecord = z.infer<typeof EpochRecordSchema>;

export const CheckpointSchema = z
  .object({
    schema: z.literal(CHECKPOINT_SCHEMA),
    fingerprint: z.string().min(1),
    shape: z.object({ inputs: z.number().int().positive(), hidden: z.number().int().positive(), classes: z.number().int().positive() }),
    epoch: z.number().int().nonnegative(),
    weights: z.array(finite),
    adam: z.object({ step: z.number().int().nonnegative(), m: z.array(finite), v: z.array(finite) }),
    rngState: z.number().int().min(0).max(2 ** 32 - 1),
    losses: z.array(finite),
    /** Absent in checkpoints written before the history was kept: a resumed run then has a shorter one. */
    history: z.array(EpochRecordSchema).default([]),
    normalisation: z.object({ mean: z.array(finite), std: z.array(z.number().positive()) }),
  })
  .superRefine((cp, ctx) => {
    const n = parameterCount(cp.shape);
    for (const [path, arr] of [[["weights"], cp.weights], [["adam", "m"], cp.adam.m], [["adam", "v"], cp.adam.v]] as const) {
      if (arr.length !== n) ctx.addIssue({ code: "custom", path: [...path], message: `${arr.length} values, shape needs ${n}` });
    }
    if (cp.normalisation.mean.length !== cp.shape.inputs || cp.normalisation.std.length !== cp.shape.inputs) {
      ctx.addIssue({ code: "custom", path: ["normalisation"], message: `needs ${cp.shape.inputs} values per statistic` });
    }
  });

export interface Checkpoint {
  fingerprint: string;
  state: TrainingState;
  normalisation: ChannelStats;
  /** Per-epoch records so far, carried across resumes so the curve covers the whole run. */
  history?: EpochRecord[];
}

/** A stable id of the inputs a checkpoint belongs to: a checkpoint from other inputs must not be resumed. */
export function checkpointFingerprint(inputs: unknown): string {
  return sha256Hex(canonicalJson(inputs));
}

export function serialiseCheckpoint(checkpoint: Checkpoint): string {
  const { state } = checkpoint;
  return JSON.stringify({
    schema: CHECKPOINT_SCHEMA,
    fingerprint: checkpoint.fingerprint,
    shape: state.shape,
    epoch: state.epoch,
    weights: Array.from(state.weights),
    adam: { step: state.adam.step, m: Array.from(state.adam.m), v: Array.from(state.adam.v) },
    rngState: state.rngState,
    losses: state.losses,
    history: checkpoint.history ?? [],
    normalisation: checkpoint.normalisation,
  });
}

/** Parses a checkpoint file; a corrupt one is a PermanentError (the caller starts afresh). */
export function parseCheckpoint(text: string): Checkpoint {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new PermanentError("invalid_checkpoint", `checkpoint is not JSON: ${(err as Error).message}`);
  }
  const parsed = CheckpointSchema.safeParse(raw);
  if (!parsed.success) throw new PermanentError("invalid_checkpoint", `checkpoint does not fit ${CHECKPOINT_SCHEMA}: ${summariseIssues(parsed.error.issues)}`);
  const cp = parsed.data;
  return {
    fingerprint: cp.fingerprint,
    normalisation: cp.normalisation,
    history: cp.history,
    state: {
      shape: cp.shape,
      epoch: cp.epoch,
      weights: Float64Array.from(cp.weights),
      adam: { step: cp.adam.step, m: Float64Array.from(cp.adam.m), v: Float64Array.from(cp.adam.v) },
      rngState: cp.rngState,
      losses: cp.losses,
    },
  };
}
