import { describeError } from "../errors.ts";
import type { Envelope } from "../messages/envelope.ts";
import { buildEnvelope } from "../messages/build.ts";
import { topicFor, type MessageData, type MessageType } from "../messages/topics.ts";
import { enqueueOutbox, markOutboxFailed, markOutboxSent, notifiedRecently, recordNotification, unsentOutbox } from "../db/queries/messaging.ts";
import type { Deps, Notification, Queryable } from "../ports.ts";
import { failpoint } from "./failpoints.ts";

export type Emit = <T extends MessageType>(type: T, data: MessageData<T>, options?: { id?: string; correlationId?: string }) => Promise<Envelope<MessageData<T>>>;

/**
 * Runs `fn` in one transaction with an `emit` that writes outbox rows in that same transaction
 * (the transactional outbox), then publishes what was emitted after the commit. A failed publish
 * leaves the rows for `reconcile` to republish; the effect itself is already safe.
 */
export async function transact<T>(
  deps: Pick<Deps, "db" | "publisher" | "clock" | "ids" | "log">,
  cause: Envelope | null,
  fn: (tx: Queryable, emit: Emit) => Promise<T>,
): Promise<T> {
  let emitted: string[] = [];
  const within = deps.publisher.publishWithin?.bind(deps.publisher);
  const result = await deps.db.transaction(async (tx) => {
    emitted = []; // the adapter may rerun this callback after a serialisation failure
    const emit: Emit = async (type, data, options) => {
      const envelope = buildEnvelope(type, data, {
        id: options?.id ?? deps.ids.next("msg"),
        occurredAt: deps.clock.now(),
        ...(cause ? { correlationId: cause.correlationId, causationId: cause.id } : {}),
        ...(options?.correlationId ? { correlationId: options.correlationId } : {}),
      });
      await enqueueOutbox(tx, envelope, topicFor(type), { sent: Boolean(within) });
      if (within) await within(tx, [envelope]);
      else emitted.push(envelope.id);
      return envelope;
    };
    return fn(tx, emit);
  });
  failpoint("transact.committed");
  deps.publisher.committed?.();
  if (emitted.length > 0) {
    await flushOutbox(deps, { ids: emitted }).catch((err: unknown) => {
      deps.log.warn("publishing after commit failed; reconcile will republish", { error: describeError(err), ids: emitted });
    });
  }
  return result;
}

/** Publishes unsent outbox rows (the given ids, or the oldest ones) and marks them sent. */
export async function flushOutbox(
  deps: Pick<Deps, "db" | "publisher" | "log">,
  options: { ids?: readonly string[]; olderThanSeconds?: number; limit?: number } = {},
): Promise<number> {
  const rows = await unsentOutbox(deps.db, { ...options, limit: options.limit ?? 500 });
  if (rows.length === 0) return 0;
  const ids = rows.map((r) => r.id);
  try {
    if (deps.publisher.publishAll) await deps.publisher.publishAll(rows.map((r) => r.envelope));
    else for (const r of rows) await deps.publisher.publish(r.envelope);
  } catch (err) {
    await markOutboxFailed(deps.db, ids, describeError(err));
    throw err;
  }
  await markOutboxSent(deps.db, ids);
  return rows.length;
}

/**
 * Posts a notification and records it for the dashboard. Notifications are best effort: a
 * failure is logged, never thrown into the use case whose effect already committed.
 * With `dedupeKey`, the same alert is sent at most once per `windowSeconds` (no alert storms).
 */
export async function notify(
  deps: Pick<Deps, "db" | "notifier" | "log">,
  notification: Notification,
  options: { dedupeKey?: string; windowSeconds?: number } = {},
): Promise<void> {
  try {
    const key = options.dedupeKey ?? notification.threadKey ?? null;
    if (options.dedupeKey && (await notifiedRecently(deps.db, options.dedupeKey, options.windowSeconds ?? 3600))) return;
    await recordNotification(deps.db, { severity: notification.severity, threadKey: key, title: notification.title, text: notification.text });
    await deps.notifier.post(notification);
  } catch (err) {
    deps.log.warn("notification failed", { error: describeError(err), title: notification.title });
  }
}
