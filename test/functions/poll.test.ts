import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildEnvelope } from "../../shared/messages/build.ts";
import { lastOutcome, postPubsubCloudEvent, postPush, sharedDeliveryCases, startFunction, type FunctionTest } from "./harness.ts";
import { seedItem } from "./seed.ts";

let t: FunctionTest;
beforeAll(async () => {
  t = await startFunction("poll");
});
afterAll(async () => t.close());

describe("poll function", () => {
  it("runs on a Cloud Scheduler tick: attributes only, no data (the unconverted raw push shape)", async () => {
    const res = await postPush(t.url, "poll-tick", { messageId: "2001", attributes: { type: "poll.tick" } });
    expect(res.status).toBe(204);
    expect(lastOutcome(t)).toMatchObject({ status: "skipped", source: "pubsub" });
    // The tick was wrapped into an envelope whose id is the Pub/Sub message id.
    const { rows } = await t.db.query(`SELECT 1 FROM inbox WHERE consumer = 'poll' AND message_id = 'pubsub:2001'`);
    expect(rows).toHaveLength(1);
  });

  it("takes in a COCO label file dropped in the inbox and accepts the sample", async () => {
    await seedItem(t.db, { id: "it_poll_1", state: "registered", productName: "scene-7", width: 6, height: 4, backendRef: "tasks/it_poll_1.json" });
    const coco = {
      images: [{ id: 1, file_name: "scene-7.png", width: 6, height: 4 }],
      annotations: [{ id: 1, image_id: 1, category_id: 2, segmentation: [[0, 0, 6, 0, 6, 4, 0, 4]], bbox: [0, 0, 6, 4], iscrowd: 0 }],
      categories: [{ id: 2, name: "Clear" }],
    };
    t.gcs.putObject("annotation", "inbox/scene-7.json", JSON.stringify(coco), "application/json");
    // Scheduler-style tick with a bare payload: the converted CloudEvent shape this time.
    const res = await postPubsubCloudEvent(t.url, "poll-tick", { messageId: "2002", data: { reason: "schedule" }, attributes: { type: "poll.tick" } });
    expect(res.status).toBe(204);

    const item = await t.db.query<{ state: string }>(`SELECT state FROM items WHERE id = 'it_poll_1'`);
    expect(item.rows[0]?.state).toBe("accepted");
    const ann = await t.db.query<{ verdict: string; label_id: string }>(`SELECT verdict, label_id FROM annotations WHERE item_id = 'it_poll_1'`);
    expect(ann.rows).toEqual([{ verdict: "accepted", label_id: "inbox/scene-7.json#scene-7.png" }]);
    expect(t.published.filter((e) => e.type === "annotations.accepted").map((e) => e.data)).toEqual([{ accepted: 1, rejected: 0, itemIds: ["it_poll_1"] }]);
  });

  sharedDeliveryCases("poll", "poll-tick", () => t, (id, occurredAt) => buildEnvelope("poll.tick", { reason: "schedule" }, { id, occurredAt }));
});
