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

const metadataPayloads = (x: EncordHarness) => x.fake.state.requests.filter((r) => r.queryType === "labelrowmetadata").map((r) => r.payload as Record<string, unknown>);
const labelRowUidLengths = (x: EncordHarness) => x.fake.state.requests.filter((r) => r.queryType === "labelrow").map((r) => (r.uid as unknown[]).length);

describe("Encord poll", () => {
  it("returns only labelled rows in the Complete stage, oldest first, with our item ids", async () => {
    const { x, backend } = await registered(4);
    x.fake.completeLabel("item_S2_00002", labelRowFor, { editedAt: "2024-05-01T12:00:02.000000" });
    x.fake.completeLabel("item_S2_00000", labelRowFor, { editedAt: "2024-05-01T12:00:01.000000" });
    x.fake.completeLabel("item_S2_00001", labelRowFor, { editedAt: "2024-05-01T12:00:03.000000", stage: "Review 1" });
    // item 3 is never labelled: its row has label_hash null.

    const { refs, nextCursor } = await backend.poll(null);

    expect(refs.map((r) => r.itemId)).toEqual(["item_S2_00000", "item_S2_00002"]);
    expect(refs.map((r) => r.editedAt)).toEqual(["2024-05-01T12:00:01.000000+00:00", "2024-05-01T12:00:02.000000+00:00"]);
    expect(nextCursor).toBe("2024-05-01T12:00:02.000000+00:00");
    const target = x.fake.labelTargets().find((t) => t.clientMetadata.itemId === "item_S2_00000")!;
    expect(refs[0]).toEqual({
      labelId: target.labelHash, itemId: "item_S2_00000", backendRef: target.itemUuid, title: "S2_00000",
      editedAt: "2024-05-01T12:00:01.000000+00:00", annotator: "annotator@example.com",
    });
    expect(metadataPayloads(x)[0]).toMatchObject({ workflow_graph_node_title_eq: "Complete", edited_after: null, include_client_metadata: true });
  });

  it("honours the cursor to the microsecond and keeps it when nothing is new", async () => {
    const { x, backend } = await registered(3);
    x.fake.completeLabel("item_S2_00000", labelRowFor, { editedAt: "2024-05-01T12:00:00.123456" });
    x.fake.completeLabel("item_S2_00001", labelRowFor, { editedAt: "2024-05-01T12:00:00.123457" });

    const after = await backend.poll("2024-05-01T12:00:00.123456Z");
    expect(after.refs.map((r) => r.itemId)).toEqual(["item_S2_00001"]);
    // Sent the way the SDK sends datetimes: Python isoformat with an offset.
    expect(metadataPayloads(x).at(-1)!.edited_after).toBe("2024-05-01T12:00:00.123456+00:00");

    x.fake.completeLabel("item_S2_00002", labelRowFor, { editedAt: "2024-05-01T13:00:00.000000" });
    const next = await backend.poll(after.nextCursor);
    expect(next.refs.map((r) => r.itemId)).toEqual(["item_S2_00002"]);
    const idle = await backend.poll(next.nextCursor);
    expect(idle).toEqual({ refs: [], nextCursor: next.nextCursor });
  });

  it("refuses a cursor that is not a timestamp", async () => {
    const { backend } = await registered(1);
    await expect(backend.poll("not-a-time")).rejects.toBeInstanceOf(PermanentError);
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
