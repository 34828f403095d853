import { PubSub, type Topic } from "@google-cloud/pubsub";
import { PermanentError, TransientError } from "../../errors.ts";
import type { Envelope } from "../../messages/envelope.ts";
import { isMessageType, topicFor } from "../../messages/topics.ts";
import type { Publisher } from "../../ports.ts";

/** gRPC status codes (google.rpc.Code) a later attempt can get past. */
const RETRYABLE_GRPC = new Set([2 /* UNKNOWN */, 4 /* DEADLINE_EXCEEDED */, 8 /* RESOURCE_EXHAUSTED */, 10 /* ABORTED */, 13 /* INTERNAL */, 14 /* UNAVAILABLE */]);

export interface PubSubPublisherOptions {
  /** A configured client; by default one honouring `PUBSUB_EMULATOR_HOST`. */
  pubsub?: PubSub;
  projectId?: string;
  /** Prepended to every topic name (several deployments in one project). */
  topicPrefix?: string;
  /**
   * Messages published close together go out in one request. A function awaits each publish, so
   * the wait is bounded by `maxMilliseconds`.
   */
  batching?: { maxMessages: number; maxMilliseconds: number };
}

/**
 * Publisher on Pub/Sub: one topic per message type (`topicFor`), the JSON envelope as data, and
 * `type`, `correlationId` and `envelopeId` as attributes, so subscriptions can filter and an
 * operator can read a message without decoding it. Topic handles are cached (each holds its own
 * batching queue).
 */
export class PubSubPublisher implements Publisher {
  readonly pubsub: PubSub;
  private readonly topicPrefix: string;
  private readonly batching: { maxMessages: number; maxMilliseconds: number };
  private readonly topics = new Map<string, Topic>();

  constructor(options: PubSubPublisherOptions = {}) {
    this.pubsub = options.pubsub ?? new PubSub(options.projectId ? { projectId: options.projectId } : {});
    this.topicPrefix = options.topicPrefix ?? "";
    this.batching = options.batching ?? { maxMessages: 100, maxMilliseconds: 10 };
  }

  topicName(type: string): string {
    if (!isMessageType(type)) throw new PermanentError("unknown_type", `cannot publish unknown message type "${type}"`);
    return `${this.topicPrefix}${topicFor(type)}`;
  }

  private topic(name: string): Topic {
    let topic = this.topics.get(name);
    if (!topic) {
      topic = this.pubsub.topic(name, { batching: this.batching });
      this.topics.set(name, topic);
    }
    return topic;
  }

  async publish(envelope: Envelope): Promise<void> {
    const name = this.topicName(envelope.type);
    try {
      await this.topic(name).publishMessage({
        data: Buffer.from(JSON.stringify(envelope), "utf8"),
        attributes: { type: envelope.type, correlationId: envelope.correlationId, envelopeId: envelope.id },
      });
    } catch (err) {
      throw mapPubSubError(err, name);
    }
  }

  async publishAll(envelopes: readonly Envelope[]): Promise<void> {
    // Publishing concurrently lets the client batch messages bound for the same topic.
    const results = await Promise.allSettled(envelopes.map((e) => this.publish(e)));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
    if (failed) throw failed.reason;
  }

  /** Sends anything still queued and releases the client (jobs call this before exiting). */
  async close(): Promise<void> {
    await Promise.all([...this.topics.values()].map((t) => t.flush()));
    await this.pubsub.close();
  }
}

export function mapPubSubError(err: unknown, topic: string): Error {
  const code = (err as { code?: unknown } | null)?.code;
  const detail = err instanceof Error ? err.message : String(err);
  if (code === 5) return new PermanentError("topic_not_found", `Pub/Sub topic ${topic} does not exist: ${detail}`, { cause: err });
  if (code === 7 || code === 16) {
    return new PermanentError("pubsub_forbidden", `not allowed to publish to ${topic}: check roles/pubsub.publisher on it (${detail})`, { cause: err });
  }
  if (typeof code === "number" && RETRYABLE_GRPC.has(code)) {
    return new TransientError(`Pub/Sub publish to ${topic} failed (code ${code}): ${detail}`, { cause: err });
  }
  if (typeof code === "string" && /^E[A-Z]+$/.test(code)) {
    return new TransientError(`Pub/Sub publish to ${topic} failed (${code}): ${detail}`, { cause: err });
  }
  return err instanceof Error ? err : new Error(detail);
}
