import { describe, expect, it } from "vitest";
import { GCS_FINALIZED, PUBSUB_PUBLISHED, decodeDelivery } from "../../shared/runtime/function-handler.ts";
import { parseEnvelope } from "../../shared/messages/build.ts";

const NOW = new Date("2026-03-01T12:00:00.000Z");
const now = () => NOW;
const b64 = (value: unknown) => Buffer.from(typeof value === "string" ? value : JSON.stringify(value)).toString("base64");

describe("decodeDelivery: GCS finalize CloudEvents", () => {
  const ce = {
    id: "8261716203418427",
    specversion: "1.0",
    type: GCS_FINALIZED,
    source: "//storage.googleapis.com/projects/_/buckets/archive",
    subject: "objects/S2/T31UDQ.zip",
    time: "2026-03-01T11:59:58.123456Z",
    bucket: "archive",
    data: {
      bucket: "archive", name: "S2/T31UDQ.zip", generation: "1740830398123456", metageneration: "1",
      size: "73400320", contentType: "application/zip", md5Hash: "XUFAKrxLKna5cZ2REBfFkg==", crc32c: "yZRlqg==",
      timeCreated: "2026-03-01T11:59:58.100Z", storageClass: "STANDARD", kind: "storage#object",
    },
  };

  it("becomes an object.finalized envelope keyed by bucket/name#generation, at the event time", () => {
    const decoded = decodeDelivery(ce, now);
    expect(decoded.problem).toBeNull();
    expect(decoded.source).toBe("gcs");
    expect(decoded.message).toEqual({
      id: "gcs:archive/S2/T31UDQ.zip#1740830398123456",
      type: "object.finalized",
      version: 1,
      occurredAt: "2026-03-01T11:59:58.123456Z",
      correlationId: "gcs:archive/S2/T31UDQ.zip#1740830398123456",
      data: {
        bucket: "archive", name: "S2/T31UDQ.zip", generation: "1740830398123456", size: "73400320", contentType: "application/zip",
        md5Hash: "XUFAKrxLKna5cZ2REBfFkg==", crc32c: "yZRlqg==", timeCreated: "2026-03-01T11:59:58.100Z",
      },
    });
    // …and the envelope passes our own schema (generation stays an exact decimal string > 2^53).
    const parsed = parseEnvelope(decoded.message);
    expect(parsed.type === "object.finalized" && parsed.data.generation).toBe("1740830398123456");
  });

  it("keeps numeric int64 fields as decimal strings", () => {
    const decoded = decodeDelivery({ ...ce, data: { ...ce.data, generation: 17, size: 5 } }, now);
    expect((decoded.message as { id: string }).id).toBe("gcs:archive/S2/T31UDQ.zip#17");
    expect((decoded.message as { data: { size: string } }).data.size).toBe("5");
  });

  it("turns malformed StorageObjectData into garbage carrying the event id", () => {
    const decoded = decodeDelivery({ ...ce, data: { bucket: "archive", generation: "x" } }, now);
    expect(decoded.problem).toMatch(/StorageObjectData is malformed/);
    expect((decoded.message as { id: string; undecodable: string }).id).toBe("8261716203418427");
  });
});

describe("decodeDelivery: Pub/Sub deliveries", () => {
  const envelope = { id: "msg_1", type: "item.normalised", version: 1, occurredAt: "2026-03-01T11:00:00.000Z", correlationId: "c1", data: { itemId: "it_1" } };

  it("passes an envelope through from a converted CloudEvent", () => {
    const decoded = decodeDelivery({
      id: "11", specversion: "1.0", type: PUBSUB_PUBLISHED, source: "//pubsub.googleapis.com/projects/p/topics/item-normalised",
      data: { message: { "@type": "type.googleapis.com/google.pubsub.v1.PubsubMessage", data: b64(envelope), attributes: { type: "item.normalised" }, messageId: "11" } },
    }, now);
    expect(decoded).toEqual({ source: "pubsub", problem: null, message: envelope });
  });

  it("passes an envelope through from a raw push body", () => {
    const decoded = decodeDelivery({ subscription: "projects/p/subscriptions/s", message: { data: b64(envelope), messageId: "12", publishTime: "2026-03-01T11:00:01Z" } }, now);
    expect(decoded.message).toEqual(envelope);
  });

  it("wraps a bare payload with a type attribute, using the message id and publish time", () => {
    const decoded = decodeDelivery({
      id: "13", specversion: "1.0", type: PUBSUB_PUBLISHED, source: "//pubsub.googleapis.com/projects/p/topics/commands", time: "2026-03-01T11:30:00Z",
      data: { message: { data: b64({ name: "rollback", alias: "prod" }), attributes: { type: "command", correlationId: "ticket-42" } } },
    }, now);
    // messageId and publishTime were missing from the message: the CloudEvent's id and time stand in.
    expect(decoded.message).toEqual({
      id: "pubsub:13", type: "command", version: 1, occurredAt: "2026-03-01T11:30:00Z", correlationId: "ticket-42",
      data: { name: "rollback", alias: "prod" },
    });
    expect(parseEnvelope(decoded.message).type).toBe("command");
  });

  it("wraps an attributes-only scheduler tick (raw body, snake_case fields) with empty data", () => {
    const decoded = decodeDelivery({ subscription: "s", message: { attributes: { type: "poll.tick" }, message_id: "14", publish_time: "2026-03-01T11:55:00Z" } }, now);
    expect(decoded.message).toEqual({ id: "pubsub:14", type: "poll.tick", version: 1, occurredAt: "2026-03-01T11:55:00Z", correlationId: "pubsub:14", data: {} });
    const parsed = parseEnvelope(decoded.message);
    expect(parsed.type === "poll.tick" && parsed.data.reason).toBe("schedule");
  });

  it("falls back to the clock when a wrapped message has no publish time", () => {
    const decoded = decodeDelivery({ subscription: "s", message: { attributes: { type: "reconcile.tick" }, messageId: "15" } }, now);
    expect((decoded.message as { occurredAt: string }).occurredAt).toBe(NOW.toISOString());
  });

  it.each([
    ["data that is not base64", { data: "not base64!", attributes: { type: "command" }, messageId: "21" }, /not base64/],
    ["base64 that is not JSON", { data: b64("{oops"), attributes: { type: "command" }, messageId: "22" }, /not JSON/],
    ["an unknown type attribute", { data: b64({}), attributes: { type: "no.such" }, messageId: "23" }, /unknown message type attribute "no.such"/],
    ["no envelope and no type", { data: b64({ hello: 1 }), messageId: "24" }, /neither an envelope nor has a type attribute/],
  ])("turns %s into garbage with the Pub/Sub message id", (_label, message, problem) => {
    const decoded = decodeDelivery({ subscription: "s", message }, now);
    expect(decoded.problem).toMatch(problem);
    expect((decoded.message as { id: string }).id).toBe(`pubsub:${message.messageId}`);
    expect(() => parseEnvelope(decoded.message)).toThrow(/malformed message envelope/);
  });

  it("bounds the copy of a huge undecodable message", () => {
    const decoded = decodeDelivery({ subscription: "s", message: { data: b64("x".repeat(100_000)), messageId: "25" } }, now);
    expect(JSON.stringify(decoded.message).length).toBeLessThan(5_000);
  });

  it("treats a non-object body as garbage", () => {
    expect(decodeDelivery("just a string", now).problem).toMatch(/not a JSON object/);
  });
});
