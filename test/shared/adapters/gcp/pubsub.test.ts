import type { PubSub } from "@google-cloud/pubsub";
import { describe, expect, it } from "vitest";
import { PermanentError, TransientError } from "../../../../shared/errors.ts";
import { PubSubPublisher } from "../../../../shared/adapters/gcp/pubsub.ts";
import { buildEnvelope } from "../../../../shared/messages/build.ts";

interface Published {
  topic: string;
  data: Buffer;
  attributes: Record<string, string>;
}

/** The slice of the PubSub client the publisher uses: topic(name, options).publishMessage / flush. */
function fakePubSub(options: { failWith?: { code: number | string; message: string } } = {}) {
  const published: Published[] = [];
  const topicCalls: { name: string; options: unknown }[] = [];
  let closed = false;
  const client = {
    topic(name: string, topicOptions: unknown) {
      topicCalls.push({ name, options: topicOptions });
      return {
        async publishMessage(message: { data: Buffer; attributes: Record<string, string> }) {
          if (options.failWith) throw Object.assign(new Error(options.failWith.message), { code: options.failWith.code });
          published.push({ topic: name, ...message });
          return String(published.length);
        },
        async flush() {},
      };
    },
    async close() {
      closed = true;
    },
  };
  return { client: client as unknown as PubSub, published, topicCalls, isClosed: () => closed };
}

const envelope = (type: "item.normalised" | "training.failed", id: string) =>
  type === "item.normalised"
    ? buildEnvelope("item.normalised", { itemId: "it_1" }, { id, occurredAt: new Date("2026-01-02T03:04:05Z"), correlationId: "corr-1" })
    : buildEnvelope("training.failed", { runId: "run_1", reason: "oom", resumable: false }, { id, occurredAt: new Date("2026-01-02T03:04:05Z") });

describe("PubSubPublisher", () => {
  it("publishes the JSON envelope to the type's topic with type and correlation attributes", async () => {
    const fake = fakePubSub();
    const publisher = new PubSubPublisher({ pubsub: fake.client, topicPrefix: "dev-" });
    const e = envelope("item.normalised", "msg_1");
    await publisher.publish(e);
    expect(fake.published).toHaveLength(1);
    const [p] = fake.published;
    // item.normalised → topic item-normalised (shared/messages/topics.ts), with the prefix.
    expect(p!.topic).toBe("dev-item-normalised");
    expect(JSON.parse(p!.data.toString("utf8"))).toEqual(e);
    expect(p!.attributes).toEqual({ type: "item.normalised", correlationId: "corr-1", envelopeId: "msg_1" });
  });

  it("routes types that share a topic to it (training.failed → training-completed)", async () => {
    const fake = fakePubSub();
    await new PubSubPublisher({ pubsub: fake.client }).publish(envelope("training.failed", "msg_2"));
    expect(fake.published[0]!.topic).toBe("training-completed");
  });

  it("creates one topic handle per topic, with batching settings, and reuses it", async () => {
    const fake = fakePubSub();
    const publisher = new PubSubPublisher({ pubsub: fake.client, batching: { maxMessages: 50, maxMilliseconds: 5 } });
    await publisher.publishAll([envelope("item.normalised", "a"), envelope("item.normalised", "b"), envelope("training.failed", "c")]);
    expect(fake.published.map((p) => p.topic).sort()).toEqual(["item-normalised", "item-normalised", "training-completed"]);
    expect(fake.topicCalls.map((c) => c.name).sort()).toEqual(["item-normalised", "training-completed"]);
    expect(fake.topicCalls[0]!.options).toEqual({ batching: { maxMessages: 50, maxMilliseconds: 5 } });
  });

  it("refuses an unknown message type as a PermanentError", async () => {
    const fake = fakePubSub();
    const bogus = { ...envelope("item.normalised", "x"), type: "no.such.type" };
    await expect(new PubSubPublisher({ pubsub: fake.client }).publish(bogus)).rejects.toMatchObject({ code: "unknown_type" });
    expect(fake.published).toHaveLength(0);
  });

  it("maps UNAVAILABLE (14) to TransientError and NOT_FOUND (5) to PermanentError topic_not_found", async () => {
    const unavailable = new PubSubPublisher({ pubsub: fakePubSub({ failWith: { code: 14, message: "14 UNAVAILABLE" } }).client });
    await expect(unavailable.publish(envelope("item.normalised", "m"))).rejects.toBeInstanceOf(TransientError);
    const missing = new PubSubPublisher({ pubsub: fakePubSub({ failWith: { code: 5, message: "5 NOT_FOUND: Topic not found" } }).client });
    const err = await missing.publish(envelope("item.normalised", "m")).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PermanentError);
    expect((err as PermanentError).code).toBe("topic_not_found");
    expect((err as Error).message).toContain("item-normalised");
  });

  it("publishAll reports a failure after attempting every message", async () => {
    const fake = fakePubSub({ failWith: { code: 13, message: "13 INTERNAL" } });
    await expect(new PubSubPublisher({ pubsub: fake.client }).publishAll([envelope("item.normalised", "a")])).rejects.toBeInstanceOf(TransientError);
  });

  it("close flushes and closes the client", async () => {
    const fake = fakePubSub();
    const publisher = new PubSubPublisher({ pubsub: fake.client });
    await publisher.publish(envelope("item.normalised", "a"));
    await publisher.close();
    expect(fake.isClosed()).toBe(true);
  });
});
