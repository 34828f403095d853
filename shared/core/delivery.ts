import { PermanentError, describeError, isTransient } from "../errors.ts";
import { parseEnvelope, type ParsedMessage } from "../messages/build.ts";
import type { ConsumerName } from "../messages/topics.ts";
import type { Deps } from "../ports.ts";
import { recordDeadLetter } from "../db/queries/dead-letters.ts";
import { runConsumer, type ConsumerOutcome } from "./consumers.ts";

export type DeliveryOutcome =
  | ConsumerOutcome
  | { status: "dead_lettered"; reason: string }
  | { status: "failed_permanently"; reason: string };

/**
 * What every consumer does with one delivery, in the cloud (function wrapper) and locally
 * (dispatcher): parse, refuse what is too old, run the use case, and map the outcome to ack or
 * retry. Returns normally to acknowledge; throws only for transient errors, so the platform
 * redelivers with backoff. Malformed and permanently failing messages are recorded and acknowledged:
 * retrying them would only make a retry storm.
 */
export async function handleDelivery(consumer: ConsumerName, raw: unknown, deps: Deps): Promise<DeliveryOutcome> {
  const log = deps.log.child({ consumer });
  let message: ParsedMessage;
  try {
    message = parseEnvelope(raw);
  } catch (err) {
    const reason = describeError(err);
    log.error("malformed message acknowledged and dead-lettered", { reason });
    await recordDeadLetter(deps.db, { consumer, messageId: messageIdOf(raw), reason, payload: raw });
    return { status: "dead_lettered", reason };
  }

  const scoped = log.child({ messageId: message.id, type: message.type, correlationId: message.correlationId });
  const ageSeconds = (deps.clock.now().getTime() - Date.parse(message.occurredAt)) / 1000;
  if (ageSeconds > deps.config.delivery.maxEventAgeSeconds) {
    const reason = `message is ${Math.round(ageSeconds)} s old, older than MAX_EVENT_AGE_SECONDS=${deps.config.delivery.maxEventAgeSeconds}`;
    scoped.error("stale message dead-lettered", { reason });
    await recordDeadLetter(deps.db, { consumer, messageId: message.id, reason, payload: message });
    return { status: "dead_lettered", reason };
  }

  try {
    const outcome = await runConsumer(consumer, message, { ...deps, log: scoped });
    scoped.debug("handled", { status: outcome.status });
    return outcome;
  } catch (err) {
    if (isTransient(err) || !(err instanceof PermanentError)) {
      // Unknown errors are retried too: the event-age guard and max delivery attempts bound them.
      scoped.warn("handler failed; the message will be redelivered", { error: describeError(err), transient: isTransient(err) });
      throw err;
    }
    const reason = describeError(err);
    scoped.error("permanent failure recorded and acknowledged", { reason });
    await recordDeadLetter(deps.db, { consumer, messageId: message.id, reason, payload: message });
    return { status: "failed_permanently", reason };
  }
}

function messageIdOf(raw: unknown): string | null {
  const id = (raw as { id?: unknown } | null)?.id;
  return typeof id === "string" ? id.slice(0, 200) : null;
}
