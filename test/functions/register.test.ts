import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildEnvelope } from "../../shared/messages/build.ts";
import { lastOutcome, postPubsubCloudEvent, postPush, sharedDeliveryCases, startFunction, type FunctionTest } from "./harness.ts";
import { seedItem } from "./seed.ts";

let t: FunctionTest;
beforeAll(async () => {
  t = await startFunction("register");
});
afterAll(async () => t.close());

describe("register function", () => {
  it("registers every waiting item in one batch when item.normalised is pushed", async () => {
    await seedItem(t.db, { id: "it_reg_a", state: "normalised", productName: "reg-a", width: 8, height: 8 });
    await seedItem(t.db, { id: "it_reg_b", state: "normalised", productName: "reg-b", width: 8, height: 8 });
    const envelope = buildEnvelope("item.normalised", { itemId: "it_reg_a" }, { id: "msg_norm_a", occurredAt: new Date() });
    const res = await postPush(t.url, "item-normalised", { messageId: "1001", data: envelope, attributes: { type: "item.normalised" } });
    expect(res.status).toBe(204);

    const { rows } = await t.db.query<{ id: string; state: string; backend_ref: string }>(`SELECT id, state, backend_ref FROM items ORDER BY id`);
    expect(rows).toEqual([
      { id: "it_reg_a", state: "registered", backend_ref: "tasks/it_reg_a.json" },
      { id: "it_reg_b", state: "registered", backend_ref: "tasks/it_reg_b.json" },
    ]);
    // The inbox backend wrote one task file per item into the annotation bucket (via the GCS adapter).
    const task = JSON.parse(t.gcs.getObject("annotation", "tasks/it_reg_b.json")!.data.toString()) as { itemId: string; images: { uri: string }[] };
    expect(task.itemId).toBe("it_reg_b");
    expect(task.images[0]!.uri).toBe("gs://annotation/items/reg-b/reg-b.png");
    const registered = t.published.filter((e) => e.type === "items.registered");
    expect(registered).toHaveLength(1);
    const data = registered[0]!.data as { backend: string; itemIds: string[] };
    expect(data.backend).toBe("local");
    expect([...data.itemIds].sort()).toEqual(["it_reg_a", "it_reg_b"]);
  });

  it("acknowledges a nudge with nothing waiting (converted CloudEvent shape) and changes nothing", async () => {
    const envelope = buildEnvelope("item.normalised", { itemId: "it_reg_a" }, { id: "msg_norm_again", occurredAt: new Date() });
    const publishedBefore = t.published.length;
    const res = await postPubsubCloudEvent(t.url, "item-normalised", { messageId: "1002", data: envelope, attributes: { type: "item.normalised" } });
    expect(res.status).toBe(204);
    expect(lastOutcome(t)?.status).toBe("skipped");
    // Nothing was registered, so nothing is recorded: a redelivery may simply look again.
    expect(t.published.slice(publishedBefore)).toEqual([]);
  });

  sharedDeliveryCases("register", "item-normalised", () => t, (id, occurredAt) => buildEnvelope("item.normalised", { itemId: "it_x" }, { id, occurredAt }));
});
