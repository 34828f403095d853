import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { createInboxBackend } from "../../../../shared/adapters/annotation/inbox-backend.ts";
import { LocalObjectStore } from "../../../../shared/adapters/store/local.ts";
import { silentLogger } from "../../../../shared/adapters/basics.ts";
import { loadConfig } from "../../../../shared/config/load.ts";
import { ontologyFromNames } from "../../../../shared/core/annotation/ontology.ts";
import { toEncordLabelRow } from "../../../../shared/core/annotation/encord-label-row-write.ts";
import type { CanonicalAnnotation } from "../../../../shared/core/annotation/canonical.ts";

const CLASSES = ["background", "land", "water"];

describe("folder inbox annotation backend", () => {
  let dir: string;
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  function setup() {
    dir = mkdtempSync(join(tmpdir(), "inbox-"));
    const store = new LocalObjectStore(dir);
    const config = loadConfig({ ONTOLOGY: JSON.stringify(CLASSES) });
    return { store, backend: createInboxBackend({ store, config, log: silentLogger }) };
  }

  it("writes one task per item and leaves an existing task alone when a batch is retried", async () => {
    const { store, backend } = setup();
    const request = { itemId: "it_1", title: "P1", kind: "product" as const, contentSha256: "ab", images: [{ role: "rgb" as const, uri: "gs://annotation/items/P1/P1_rgb.png", width: 4, height: 4 }] };
    expect(await backend.register([request])).toEqual([{ itemId: "it_1", ok: true, backendRef: "tasks/it_1.json" }]);
    const first = await store.get("gs://annotation/tasks/it_1.json");
    await backend.register([request]);
    expect((await store.get("gs://annotation/tasks/it_1.json")).equals(first)).toBe(true);
    expect(JSON.parse(first.toString())).toMatchObject({ itemId: "it_1", title: "P1", images: [{ uri: "gs://annotation/items/P1/P1_rgb.png" }] });
  });

  it("picks up Encord label rows and COCO files dropped in the inbox, once, in write order", async () => {
    const { store, backend } = setup();
    const ontology = ontologyFromNames(CLASSES);
    const annotation: CanonicalAnnotation = {
      schema: "canonical-annotation/v1", itemId: "it_1", image: { width: 4, height: 4 }, classifications: [],
      objects: [{ id: "o1", classId: 2, className: "water", kind: "box", box: { x: 0, y: 0, w: 2, h: 2 } }],
      provenance: { backend: "local", labelId: "lh-1", annotator: "ann@team", editedAt: "2026-01-01T10:00:00.000Z" },
    };
    const row = { ...toEncordLabelRow(annotation, ontology, { labelHash: "lh-1", dataHash: "d1", dataTitle: "P1", dataType: "image" }), client_metadata: { itemId: "it_1" } };
    await store.put("gs://annotation/inbox/p1.json", JSON.stringify(row));
    await new Promise((r) => setTimeout(r, 5));
    const coco = {
      images: [{ id: 1, file_name: "P2_rgb.png", width: 4, height: 4 }, { id: 2, file_name: "P3.png", width: 4, height: 4 }],
      annotations: [{ id: 10, image_id: 1, category_id: 2, bbox: [1, 1, 2, 2], area: 4, iscrowd: 0 }],
      categories: [{ id: 2, name: "land" }],
    };
    await store.put("gs://annotation/inbox/batch.json", JSON.stringify(coco));
    await store.put("gs://annotation/inbox/notes.txt", "ignored: not JSON");

    const page = await backend.poll(null);
    expect(page.refs.map((r) => r.labelId)).toEqual(["inbox/p1.json", "inbox/batch.json"]);
    const labels = await backend.fetchLabels(page.refs);
    expect(labels.map((l) => [l.ref.labelId, l.ref.itemId, l.ref.title, l.result.ok])).toEqual([
      ["lh-1", "it_1", "P1", true],
      ["inbox/batch.json#P2_rgb.png", null, "P2", true],
      ["inbox/batch.json#P3.png", null, "P3", true],
    ]);
    const [encord, p2, p3] = labels.map((l) => (l.result.ok ? l.result.annotation : null));
    expect(encord?.objects).toEqual([expect.objectContaining({ classId: 2, kind: "box", box: { x: 0, y: 0, w: 2, h: 2 } })]);
    expect(p2?.objects).toEqual([expect.objectContaining({ classId: 1, className: "land", box: { x: 1, y: 1, w: 2, h: 2 } })]);
    expect(p3?.objects).toEqual([]);
    // Revisions are keyed by the file's write time, to the millisecond.
    expect(labels[0]!.ref.editedAt).toBe(page.refs[0]!.editedAt);

    expect((await backend.poll(page.nextCursor)).refs).toEqual([]);
    await new Promise((r) => setTimeout(r, 5));
    await store.put("gs://annotation/inbox/p1-fixed.json", JSON.stringify(row));
    expect((await backend.poll(page.nextCursor)).refs.map((r) => r.labelId)).toEqual(["inbox/p1-fixed.json"]);
  });

  it("turns an unreadable or unknown file into a label error instead of throwing", async () => {
    const { store, backend } = setup();
    await store.put("gs://annotation/inbox/broken.json", "{oops");
    await store.put("gs://annotation/inbox/other.json", JSON.stringify({ hello: "world" }));
    const labels = await backend.fetchLabels((await backend.poll(null)).refs);
    expect(labels.map((l) => (l.result.ok ? "ok" : l.result.error))).toEqual([
      expect.stringMatching(/unreadable label file inbox\/broken.json/),
      "label file inbox/other.json is neither an Encord label row nor a COCO file",
    ]);
  });
});
