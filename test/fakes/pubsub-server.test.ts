import { PubSub } from "@google-cloud/pubsub";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PubSubPublisher } from "../../shared/adapters/gcp/pubsub.ts";
import { PermanentError } from "../../shared/errors.ts";
import { buildEnvelope } from "../../shared/messages/build.ts";
import { startPubsubFake, type PubsubFake } from "./pubsub-server.ts";

let fake: PubsubFake;
let pubsub: PubSub;
beforeAll(async () => {
  fake = await startPubsubFake({ project: "p", topics: ["item-normalised", "poll-tick"], granted: ["item-normalised"] });
  pubsub = new PubSub({ projectId: "p", apiEndpoint: fake.host });
});
afterAll(async () => {
  await pubsub.close();
  await fake.close();
});

describe("the fake Pub/Sub publisher service, through the real client", () => {
  it("takes a publish to a granted topic, with data and attributes", async () => {
    const publisher = new PubSubPublisher({ pubsub });
    const envelope = buildEnvelope("item.normalised", { itemId: "it_1" }, { id: "m1", occurredAt: new Date() });
    await publisher.publish(envelope);
    expect(fake.published).toHaveLength(1);
    expect(fake.published[0]!.topic).toBe("item-normalised");
    expect(fake.published[0]!.attributes.type).toBe("item.normalised");
    expect(JSON.parse(fake.published[0]!.data.toString("utf8"))).toMatchObject({ id: "m1", data: { itemId: "it_1" } });
  });

  it("refuses a topic the identity may not publish to, and one that does not exist, as the service does", async () => {
    const publisher = new PubSubPublisher({ pubsub });
    const tick = buildEnvelope("poll.tick", { reason: "command" }, { id: "m2", occurredAt: new Date() });
    await expect(publisher.publish(tick)).rejects.toBeInstanceOf(PermanentError);
    expect(fake.refused.at(-1)).toMatchObject({ topic: "projects/p/topics/poll-tick", code: 7 });
    const missing = buildEnvelope("threshold.tick", { reason: "command" }, { id: "m3", occurredAt: new Date() });
    await expect(publisher.publish(missing)).rejects.toThrow();
    expect(fake.refused.at(-1)).toMatchObject({ topic: "projects/p/topics/threshold-tick", code: 5 });
    expect(fake.published).toHaveLength(1);
  });
});
