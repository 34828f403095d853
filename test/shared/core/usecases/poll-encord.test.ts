import { afterEach, describe, expect, it } from "vitest";
import type { CanonicalAnnotation } from "../../../../shared/core/annotation/canonical.ts";
import { toEncordLabelRow } from "../../../../shared/core/annotation/encord-label-row.ts";
import { ontologyFromEncord } from "../../../../shared/core/annotation/ontology.ts";
import { DEFAULT_ONTOLOGY } from "../../../../shared/config/schema.ts";
import { pollLabels } from "../../../../shared/core/usecases/poll.ts";
import { productRequest, startEncordHarness, type EncordHarness } from "../../../fakes/encord-harness.ts";
import type { LabelTarget } from "../../../fakes/encord-server.ts";
import { seedItem } from "../../../functions/seed.ts";
import { createTestDeps, type TestDeps } from "../../../helpers/deps.ts";
import { testDbKind } from "../../../helpers/db.ts";

/**
 * The poll use case on the Encord backend (wire-level fake): every label that reaches Complete is
 * taken in — also one a reviewer approves without editing, after the poll has passed its edit time,
 * and one re-opened and completed again (a new revision) — and a repeated poll is a no-op.
 */
const W = 64;
const H = 40;

describe(`poll on Encord (${testDbKind})`, () => {
  let t: TestDeps | undefined;
  let h: EncordHarness | undefined;
  afterEach(async () => {
    await t?.close();
    await h?.close();
    t = h = undefined;
  });

  async function setup(count: number) {
    h = await startEncordHarness(); // the seed project's ontology
    const backend = h.backend();
    const requests = Array.from({ length: count }, (_, i) => productRequest(i));
    expect((await backend.register(requests)).every((r) => r.ok)).toBe(true);
    t = await createTestDeps({ backend });
    for (const r of requests) await seedItem(t.db, { id: r.itemId, state: "registered", productName: r.title, width: W, height: H });
    const ontology = ontologyFromEncord(h.fake.state.editorOntology, DEFAULT_ONTOLOGY);
    /** A label in all five seed classes: a band of rows each (Fill on top, where a swath would end). */
    const labelRow = (classes: readonly string[]) => (target: LabelTarget) => {
      const band = H / classes.length;
      const annotation: CanonicalAnnotation = {
        schema: "canonical-annotation/v1", itemId: target.clientMetadata.itemId as string, image: { width: W, height: H },
        objects: classes.map((name, i) => ({
          id: `o-${name}`, classId: DEFAULT_ONTOLOGY.indexOf(name), className: name, kind: "mask" as const,
          mask: { counts: i === 0 ? [0, band * W, (H - band) * W] : [i * band * W, band * W, (H - (i + 1) * band) * W] },
        })),
        classifications: [],
        provenance: { backend: "encord", labelId: target.labelHash, annotator: "ann@team", editedAt: "2024-05-01T12:00:00.000Z" },
      };
      return toEncordLabelRow(annotation, ontology, { labelHash: target.labelHash, dataHash: target.dataHash, dataTitle: target.title, dataType: "img_group",
        units: target.urls.map((url, i) => ({ dataHash: `${target.dataHash}-${i}`, dataTitle: url.slice(url.lastIndexOf("/") + 1) })) });
    };
    return { h, t, labelRow };
  }

  const annotations = async (deps: TestDeps) =>
    (await deps.db.query<{ item_id: string; label_id: string; edited_at: Date; verdict: string; reasons: string[] }>(`SELECT item_id, label_id, edited_at, verdict, reasons FROM annotations ORDER BY item_id, edited_at`)).rows;

  it("accepts labels in all five seed classes (Fill, Clear, Cloud, Thin_Cloud, Cloud_Shadow)", async () => {
    const { h, t, labelRow } = await setup(1);
    h.fake.completeLabel("item_S2_00000", labelRow(["Fill", "Clear", "Cloud", "Thin_Cloud", "Cloud_Shadow"]));
    expect(await pollLabels(null, t.deps)).toMatchObject({ detail: "1 accepted, 0 rejected, 0 unmatched" });
    const [row] = await annotations(t);
    expect(row).toMatchObject({ verdict: "accepted", reasons: [] });
  });

  it("takes a label approved without an edit after the poll passed its edit time, and a re-opened label completed again", async () => {
    const { h, t, labelRow } = await setup(2);
    const all = labelRow(["Fill", "Clear", "Cloud", "Thin_Cloud", "Cloud_Shadow"]);
    h.fake.completeLabel("item_S2_00000", all, { editedAt: "2024-05-01T09:00:00.000000", stage: "Review 1" }); // waiting for review
    h.fake.completeLabel("item_S2_00001", all, { editedAt: "2024-05-01T12:00:00.000000" });
    expect(await pollLabels(null, t.deps)).toMatchObject({ detail: "1 accepted, 0 rejected, 0 unmatched" });

    // The reviewer approves it as it is: it reaches Complete three hours "in the past".
    h.fake.approve("item_S2_00000");
    expect(await pollLabels(null, t.deps)).toMatchObject({ detail: "1 accepted, 0 rejected, 0 unmatched" });
    expect((await annotations(t)).map((a) => a.item_id)).toEqual(["item_S2_00000", "item_S2_00001"]);

    // A repeated poll lists the same rows and fetches nothing.
    const fetchesBefore = h.fake.state.counters.labelRowFetches;
    expect(await pollLabels(null, t.deps)).toMatchObject({ status: "skipped" });
    expect(h.fake.state.counters.labelRowFetches).toBe(fetchesBefore);
    expect(await annotations(t)).toHaveLength(2);

    // Re-opened, redrawn in two classes, and completed again: a second revision of the same label.
    h.fake.reopen("item_S2_00001");
    expect(await pollLabels(null, t.deps)).toMatchObject({ status: "skipped" });
    h.fake.completeLabel("item_S2_00001", labelRow(["Cloud", "Clear"]), { editedAt: "2024-05-01T13:00:00.000000" });
    expect(await pollLabels(null, t.deps)).toMatchObject({ detail: "1 accepted, 0 rejected, 0 unmatched" });
    const revisions = (await t.db.query<{ label_id: string; edited_at: Date; canonical: CanonicalAnnotation }>(
      `SELECT label_id, edited_at, canonical FROM annotations WHERE item_id = 'item_S2_00001' ORDER BY edited_at`)).rows;
    expect(revisions.map((a) => a.edited_at.toISOString())).toEqual(["2024-05-01T12:00:00.000Z", "2024-05-01T13:00:00.000Z"]);
    expect(new Set(revisions.map((a) => a.label_id)).size).toBe(1); // one label, two revisions
    expect(revisions[1]!.canonical.objects.map((o) => o.className)).toEqual(["Cloud", "Clear"]);
    expect(await pollLabels(null, t.deps)).toMatchObject({ status: "skipped" });
  });

  it("puts a label matching no item on record once, not on every poll that lists it", async () => {
    const { h, t, labelRow } = await setup(2);
    await t.db.query(`UPDATE items SET state = 'failed' WHERE id = 'item_S2_00001'`);
    h.fake.completeLabel("item_S2_00001", labelRow(["Clear"]));
    expect(await pollLabels(null, t.deps)).toMatchObject({ detail: "0 accepted, 0 rejected, 1 unmatched" });
    expect(await pollLabels(null, t.deps)).toMatchObject({ status: "skipped" });
    const dead = await t.db.query<{ reason: string }>(`SELECT reason FROM dead_letters WHERE consumer = 'poll'`);
    expect(dead.rows.map((r) => r.reason)).toEqual([expect.stringMatching(/is for item item_S2_00001, which is failed/)]);
  });
});
