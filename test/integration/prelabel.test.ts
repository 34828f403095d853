import { afterEach, describe, expect, it } from "vitest";
import { sharpCodec } from "../../shared/adapters/imaging/codec.ts";
import { createInboxBackend, type InboxTask } from "../../shared/adapters/annotation/inbox-backend.ts";
import { PermanentError } from "../../shared/errors.ts";
import { runConsumer } from "../../shared/core/consumers.ts";
import type { ParsedMessage } from "../../shared/messages/build.ts";
import { ingest } from "../../shared/core/usecases/ingest.ts";
import { registerPending } from "../../shared/core/usecases/register.ts";
import { annotationQueuePage, getPrelabel, prelabelAcceptanceByModel } from "../../shared/db/queries/prelabels.ts";
import { pollLabels } from "../../shared/core/usecases/poll.ts";
import { ontologyFromNames } from "../../shared/core/annotation/ontology.ts";
import { DEFAULT_ONTOLOGY } from "../../shared/config/schema.ts";
import { simulatedLabelRow } from "../../shared/demo/annotators.ts";
import { renderQueuePage } from "../../shared/dashboard/pages/queue.ts";
import type { AnnotationBackend, ItemPredictor, PrelabelRequest } from "../../shared/ports.ts";
import { createTestDeps, type TestDeps } from "../helpers/deps.ts";
import { testDbKind } from "../helpers/db.ts";
import { envelope, fakeNormaliser } from "../helpers/fixtures.ts";
import { pointAlias, seedServedModel } from "../helpers/serving.ts";

/**
 * Pre-labelling on the local (folder inbox) backend with a real ONNX model (onnxruntime-node): each
 * registered item's task file gains `prelabel` and `priority`, exactly once however often the
 * message comes; items registered before the first model are backfilled; a failed prediction
 * leaves the item registered, its reason recorded.
 */
describe(`pre-labels on the local backend (${testDbKind})`, () => {
  let t: TestDeps;
  afterEach(async () => t?.close());

  /** The inbox backend, counting pre-label calls per item. */
  function countingBackend(): { backend: () => AnnotationBackend; calls: Map<string, number> } {
    const calls = new Map<string, number>();
    let inner: AnnotationBackend | null = null;
    return {
      calls,
      backend: () => {
        inner ??= createInboxBackend({ store: t.store, config: t.deps.config, log: t.log });
        const base = inner;
        return {
          ...base,
          prelabel: async (r: PrelabelRequest) => {
            calls.set(r.itemId, (calls.get(r.itemId) ?? 0) + 1);
            await base.prelabel!(r);
          },
        };
      },
    };
  }

  async function setup(options: { predictor?: ItemPredictor; products?: number } = {}) {
    t = await createTestDeps({ normaliser: fakeNormaliser({ nodataRows: 1 }), ...(options.predictor ? { predictor: options.predictor } : {}) });
    const counting = countingBackend();
    t.deps.backend = async () => counting.backend();
    for (let i = 0; i < (options.products ?? 4); i++) {
      // Different fill values: the model is more or less sure of each.
      const info = await t.store.put(`gs://archive/p${i}.zip`, new Uint8Array([20 + i * 60, 1]));
      await ingest(envelope("object.finalized", { bucket: "archive", name: `p${i}.zip`, generation: info.generation }), t.deps);
    }
    await registerPending(envelope("item.normalised", { itemId: "any" }), t.deps);
    const registered = t.publisher.ofType("items.registered")[0]!;
    const itemIds = (registered.data as { itemIds: string[] }).itemIds;
    return { calls: counting.calls, registered, itemIds };
  }

  const deliver = (message: unknown) => runConsumer("prelabel", message as ParsedMessage, t.deps);

  async function task(itemId: string): Promise<InboxTask> {
    return JSON.parse((await t.store.get(`gs://annotation/tasks/${itemId}.json`)).toString("utf8")) as InboxTask;
  }

  it("gives every registered item's task a pre-label mask at the item's size and a priority, once under redelivery", async () => {
    const { calls, registered, itemIds } = await setup();
    await seedServedModel(t.db, t.store, "mdl_a", 1);
    await pointAlias(t.db, "staging", "mdl_a");

    // The same message three times, two of them at once, plus a copy under another id.
    const outcomes = await Promise.all([deliver(registered), deliver(registered)]);
    expect(outcomes.map((o) => o.status).sort()).toEqual(expect.arrayContaining(["done"]));
    expect((await deliver(registered)).status).toBe("duplicate");
    const copy = envelope("items.registered", registered.data as { backend: string; itemIds: string[] });
    expect((await deliver(copy)).detail).toMatch(/^0 pre-labelled, 0 failed, 4 skipped/);

    expect([...calls.values()]).toEqual([1, 1, 1, 1]);
    for (const id of itemIds) {
      const tk = await task(id);
      expect(tk.prelabel).toEqual({ uri: `gs://annotation/prelabels/${id}/mdl_a.png`, modelId: "mdl_a" });
      expect(typeof tk.priority).toBe("number");
      const mask = await sharpCodec.decodePng(await t.store.get(tk.prelabel!.uri));
      expect([mask.width, mask.height, mask.channels]).toEqual([8, 6, 1]);
      // The nodata row stays unlabelled (255); the rest are class ids of the model.
      expect([...mask.data.subarray(0, 8)]).toEqual(new Array(8).fill(255));
      expect([...mask.data.subarray(8)].every((v) => v < 3)).toBe(true);
      const row = await getPrelabel(t.db, id);
      expect(row).toMatchObject({ state: "done", model_id: "mdl_a", queued: true, attempts: 1 });
      expect(row!.priority).toBeCloseTo(tk.priority!, 12);
      expect(row!.reason).toMatch(/uncertainty [\d.]+×0\.6, boundary [\d.]+×0\.25, novelty n\/a/);
    }
    // The queue: every item, highest priority first, in keyset pages of 3.
    const first = await annotationQueuePage(t.db, { limit: 3 });
    const second = await annotationQueuePage(t.db, { limit: 3, after: first.next });
    const order = [...first.entries, ...second.entries];
    expect(first.total).toBe(4);
    expect(second.next).toBeNull();
    expect(order.map((e) => e.itemId).sort()).toEqual([...itemIds].sort());
    const priorities = order.map((e) => e.priority);
    expect(priorities).toEqual([...priorities].sort((a, b) => b - a));
    expect(new Set(priorities).size).toBeGreaterThan(1);
  });

  it("measures how much of each model's pre-label the annotators kept, once per item, and shows it beside the queue", async () => {
    const { registered, itemIds } = await setup({ products: 3 });
    await seedServedModel(t.db, t.store, "mdl_a", 1);
    await pointAlias(t.db, "staging", "mdl_a");
    expect((await deliver(registered)).status).toBe("done");

    // Item 0 labelled exactly as pre-labelled; item 1 all "clear" (class 1); item 2 not labelled yet.
    const ontology = ontologyFromNames(DEFAULT_ONTOLOGY);
    let expectedKept = 0;
    let expectedCompared = 0;
    for (const [k, id] of itemIds.slice(0, 2).entries()) {
      const prelabel = await sharpCodec.decodePng(await t.store.get((await task(id)).prelabel!.uri));
      const truth = new Uint8Array(prelabel.data.length);
      for (let i = 0; i < truth.length; i++) truth[i] = i < 8 ? 0 : k === 0 ? prelabel.data[i]! : 1;
      // The nodata row (the first) is left out; the others are compared.
      for (let i = 8; i < truth.length; i++) {
        expectedCompared++;
        if (truth[i] === prelabel.data[i]) expectedKept++;
      }
      const title = (await t.db.query<{ title: string }>(`SELECT title FROM items WHERE id = $1`, [id])).rows[0]!.title;
      const row = simulatedLabelRow({ itemId: id, title, groundTruth: { width: 8, height: 6, mask: truth }, ontology, revision: 1, annotator: "ann@x", editedAt: new Date(), mistake: null });
      await t.store.put(`gs://annotation/inbox/${title}-r1.json`, JSON.stringify(row));
    }
    expect((await pollLabels(envelope("poll.tick", { reason: "schedule" }), t.deps)).detail).toBe("2 accepted, 0 rejected, 0 unmatched");
    const rows = await prelabelAcceptanceByModel(t.db);
    expect(rows).toEqual([{ modelId: "mdl_a", labels: 2, keptPixels: expectedKept, comparedPixels: expectedCompared }]);
    expect(expectedKept).toBeLessThan(expectedCompared);
    expect(expectedKept).toBeGreaterThanOrEqual(40);
    const compared = await t.db.query<{ item_id: string; kept_pixels: string; compared_pixels: string }>(
      `SELECT item_id, kept_pixels, compared_pixels FROM prelabels WHERE compared_annotation_id IS NOT NULL ORDER BY item_id`);
    expect(compared.rows.map((r) => r.item_id)).toEqual(itemIds.slice(0, 2).sort());
    const first = compared.rows.find((r) => r.item_id === itemIds[0])!;
    expect([Number(first.kept_pixels), Number(first.compared_pixels)]).toEqual([40, 40]);

    // A later revision of item 1's label does not count again.
    const title1 = (await t.db.query<{ title: string }>(`SELECT title FROM items WHERE id = $1`, [itemIds[1]])).rows[0]!.title;
    const again = simulatedLabelRow({ itemId: itemIds[1]!, title: title1, groundTruth: { width: 8, height: 6, mask: new Uint8Array(48) }, ontology, revision: 2, annotator: "ann@x", editedAt: new Date(Date.now() + 5000), mistake: null });
    await t.store.put(`gs://annotation/inbox/${title1}-r2.json`, JSON.stringify(again));
    expect((await pollLabels(envelope("poll.tick", { reason: "schedule" }), t.deps)).detail).toMatch(/^1 accepted/);
    expect((await prelabelAcceptanceByModel(t.db))[0]).toMatchObject({ labels: 2, keptPixels: expectedKept, comparedPixels: expectedCompared });

    // The queue page: the one item still waiting, and the model's acceptance.
    const page = await annotationQueuePage(t.db, { limit: 10 });
    expect(page.entries.map((e) => e.itemId)).toEqual([itemIds[2]]);
    const htmlText = renderQueuePage({ basePath: "", product: "t", objectLink: () => null }, page, 1);
    expect(htmlText).toContain("Pre-label acceptance by model");
    expect(htmlText).toContain(`${((100 * expectedKept) / expectedCompared).toFixed(1)} %`);
  });

  it("backfills items registered before the first model, a bounded batch per tick", async () => {
    const { registered, itemIds } = await setup({ products: 3 });
    t.deps.config.prelabel.backfillPerTick = 2;
    expect((await deliver(registered)).detail).toMatch(/0 pre-labelled, 0 failed, 3 skipped/);
    for (const id of itemIds) expect((await task(id)).prelabel).toBeUndefined();

    await seedServedModel(t.db, t.store, "mdl_b", 2);
    await pointAlias(t.db, "staging", "mdl_b");
    const tick = () => deliver(envelope("reconcile.tick", { reason: "schedule" }));
    expect((await tick()).detail).toBe("backfill: 2 pre-labelled, 0 failed, 0 skipped");
    expect((await tick()).detail).toBe("backfill: 1 pre-labelled, 0 failed, 0 skipped");
    expect((await tick()).status).toBe("skipped");
    for (const id of itemIds) expect((await task(id)).prelabel?.modelId).toBe("mdl_b");
  });

  it("leaves an item registered without a pre-label when its prediction fails, records why, and retries in the backfill", async () => {
    let failFor: string | null = null;
    const real = await import("../../shared/serving/item-predictor.ts");
    let inner: ItemPredictor | null = null;
    const predictor: ItemPredictor = {
      async predictImages(alias, images, nodata) {
        inner ??= real.createItemPredictor({ db: t.db, store: t.store, log: t.log, tileSize: 1024 });
        // The failing item is the one whose rendering is filled with its byte (20 + 60).
        if (failFor && images.rgb?.data[0] === 80) throw new PermanentError("inference_failed", "model broke on this one");
        return inner.predictImages(alias, images, nodata);
      },
    };
    failFor = "p1";
    const { registered, itemIds } = await setup({ predictor, products: 3 });
    await seedServedModel(t.db, t.store, "mdl_c", 3);
    await pointAlias(t.db, "staging", "mdl_c");
    expect((await deliver(registered)).detail).toBe("2 pre-labelled, 1 failed, 0 skipped");
    const states = await t.db.query<{ id: string; state: string; product_name: string }>(`SELECT id, state, product_name FROM items ORDER BY product_name`);
    expect(states.rows.map((r) => r.state)).toEqual(["registered", "registered", "registered"]);
    const failed = states.rows.find((r) => r.product_name === "p1")!.id;
    expect(await getPrelabel(t.db, failed)).toMatchObject({ state: "failed", error: expect.stringMatching(/model broke on this one/), queued: false });
    expect((await task(failed)).prelabel).toBeUndefined();
    expect(t.log.entries.some((l) => l.message.includes("stays registered without one") && l.fields.itemId === failed)).toBe(true);

    failFor = null;
    expect((await deliver(envelope("reconcile.tick", { reason: "schedule" }))).detail).toBe("backfill: 1 pre-labelled, 0 failed, 0 skipped");
    expect(await getPrelabel(t.db, failed)).toMatchObject({ state: "done", attempts: 2 });
    expect(itemIds).toContain(failed);
  });

  it("takes over a claim left by a process that died after the backend call, and the task file ends the same", async () => {
    const { calls, itemIds } = await setup({ products: 1 });
    await seedServedModel(t.db, t.store, "mdl_d", 4);
    await pointAlias(t.db, "staging", "mdl_d");
    const id = itemIds[0]!;
    // A delivery claimed the item and died: its lease ran out.
    await t.db.query(`INSERT INTO prelabels (item_id, state, alias, claim_token, claim_until, attempts) VALUES ($1, 'claimed', 'staging', 'dead', now() - interval '1 minute', 1)`, [id]);
    expect((await deliver(envelope("reconcile.tick", { reason: "schedule" }))).detail).toBe("backfill: 1 pre-labelled, 0 failed, 0 skipped");
    const once = await task(id);
    // The dead delivery's late finish finds its claim gone and records nothing.
    const { finishPrelabel } = await import("../../shared/db/queries/prelabels.ts");
    expect(await t.db.transaction((tx) => finishPrelabel(tx, id, "dead", { modelId: "x", maskUri: "gs://x/y", priority: 9, components: {}, reason: "late" }))).toBe(false);
    expect(await getPrelabel(t.db, id)).toMatchObject({ state: "done", model_id: "mdl_d" });
    expect(once.prelabel?.modelId).toBe("mdl_d");
    expect(calls.get(id)).toBe(1);
  });
});

describe(`pre-label claims after a restart (${testDbKind})`, () => {
  it("are released by the local runtime's start, so the backfill takes the item at once", async () => {
    const t = await createTestDeps();
    try {
      await t.db.query(`INSERT INTO items (id, source_bucket, source_name, source_generation, state) VALUES ('it_x', 'archive', 'x.zip', '1', 'registered')`);
      await t.db.query(`INSERT INTO prelabels (item_id, state, alias, claim_token, claim_until, attempts) VALUES ('it_x', 'claimed', 'staging', 'dead', now() + interval '10 minutes', 1)`);
      const { itemsWithoutPrelabel } = await import("../../shared/db/queries/prelabels.ts");
      expect(await itemsWithoutPrelabel(t.db, 10, 3)).toEqual([]);
      const { releaseLeasesOfDeadProcesses } = await import("../../shared/db/queries/leases.ts");
      expect((await releaseLeasesOfDeadProcesses(t.db)).prelabels).toBe(1);
      expect(await itemsWithoutPrelabel(t.db, 10, 3)).toEqual(["it_x"]);
    } finally {
      await t.close();
    }
  });
});
