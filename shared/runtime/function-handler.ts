import * as z from "zod";
import { handleDelivery } from "../core/delivery.ts";
import { isMessageType, type ConsumerName } from "../messages/topics.ts";
import type { Deps } from "../ports.ts";

/**
 * Turns what a gen2 function receives into our message envelope, then hands it to
 * `handleDelivery` (the one thing every function does). Three shapes arrive:
 *
 *  (a) Eventarc `google.cloud.storage.object.v1.finalized` (binary-mode CloudEvent): `data` is
 *      StorageObjectData with int64 fields as strings. It becomes an `object.finalized` envelope
 *      whose id is `gcs:<bucket>/<name>#<generation>`: GCS may notify twice with different event
 *      ids, but one generation is one upload.
 *  (b) A Pub/Sub push the framework converted to a CloudEvent: `data.message.data` is base64 JSON.
 *  (c) The raw push body `{subscription, message}`, which the framework passes through unconverted
 *      when `message.data` is empty.
 *
 * A Pub/Sub message is normally a whole envelope (our publisher sends those). A bare payload with a
 * `type` attribute — Cloud Scheduler ticks, an operator's `gcloud pubsub topics publish` — is
 * wrapped into one, with the Pub/Sub message id as its id (stable across redeliveries). Anything
 * undecodable goes to `handleDelivery` as it is, which records it in `dead_letters` and
 * acknowledges it: retrying garbage would only make a retry storm.
 */

export const GCS_FINALIZED = "google.cloud.storage.object.v1.finalized";
export const PUBSUB_PUBLISHED = "google.cloud.pubsub.topic.v1.messagePublished";

const Int64 = z.union([z.string().regex(/^\d+$/), z.number().int().nonnegative()]).transform(String);

const StorageObjectDataSchema = z.object({
  bucket: z.string().min(1),
  name: z.string().min(1),
  generation: Int64,
  size: Int64.optional(),
  contentType: z.string().optional(),
  md5Hash: z.string().optional(),
  crc32c: z.string().optional(),
  timeCreated: z.string().optional(),
});

const PubsubMessageSchema = z.object({
  data: z.string().optional(),
  attributes: z.record(z.string(), z.string()).nullish(),
  messageId: z.string().optional(),
  message_id: z.string().optional(),
  publishTime: z.string().optional(),
  publish_time: z.string().optional(),
});
type PubsubMessage = z.infer<typeof PubsubMessageSchema>;

const EventShape = z.looseObject({ id: z.string().optional(), type: z.string().optional(), time: z.string().optional() });

export interface Decoded {
  /** An envelope candidate, or the garbage to record (handleDelivery validates either way). */
  message: unknown;
  /** Why decoding failed, for the log line; null when `message` is an envelope candidate. */
  problem: string | null;
  source: "gcs" | "pubsub" | "other";
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const MAX_GARBAGE_CHARS = 4000;

export function decodeDelivery(event: unknown, now: () => Date = () => new Date()): Decoded {
  const shape = EventShape.safeParse(event);
  if (!shape.success) return garbage(null, "the request body is not a JSON object", event, "other");
  const ce = shape.data;

  if (ce.type === GCS_FINALIZED) {
    const obj = StorageObjectDataSchema.safeParse(ce.data);
    if (!obj.success) return garbage(ce.id ?? null, `StorageObjectData is malformed: ${obj.error.issues[0]?.message ?? "invalid"}`, ce, "gcs");
    const { bucket, name, generation, ...rest } = obj.data;
    const id = `gcs:${bucket}/${name}#${generation}`;
    return {
      source: "gcs",
      problem: null,
      message: {
        id,
        type: "object.finalized",
        version: 1,
        occurredAt: ce.time ?? rest.timeCreated ?? now().toISOString(),
        correlationId: id,
        data: { bucket, name, generation, ...rest },
      },
    };
  }

  if (ce.type === PUBSUB_PUBLISHED) {
    const data = z.object({ message: PubsubMessageSchema }).safeParse(ce.data);
    if (!data.success) return garbage(ce.id ?? null, "Pub/Sub CloudEvent without a message", ce, "pubsub");
    const message = data.data.message;
    return fromPubsub({ ...message, messageId: message.messageId ?? ce.id, publishTime: message.publishTime ?? ce.time }, now);
  }

  const push = z.object({ message: PubsubMessageSchema, subscription: z.string().optional() }).safeParse(event);
  if (push.success && ce.type === undefined) return fromPubsub(push.data.message, now);

  // Anything else (e.g. an envelope POSTed directly by a tool): let handleDelivery judge it.
  return { source: "other", problem: null, message: event };
}

function fromPubsub(message: PubsubMessage, now: () => Date): Decoded {
  const messageId = message.messageId ?? message.message_id ?? null;
  const publishTime = message.publishTime ?? message.publish_time ?? now().toISOString();
  const attributes = message.attributes ?? {};
  const data = message.data ?? "";

  let payload: unknown = undefined;
  if (data.length > 0) {
    if (!BASE64.test(data)) return garbage(messageId && `pubsub:${messageId}`, "message data is not base64", { attributes, data }, "pubsub");
    const text = Buffer.from(data, "base64").toString("utf8");
    try {
      payload = JSON.parse(text) as unknown;
    } catch {
      return garbage(messageId && `pubsub:${messageId}`, "message data is not JSON", { attributes, data: text }, "pubsub");
    }
  }

  if (looksLikeEnvelope(payload)) return { source: "pubsub", problem: null, message: payload };

  const type = attributes.type;
  if (type && isMessageType(type)) {
    const id = messageId ? `pubsub:${messageId}` : null;
    if (!id) return garbage(null, "wrapped message without a Pub/Sub message id", { attributes, data: payload }, "pubsub");
    return {
      source: "pubsub",
      problem: null,
      message: { id, type, version: 1, occurredAt: publishTime, correlationId: attributes.correlationId ?? id, data: payload ?? {} },
    };
  }
  const problem = type ? `unknown message type attribute "${type}"` : "message is neither an envelope nor has a type attribute";
  return garbage(messageId && `pubsub:${messageId}`, problem, { attributes, data: payload }, "pubsub");
}

function looksLikeEnvelope(value: unknown): boolean {
  if (!value || typeof value !== "object" || Array.isArray(value)) return false;
  const v = value as Record<string, unknown>;
  return typeof v.id === "string" && typeof v.type === "string" && "occurredAt" in v && "version" in v;
}

/** Garbage keeps an `id` (so dead_letters has the message id) and a bounded copy of the input. */
function garbage(id: string | null, problem: string, input: unknown, source: Decoded["source"]): Decoded {
  let copy: unknown = input;
  const text = safeStringify(input);
  if (text.length > MAX_GARBAGE_CHARS) copy = `${text.slice(0, MAX_GARBAGE_CHARS)}…`;
  return { source, problem, message: { ...(id ? { id } : {}), undecodable: problem, received: copy } };
}

function safeStringify(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

/**
 * The CloudEvent handler of a consumer function. Returns (→ 204, acknowledged) unless the delivery
 * failed transiently, in which case it throws (→ 500, redelivered with backoff).
 */
export function consumerHandler(consumer: ConsumerName, getDeps: () => Promise<Deps>): (event: unknown) => Promise<void> {
  return async (event: unknown) => {
    const deps = await getDeps();
    const decoded = decodeDelivery(event, () => deps.clock.now());
    const eventId = (event as { id?: unknown } | null)?.id;
    // handleDelivery adds `consumer` to its own child logger; name it here only on our lines.
    const log = typeof eventId === "string" ? deps.log.child({ eventId }) : deps.log;
    if (decoded.problem) log.warn("undecodable delivery; recording it as a dead letter", { consumer, problem: decoded.problem, source: decoded.source });
    const outcome = await handleDelivery(consumer, decoded.message, { ...deps, log });
    const detail = "reason" in outcome ? outcome.reason : outcome.detail;
    log.info("delivery handled", { consumer, status: outcome.status, source: decoded.source, ...(detail ? { detail } : {}) });
  };
}
