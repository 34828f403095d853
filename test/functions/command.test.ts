import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildEnvelope } from "../../shared/messages/build.ts";
import { deadLetters, lastOutcome, postPubsubCloudEvent, postPush, sharedDeliveryCases, startFunction, type FunctionTest } from "./harness.ts";

let t: FunctionTest;
beforeAll(async () => {
  t = await startFunction("command");
});
afterAll(async () => t.close());

describe("command function", () => {
  it("takes a command published by hand: bare JSON with a type attribute (gcloud pubsub topics publish)", async () => {
    const res = await postPush(t.url, "commands", { messageId: "6001", data: { name: "poll" }, attributes: { type: "command" } });
    expect(res.status).toBe(204);
    const ticks = t.published.filter((e) => e.type === "poll.tick");
    expect(ticks).toHaveLength(1);
    expect(ticks[0]!.data).toEqual({ reason: "command" });
    expect(ticks[0]!.causationId).toBe("pubsub:6001");
  });

  it("takes a CLI-published envelope and lists the archive for backfill through GCS", async () => {
    t.gcs.putObject("archive", "2026/a.zip", "zip-a");
    t.gcs.putObject("archive", "2026/b.zip", "zip-b");
    t.gcs.putObject("archive", "2025/old.zip", "zip-old");
    const envelope = buildEnvelope("command", { name: "backfill", actor: "ops@example.com", prefix: "2026/" }, { id: "msg_cmd_backfill", occurredAt: new Date() });
    const res = await postPubsubCloudEvent(t.url, "commands", { messageId: "6002", data: envelope, attributes: { type: "command" } });
    expect(res.status).toBe(204);
    const finalized = t.published.filter((e) => e.type === "object.finalized").map((e) => (e.data as { name: string }).name).sort();
    expect(finalized).toEqual(["2026/a.zip", "2026/b.zip"]);
  });

  it("acknowledges a refused command (unknown model) and records the reason", async () => {
    const res = await postPush(t.url, "commands", { messageId: "6003", data: { name: "promote", modelId: "mdl_missing", alias: "prod" }, attributes: { type: "command" } });
    expect(res.status).toBe(204);
    expect(lastOutcome(t)?.status).toBe("failed_permanently");
    const rows = (await deadLetters(t.db)).filter((r) => r.message_id === "pubsub:6003");
    expect(rows[0]?.reason).toMatch(/unknown_model/);
  });

  it("acknowledges a message with an unknown type attribute and records it", async () => {
    const res = await postPush(t.url, "commands", { messageId: "6004", data: { name: "poll" }, attributes: { type: "comand" } });
    expect(res.status).toBe(204);
    const rows = (await deadLetters(t.db)).filter((r) => r.message_id === "pubsub:6004");
    expect(JSON.stringify(rows[0]?.payload)).toContain('unknown message type attribute \\"comand\\"');
  });

  sharedDeliveryCases("command", "commands", () => t, (id, occurredAt) => buildEnvelope("command", { name: "poll", actor: "t" }, { id, occurredAt }));
});
