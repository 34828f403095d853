/**
 * Failpoints: named places where a crash is most likely to lose or duplicate work — between an
 * object write and the commit that records it, between a commit and the publish or acknowledgement
 * that follows it, between an external call and the row that remembers it. The crash-safety test
 * arms them one by one (`MLOPS_FAILPOINTS`), the process kills itself with SIGKILL when it reaches
 * one, and the test checks that a restart converges with nothing lost or duplicated.
 *
 * Unarmed (always, in normal operation) a failpoint is one null check. The composition root
 * installs the action (see shared/runtime/failpoints.ts); the core only names the places.
 */
export const FAILPOINTS = [
  /** A use case's transaction committed; its messages are not yet published or acknowledged. */
  "transact.committed",
  /** The local dispatcher ran a delivery to completion but has not recorded the acknowledgement. */
  "delivery.handled_unacked",
  /** ingest wrote the annotation images; the item is not yet recorded as normalised. */
  "ingest.objects_written",
  /** ingest committed the normalised item; the delivery is not acknowledged. */
  "ingest.committed",
  /** register: the annotation backend accepted the batch; nothing is recorded yet. */
  "register.backend_called",
  /** poll: one label is committed; the cursor has not moved and the batch is unfinished. */
  "poll.label_committed",
  /** threshold: the dataset version's files are written; no row records the version yet. */
  "threshold.files_written",
  /** threshold: version and run are committed; the training job is not launched. */
  "threshold.committed",
  /** A training job was launched; its execution name is not stored. */
  "training.launched_unrecorded",
  /** on-training-completed: model and evaluation are committed; the evaluation job is not launched. */
  "training.completed_committed",
  /** An evaluation job was launched; its execution name is not stored. */
  "evaluation.launched_unrecorded",
  /** promote: the decision and alias move are committed; nothing announced yet. */
  "promote.committed",
] as const;

export type FailpointName = (typeof FAILPOINTS)[number];

export function isFailpointName(name: string): name is FailpointName {
  return (FAILPOINTS as readonly string[]).includes(name);
}

type FailpointAction = (name: FailpointName) => void;
let action: FailpointAction | null = null;

/** Installs what happens at an armed failpoint (null disarms). Composition roots only. */
export function setFailpointAction(next: FailpointAction | null): void {
  action = next;
}

/** Marks a crash-sensitive place. Does nothing unless the process armed failpoints. */
export function failpoint(name: FailpointName): void {
  if (action) action(name);
}
