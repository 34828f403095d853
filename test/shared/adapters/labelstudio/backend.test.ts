import { afterEach, describe, expect, it } from "vitest";
import { memoryRegistrationLedger } from "../../../../shared/adapters/annotation/memory-ledger.ts";
import { LabelStudioAuthError } from "../../../../shared/adapters/labelstudio/http.ts";
import { DEFAULT_ONTOLOGY } from "../../../../shared/config/schema.ts";
import { labelingConfigFor } from "../../../../shared/core/annotation/labelstudio-config.ts";
import { brushRleToAlpha } from "../../../../shared/core/annotation/labelstudio-rle.ts";
import { decodeRowMajor } from "../../../../shared/core/annotation/rle.ts";
import { PermanentError, TransientError } from "../../../../shared/errors.ts";
import { brushResult, imageRequest, startLabelStudioHarness, type LabelStudioHarness } from "../../../fakes/labelstudio-harness.ts";

let h: LabelStudioHarness;
afterEach(async () => h?.close());

const W = 6;
const H = 4;
/** Class ids per pixel: Clear on the left, Cloud on the right, a Cloud_Shadow corner. */
const CLASS_MASK = Uint8Array.from({ length: W * H }, (_, p) => (p === 0 ? 4 : p % W < 3 ? 1 : 2));

describe("Label Studio backend: registration", () => {
  it("creates the project from ONTOLOGY once and imports one task per item with its id, title, size, priority and gs:// image", async () => {
    h = await startLabelStudioHarness();
    const backend = h.backend();
    const results = await backend.register([imageRequest(1, { width: W, height: H }, 0.9), imageRequest(2)]);
    expect(results.every((r) => r.ok)).toBe(true);
    const [project] = [...h.fake.projects.values()];
    expect(project!.title).toBe("mlops-loop");
    expect(project!.label_config).toBe(labelingConfigFor(DEFAULT_ONTOLOGY));
    const tasks = h.fake.tasksOf(project!.id);
    expect(tasks.map((t) => t.data)).toEqual([
      { image: "gs://annotation/items/cam_00001/cam_00001.png", itemId: "item_cam_00001", title: "cam_00001", width: W, height: H, priority: 0.9 },
      { image: "gs://annotation/items/cam_00002/cam_00002.png", itemId: "item_cam_00002", title: "cam_00002", width: 6, height: 4 },
    ]);
    expect(results.map((r) => (r.ok ? r.backendRef : null))).toEqual(tasks.map((t) => String(t.id)));
    // A second backend finds the project by title instead of creating another.
    await h.backend().register([imageRequest(3)]);
    expect(h.fake.projects.size).toBe(1);
    expect(h.fake.counters.imports).toBe(2);
    expect(h.fake.log.some((l) => l.startsWith("POST /api/projects/1/import?return_task_ids=true"))).toBe(true);
  });

  it("sends image URLs under LABEL_STUDIO_IMAGE_URL_PREFIX when set", async () => {
    h = await startLabelStudioHarness({ env: { LABEL_STUDIO_IMAGE_URL_PREFIX: "http://127.0.0.1:8080/objects/" } });
    await h.backend().register([imageRequest(1)]);
    expect([...h.fake.tasks.values()][0]!.data.image).toBe("http://127.0.0.1:8080/objects/annotation/items/cam_00001/cam_00001.png");
  });

  it("never imports twice: a lost import response is reconciled by listing the project's tasks", async () => {
    h = await startLabelStudioHarness();
    const backend = h.backend();
    const ledger = memoryRegistrationLedger();
    h.fake.fail({ match: "/import", status: 502, times: 1, afterWork: true });
    const items = [imageRequest(1), imageRequest(2)];
    const first = await backend.register(items, ledger);
    expect(first.map((r) => (r.ok ? "ok" : r.permanent ? "permanent" : "transient"))).toEqual(["transient", "transient"]);
    expect(h.fake.counters.importedTasks).toBe(2); // the import happened; its answer was lost
    const second = await backend.register([...items, imageRequest(3)], ledger);
    expect(second.every((r) => r.ok)).toBe(true);
    expect(h.fake.counters.importedTasks).toBe(3);
    expect(h.sleeps).toEqual([]); // the import POST is never retried blindly
    expect(await ledger.open(items.map((i) => i.itemId))).toEqual([]);
  });

  it("fails items permanently when Label Studio refuses the import (4xx), with its detail", async () => {
    h = await startLabelStudioHarness();
    h.fake.fail({ match: "/import", status: 400, times: 1, body: { detail: "Validation error", validation_errors: { non_field_errors: ["Task 0: bad"] } } });
    const [r] = await h.backend().register([imageRequest(1)]);
    expect(r).toMatchObject({ ok: false, permanent: true });
    expect(r!.ok ? "" : r!.error).toMatch(/HTTP 400.*Task 0: bad/);
  });

  it("refuses a project whose labeling config lacks a class, naming the class and printing the config to use", async () => {
    h = await startLabelStudioHarness();
    const p = h.fake.createProject("Other", labelingConfigFor(DEFAULT_ONTOLOGY.slice(0, 3)));
    const backend = h.backend();
    h.config.labelStudio.project = String(p.id);
    const err = await h.backend().register([imageRequest(1)]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PermanentError);
    expect((err as Error).message).toMatch(/no Label for "Thin_Cloud", "Cloud_Shadow"[\s\S]*<BrushLabels name="tag"/);
    expect(backend.name).toBe("labelstudio");
  });

  it("reports a refused key as an auth error that names the fix and never the key", async () => {
    h = await startLabelStudioHarness();
    const backend = h.backend();
    h.config.labelStudio.apiKey = "wrong-key-123";
    const err = await backend.register([imageRequest(1)]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LabelStudioAuthError);
    expect((err as Error).message).toMatch(/HTTP 401: Invalid token.*LABEL_STUDIO_API_KEY/);
    expect((err as Error).message).not.toContain("wrong-key-123");
    expect(JSON.stringify(h.log.entries)).not.toContain("wrong-key-123");
  });
});

describe("Label Studio backend: poll and labels", () => {
  it("lists finished annotations, skips cancelled ones, and decodes brushes into class masks", async () => {
    h = await startLabelStudioHarness();
    const backend = h.backend();
    await backend.register([imageRequest(1, { width: W, height: H }), imageRequest(2, { width: W, height: H })]);
    const [t1, t2] = [...h.fake.tasks.values()];
    const a1 = h.fake.annotate(t1!.id, brushResult(CLASS_MASK, W, H, DEFAULT_ONTOLOGY), { annotator: "ann@team" });
    h.fake.annotate(t2!.id, [], { cancelled: true });
    const { refs, nextCursor } = await backend.poll(null);
    expect(refs).toEqual([{ labelId: String(a1.id), itemId: "item_cam_00001", backendRef: String(t1!.id), title: "cam_00001", editedAt: new Date(Date.parse(a1.updated_at)).toISOString(), annotator: "ann@team" }]);
    const [label] = await backend.fetchLabels(refs);
    expect(label!.result.ok).toBe(true);
    if (!label!.result.ok) return;
    const { annotation } = label!.result;
    expect(annotation.image).toEqual({ width: W, height: H });
    expect(annotation.provenance).toMatchObject({ backend: "labelstudio", labelId: String(a1.id), annotator: "ann@team" });
    const byClass = new Map(annotation.objects.map((o) => [o.classId, o.kind === "mask" ? [...decodeRowMajor(o.mask.counts, W, H)] : []]));
    expect([...byClass.keys()].sort()).toEqual([1, 2, 4]);
    for (const id of [1, 2, 4]) expect(byClass.get(id)).toEqual([...CLASS_MASK].map((v) => (v === id ? 1 : 0)));
    // The window moves to the newest task update seen: t2's (its skip bumped it), to the millisecond.
    const cursor = JSON.parse(nextCursor!) as { v: number; updatedAfter: string };
    expect(cursor.v).toBe(1);
    expect(Date.parse(cursor.updatedAfter)).toBe(Date.parse(t2!.updated_at));
  });

  it("lists an edit as a new revision, and reads a label it did not poll through the annotation and task", async () => {
    // Label Studio's clock moves a second per write, so the edit is newer to the millisecond.
    let tick = Date.parse("2026-03-01T10:00:00Z");
    h = await startLabelStudioHarness({ now: () => new Date((tick += 1000)) });
    const backend = h.backend();
    await backend.register([imageRequest(1, { width: W, height: H })]);
    const [t1] = [...h.fake.tasks.values()];
    const a = h.fake.annotate(t1!.id, brushResult(CLASS_MASK, W, H, DEFAULT_ONTOLOGY));
    const first = await backend.poll(null);
    h.fake.annotate(t1!.id, brushResult(new Uint8Array(W * H).fill(2), W, H, DEFAULT_ONTOLOGY), { annotationId: a.id });
    const second = await backend.poll(first.nextCursor);
    expect(second.refs).toHaveLength(1);
    expect(second.refs[0]!.labelId).toBe(first.refs[0]!.labelId);
    expect(second.refs[0]!.editedAt > first.refs[0]!.editedAt).toBe(true);
    const pagesBefore = h.fake.log.length;
    const [fresh] = await h.backend().fetchLabels(second.refs);
    expect(h.fake.log.slice(pagesBefore)).toEqual([`GET /api/projects/?title=mlops-loop&page=1&page_size=100`, "GET /api/projects/1/", `GET /api/annotations/${a.id}/`, `GET /api/tasks/${t1!.id}/`]);
    expect(fresh!.result.ok && fresh!.result.annotation.objects.map((o) => o.classId)).toEqual([2]);
  });

  it("cannot skip: the sweep pages through every task even when the window sees nothing", async () => {
    h = await startLabelStudioHarness({ pageSizeMax: 10 });
    const backend = h.backend({ poll: { pageSize: 10, sweepPagesPerPoll: 2, windowPagesPerPoll: 1 } });
    await backend.register(Array.from({ length: 45 }, (_, i) => imageRequest(i + 1, { width: W, height: H })));
    for (const t of h.fake.tasks.values()) h.fake.annotate(t.id, brushResult(CLASS_MASK, W, H, DEFAULT_ONTOLOGY));
    // A window that starts after every edit (as if its filter missed them): only the sweep finds them.
    let cursor: string | null = JSON.stringify({ v: 1, updatedAfter: new Date(Date.now() + 86_400_000).toISOString(), sweepPage: 1 });
    const found = new Set<string>();
    for (let poll = 0; poll < 3; poll++) {
      const page = await backend.poll(cursor);
      for (const r of page.refs) found.add(r.labelId);
      cursor = page.nextCursor;
    }
    expect(found.size).toBe(45); // ⌈5 pages ÷ 2 per poll⌉ = 3 polls
    expect(JSON.parse(cursor!).sweepPage).toBe(1);
  });

  it("follows pages when the server caps page_size below what was asked (TASK_API_PAGE_SIZE_MAX)", async () => {
    h = await startLabelStudioHarness({ pageSizeMax: 10 });
    const backend = h.backend(); // asks for 100 per page
    await backend.register(Array.from({ length: 45 }, (_, i) => imageRequest(i + 1, { width: W, height: H })));
    for (const t of h.fake.tasks.values()) h.fake.annotate(t.id, brushResult(CLASS_MASK, W, H, DEFAULT_ONTOLOGY));
    const { refs } = await backend.poll(null);
    expect(new Set(refs.map((r) => r.labelId)).size).toBe(45);
    // A second registration of the same items after a lost answer would list them all too.
    const ledger = memoryRegistrationLedger();
    h.fake.fail({ match: "/import", status: 504, times: 1, afterWork: true });
    await backend.register([imageRequest(46), imageRequest(47)], ledger);
    const again = await backend.register([imageRequest(46), imageRequest(47)], ledger);
    expect(again.every((r) => r.ok)).toBe(true);
    expect(h.fake.counters.importedTasks).toBe(47);
  });

  it("retries 5xx and 429 with back-off and Retry-After, then gives up with a TransientError", async () => {
    h = await startLabelStudioHarness();
    const backend = h.backend();
    await backend.register([imageRequest(1)]);
    h.fake.fail({ match: "GET /api/tasks/", status: 503, times: 2 });
    h.fake.fail({ match: "GET /api/tasks/", status: 429, times: 1, headers: { "retry-after": "3" } });
    await backend.poll(null);
    expect(h.sleeps).toEqual([1000, 2000, 3000]);
    h.fake.fail({ match: "GET /api/tasks/", status: 500, times: 10 });
    const err = await backend.poll(null).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TransientError);
    expect((err as Error).message).toMatch(/HTTP 500.*after 4 attempts/);
  });
});

describe("Label Studio backend: pre-labels", () => {
  const request = (itemId: string, data: Uint8Array, modelId: string, priority = 0.5) => ({ itemId, mask: { width: W, height: H, data }, modelId, maskUri: `gs://annotation/prelabels/${itemId}/${modelId}.png`, priority });

  it("sends a class mask as a prediction with model_version and the priority as score, which decodes back to the mask", async () => {
    h = await startLabelStudioHarness();
    const backend = h.backend();
    await backend.register([imageRequest(1, { width: W, height: H })]);
    await backend.prelabel!(request("item_cam_00001", CLASS_MASK, "mdl_7", 0.42));
    // A fresh instance finds the task by item id.
    await h.backend().prelabel!(request("item_cam_00001", new Uint8Array(W * H).fill(255), "mdl_8"));
    const [p1, p2] = h.fake.predictions;
    expect(p1!.model_version).toBe("mdl_7");
    expect(p1!.score).toBe(0.42);
    const decoded = new Uint8Array(W * H).fill(255);
    for (const item of p1!.result as { value: { rle: number[]; brushlabels: string[] } }[]) {
      const alpha = brushRleToAlpha(item.value.rle, W, H);
      const id = DEFAULT_ONTOLOGY.indexOf(item.value.brushlabels[0]!);
      alpha.forEach((a, i) => (a === 255 ? (decoded[i] = id) : undefined));
    }
    expect([...decoded]).toEqual([...CLASS_MASK]);
    expect(p2).toMatchObject({ model_version: "mdl_8", result: [] });
    await expect(backend.prelabel!(request("item_unknown", CLASS_MASK, "m"))).rejects.toThrow(/no Label Studio task carries item item_unknown/);
  });

  it("sends one prediction per model version when the call is repeated (a retry after a crash)", async () => {
    h = await startLabelStudioHarness();
    await h.backend().register([imageRequest(1, { width: W, height: H })]);
    await h.backend().prelabel!(request("item_cam_00001", CLASS_MASK, "mdl_7"));
    // The POST reached Label Studio but its answer was lost: the caller retries.
    h.fake.fail({ match: "POST /api/predictions/", status: 502, times: 1, afterWork: true });
    await expect(h.backend().prelabel!(request("item_cam_00001", CLASS_MASK, "mdl_9"))).rejects.toThrow();
    await h.backend().prelabel!(request("item_cam_00001", CLASS_MASK, "mdl_9"));
    await h.backend().prelabel!(request("item_cam_00001", CLASS_MASK, "mdl_7"));
    expect(h.fake.predictions.map((p) => p.model_version)).toEqual(["mdl_7", "mdl_9"]);
  });

  it("is refused by the fake as by Label Studio: a score that is not a number, a brush of an unknown label", async () => {
    h = await startLabelStudioHarness();
    const backend = h.backend();
    const [reg] = await backend.register([imageRequest(1, { width: W, height: H })]);
    const task = Number((reg as { backendRef: string }).backendRef);
    const post = (body: unknown) => fetch(`${h.fake.url}/api/predictions/`, { method: "POST", headers: { authorization: `Token ${h.fake.apiKey}`, "content-type": "application/json" }, body: JSON.stringify(body) });
    const badScore = await post({ task, result: [], model_version: "m", score: "high" });
    expect(badScore.status).toBe(400);
    expect(JSON.stringify(await badScore.json())).toMatch(/score/);
    const badLabel = await post({ task, model_version: "m", result: [{ type: "brushlabels", from_name: "tag", to_name: "image", value: { format: "rle", rle: [1, 2], brushlabels: ["Nope"] } }] });
    expect(badLabel.status).toBe(400);
    expect(h.fake.predictions).toHaveLength(0);
  });
});
