import { afterEach, describe, expect, it } from "vitest";
import { PermanentError } from "../../../../shared/errors.ts";
import type { CanonicalAnnotation } from "../../../../shared/core/annotation/canonical.ts";
import { toEncordLabelRow } from "../../../../shared/core/annotation/encord-label-row.ts";
import { ontologyFromEncord } from "../../../../shared/core/annotation/ontology.ts";
import { EncordAuthError } from "../../../../shared/adapters/encord/errors.ts";
import type { AnnotationBackend, LabelRef } from "../../../../shared/ports.ts";
import { generateTestKey } from "../../../fakes/encord-keys.ts";
import { fakeEditorOntology, type LabelTarget } from "../../../fakes/encord-server.ts";
import { productRequest, startEncordHarness, type EncordHarness } from "../../../fakes/encord-harness.ts";

const CLASSES = ["background", "land", "water", "thick_cloud", "thin_cloud", "cloud_shadow"];
const ontology = ontologyFromEncord(fakeEditorOntology(CLASSES), CLASSES);

let h: EncordHarness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

/** A hand-made annotation of a 64×48 product: a water box, a cloud polygon and a shadow mask. */
function annotationFor(itemId: string, labelId: string): CanonicalAnnotation {
  return {
    schema: "canonical-annotation/v1",
    itemId,
    image: { width: 64, height: 48 },
    objects: [
      { id: "obj-water", kind: "box", classId: 2, className: "water", box: { x: 8, y: 6, w: 16, h: 12 } },
      { id: "obj-cloud", kind: "polygon", classId: 3, className: "thick_cloud", polygon: [[0, 0, 32, 0, 32, 24, 0, 24]] },
      // 100 off, 50 on, the rest off: 100 + 50 + 2922 = 64 × 48.
      { id: "obj-shadow", kind: "mask", classId: 5, className: "cloud_shadow", mask: { counts: [100, 50, 2922] } },
    ],
    classifications: [],
    provenance: { backend: "encord", labelId, annotator: "ann@example.com", editedAt: "2024-05-01T12:00:00.000Z" },
  };
}

/** What an Encord annotator would save for this image group: objects on the RGB unit. */
function labelRowFor(t: LabelTarget): Record<string, unknown> {
  const itemId = t.clientMetadata.itemId as string;
  return toEncordLabelRow(annotationFor(itemId, t.labelHash), ontology, {
    labelHash: t.labelHash,
    dataHash: t.dataHash,
    dataTitle: t.title,
    dataType: "img_group",
    units: t.urls.map((url, i) => ({ dataHash: `${t.dataHash}-${i}`, dataTitle: url.slice(url.lastIndexOf("/") + 1) })),
  });
}

async function registered(count: number): Promise<{ x: EncordHarness; backend: AnnotationBackend }> {
  h = await startEncordHarness({ classNames: CLASSES, env: { ONTOLOGY: JSON.stringify(CLASSES) } });
  const backend = h.backend();
  const results = await backend.register(Array.from({ length: count }, (_, i) => productRequest(i)));
  expect(results.every((r) => r.ok)).toBe(true);
  return { x: h, backend };
}

const labelRowUidLengths = (x: EncordHarness) => x.fake.state.requests.filter((r) => r.queryType === "labelrow").map((r) => (r.uid as unknown[]).length);

const metadataCalls = (x: EncordHarness) => x.fake.state.requests.filter((r) => r.queryType === "labelrowmetadata");
const taskCalls = (x: EncordHarness) => x.fake.state.requests.filter((r) => r.path.endsWith("/tasks"));
const cursorOf = (text: string | null) => JSON.parse(text!) as { v: number; editedAfter: string; sweep: string | null };

describe("Encord poll: what it lists", () => {
  it("returns only labelled rows in the Complete stage, oldest first, with our item ids", async () => {
    const { x, backend } = await registered(4);
    x.fake.completeLabel("item_S2_00002", labelRowFor, { editedAt: "2024-05-01T12:00:02.000000" });
    x.fake.completeLabel("item_S2_00000", labelRowFor, { editedAt: "2024-05-01T12:00:01.000000" });
    x.fake.completeLabel("item_S2_00001", labelRowFor, { editedAt: "2024-05-01T12:00:03.000000", stage: "Review 1" });
    // item 3 is never labelled: its row has label_hash null.

    const { refs, nextCursor } = await backend.poll(null);

    expect(refs.map((r) => r.itemId)).toEqual(["item_S2_00000", "item_S2_00002"]);
    expect(refs.map((r) => r.editedAt)).toEqual(["2024-05-01T12:00:01.000000+00:00", "2024-05-01T12:00:02.000000+00:00"]);
    const target = x.fake.labelTargets().find((t) => t.clientMetadata.itemId === "item_S2_00000")!;
    expect(refs[0]).toEqual({
      labelId: target.labelHash, itemId: "item_S2_00000", backendRef: target.itemUuid, title: "S2_00000",
      editedAt: "2024-05-01T12:00:01.000000+00:00", annotator: "annotator@example.com",
    });
    // The sweep covered the whole (one-page) stage, so the next poll starts it over.
    expect(cursorOf(nextCursor)).toMatchObject({ v: 2, sweep: null });
    expect(metadataCalls(x).map((r) => r.payload)).toEqual([
      expect.objectContaining({ workflow_graph_node_title_eq: "Complete", edited_after: expect.any(String), data_hashes: null, include_client_metadata: true }),
      expect.objectContaining({ workflow_graph_node_title_eq: "Complete", edited_after: null, data_hashes: expect.arrayContaining([target.dataHash]) }),
    ]);
  });

  it("opens the edit window at the newest edit seen minus the overlap, in the SDK's datetime form", async () => {
    const { x, backend } = await registered(2);
    x.fake.completeLabel("item_S2_00000", labelRowFor, { editedAt: "2024-05-01T12:00:00.123456" });
    const first = await backend.poll(JSON.stringify({ v: 2, editedAfter: "2024-05-01T00:00:00.000000+00:00", sweep: null }));
    expect(first.refs).toHaveLength(1);
    expect(cursorOf(first.nextCursor).editedAfter).toBe("2024-05-01T11:50:00.123000+00:00");
    await backend.poll(first.nextCursor);
    expect((metadataCalls(x).at(-2)!.payload as { edited_after: string }).edited_after).toBe("2024-05-01T11:50:00.123000+00:00");
  });

  it("lists a row approved without an edit after the poll has passed its edit time", async () => {
    const { x, backend } = await registered(2);
    x.fake.completeLabel("item_S2_00000", labelRowFor, { editedAt: "2024-05-01T10:00:00.000000", stage: "Review 1" });
    x.fake.completeLabel("item_S2_00001", labelRowFor, { editedAt: "2024-05-01T12:00:00.000000" });
    const first = await backend.poll(null);
    expect(first.refs.map((r) => r.itemId)).toEqual(["item_S2_00001"]);

    // Two hours older than the newest edit seen: no edit window finds it, the sweep does.
    x.fake.approve("item_S2_00000");
    const next = await backend.poll(first.nextCursor);
    expect(next.refs.map((r) => [r.itemId, r.editedAt])).toContainEqual(["item_S2_00000", "2024-05-01T10:00:00.000000+00:00"]);
  });

  it("lists a row re-opened and completed again as a new revision", async () => {
    const { x, backend } = await registered(1);
    x.fake.completeLabel("item_S2_00000", labelRowFor, { editedAt: "2024-05-01T12:00:00.000000" });
    const first = await backend.poll(null);
    x.fake.reopen("item_S2_00000");
    expect((await backend.poll(first.nextCursor)).refs).toEqual([]);
    x.fake.completeLabel("item_S2_00000", labelRowFor, { editedAt: "2024-05-01T12:30:00.000000" });
    const again = await backend.poll(first.nextCursor);
    expect(again.refs.map((r) => [r.labelId, r.editedAt])).toEqual([[first.refs[0]!.labelId, "2024-05-01T12:30:00.000000+00:00"]]);
  });

  it("lists a row that reached Complete while the previous poll ran, whatever its edit time", async () => {
    const { x, backend } = await registered(2);
    x.fake.completeLabel("item_S2_00000", labelRowFor, { editedAt: "2024-05-01T09:00:00.000000", stage: "Review 1" });
    x.fake.completeLabel("item_S2_00001", labelRowFor, { editedAt: "2024-05-01T12:00:00.000000" });
    // Approved right after the poll's last listing answered: this poll cannot see it.
    x.fake.afterRequest((r) => r.queryType === "labelrowmetadata" && Array.isArray((r.payload as { data_hashes?: unknown }).data_hashes), () => x.fake.approve("item_S2_00000"));
    const first = await backend.poll(null);
    expect(first.refs.map((r) => r.itemId)).toEqual(["item_S2_00001"]);
    expect((await backend.poll(first.nextCursor)).refs.map((r) => r.itemId)).toContain("item_S2_00000");
  });

  it("costs at most 1 + 2 × pages requests per poll, and its sweep resumes where it stopped and starts over", async () => {
    const { x } = await registered(5);
    x.fake.state.taskPageSize = 1;
    x.fake.completeAll(labelRowFor);
    const backend = x.backend({ poll: { sweepPagesPerPoll: 2 } });
    const seen = new Set<string>();
    let cursor: string | null = JSON.stringify({ v: 2, editedAfter: "2030-01-01T00:00:00.000000+00:00", sweep: null }); // nothing in the window
    const sweeps: (string | null)[] = [];
    for (let poll = 0; poll < 4; poll++) {
      const before = x.fake.state.requests.length;
      const page = await backend.poll(cursor);
      expect(x.fake.state.requests.length - before).toBeLessThanOrEqual(1 + 2 * 2 + (poll === 0 ? 1 : 0)); // + the project, once
      for (const ref of page.refs) seen.add(ref.itemId!);
      cursor = page.nextCursor;
      sweeps.push(cursorOf(cursor).sweep);
    }
    expect(seen.size).toBe(5); // 5 pages at 2 a poll: all seen by the third poll
    expect(sweeps).toEqual(["2", "4", null, "2"]);
    expect(taskCalls(x).map((r) => new URLSearchParams(r.query).get("pageToken"))).toEqual([null, "1", "2", "3", "4", null, "1"]);
  });

  it("starts the sweep over when Encord refuses its page token", async () => {
    const { x, backend } = await registered(1);
    x.fake.completeLabel("item_S2_00000", labelRowFor, { editedAt: "2024-05-01T12:00:00.000000" });
    const stale = JSON.stringify({ v: 2, editedAfter: "2030-01-01T00:00:00.000000+00:00", sweep: "999x" });
    const page = await backend.poll(stale);
    expect(page.refs.map((r) => r.itemId)).toEqual(["item_S2_00000"]);
    expect(taskCalls(x).map((r) => r.status)).toEqual([400, 200]);
  });

  it("reads a cursor of earlier versions (a bare timestamp) as the newest edit seen", async () => {
    const { x, backend } = await registered(1);
    await backend.poll("2024-05-01T12:00:00.123456Z");
    expect((metadataCalls(x)[0]!.payload as { edited_after: string }).edited_after).toBe("2024-05-01T11:50:00.123000+00:00");
  });

  it("refuses a cursor that is neither a timestamp nor a poll state", async () => {
    const { backend } = await registered(1);
    await expect(backend.poll("not-a-time")).rejects.toBeInstanceOf(PermanentError);
    await expect(backend.poll('{"v":1}')).rejects.toBeInstanceOf(PermanentError);
  });

  it("stops with one EncordAuthError when the key is refused", async () => {
    h = await startEncordHarness({ env: { ENCORD_SSH_KEY: generateTestKey().openssh } });
    const backend = h.backend();
    await expect(backend.poll(null)).rejects.toBeInstanceOf(EncordAuthError);
    await expect(backend.fetchLabels([{ labelId: "x", itemId: null, backendRef: null, title: null, editedAt: "2024-01-01T00:00:00Z", annotator: null }])).rejects.toBeInstanceOf(EncordAuthError);
    expect(h.fake.state.requests).toHaveLength(1);
  });
});

describe("Encord fetchLabels", () => {
  it("converts label rows to the canonical annotation they were made from", async () => {
    const { x, backend } = await registered(2);
    x.fake.completeAll(labelRowFor, { annotator: "ann@example.com" });
    const { refs } = await backend.poll(null);
    const fetched = await backend.fetchLabels(refs);

    expect(fetched).toHaveLength(2);
    for (const { ref, result } of fetched) {
      expect(result.ok).toBe(true);
      if (!result.ok) continue;
      const expected = annotationFor(ref.itemId!, ref.labelId);
      expect(result.annotation.itemId).toBe(expected.itemId);
      expect(result.annotation.image).toEqual(expected.image);
      expect(result.annotation.objects).toEqual(expected.objects);
      expect(result.annotation.provenance).toMatchObject({ backend: "encord", labelId: ref.labelId });
    }
  });

  it("fetches label rows in chunks of 100", async () => {
    const { x, backend } = await registered(205);
    x.fake.completeAll(labelRowFor);
    const fetched = await backend.fetchLabels((await backend.poll(null)).refs);
    expect(fetched.filter((f) => f.result.ok)).toHaveLength(205);
    expect(labelRowUidLengths(x)).toEqual([100, 100, 5]);
  });

  it("halves the chunk on MULTI_LABEL_LIMIT_ERROR down to what the server takes, and remembers it", async () => {
    const { x, backend } = await registered(7);
    x.fake.completeAll(labelRowFor);
    x.fake.setLabelRowLimit(2, { advertise: false });
    const { refs } = await backend.poll(null);

    const fetched = await backend.fetchLabels(refs);
    expect(fetched.every((f) => f.result.ok)).toBe(true);
    // 7 refused → 3 (half) refused → 1 accepted, then six more single fetches.
    expect(labelRowUidLengths(x)).toEqual([7, 3, 1, 1, 1, 1, 1, 1, 1]);

    await backend.fetchLabels(refs.slice(0, 2));
    expect(labelRowUidLengths(x).slice(9)).toEqual([1, 1]);
  });

  it("jumps to maximum_labels_allowed when the server states it", async () => {
    const { x, backend } = await registered(7);
    x.fake.completeAll(labelRowFor);
    x.fake.setLabelRowLimit(2, { advertise: true });
    const fetched = await backend.fetchLabels((await backend.poll(null)).refs);
    expect(fetched.every((f) => f.result.ok)).toBe(true);
    expect(labelRowUidLengths(x)).toEqual([7, 2, 2, 2, 1]);
  });

  it("reports a row that will not convert as an error, next to the good ones", async () => {
    const { x, backend } = await registered(2);
    x.fake.completeLabel("item_S2_00000", labelRowFor);
    x.fake.completeLabel("item_S2_00001", (t) => ({ ...labelRowFor(t), data_type: "video" }));
    const fetched = await backend.fetchLabels((await backend.poll(null)).refs);
    const byItem = new Map(fetched.map((f) => [f.ref.itemId, f.result]));
    expect(byItem.get("item_S2_00000")!.ok).toBe(true);
    expect(byItem.get("item_S2_00001")).toMatchObject({ ok: false });
    expect((byItem.get("item_S2_00001") as { error: string }).error).toMatch(/video/);
  });

  it("reports a label Encord no longer returns", async () => {
    const { backend } = await registered(1);
    const ghost: LabelRef = { labelId: "7e6f9f55-0000-4000-8000-00000000dead", itemId: "item_x", backendRef: null, title: "x", editedAt: "2024-01-01T00:00:00.000000+00:00", annotator: null };
    const [fetched] = await backend.fetchLabels([ghost]);
    expect(fetched!.result).toEqual({ ok: false, error: `Encord returned no label row for ${ghost.labelId}` });
  });
});
