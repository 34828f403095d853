import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeCollisionUploads, type CollisionUpload } from "../../scripts/make-collision-uploads.ts";
import type { InboxTask } from "../../shared/adapters/annotation/inbox-backend.ts";
import { readStatusSnapshot } from "../../shared/db/queries/status.ts";
import { startLocalRuntime, type LocalRuntime } from "../../shared/runtime/local.ts";
import { createTestDb, testDbKind } from "../helpers/db.ts";

/**
 * The acceptance check of "uploads that arrive together": on the local runtime (watcher, outbox
 * dispatcher, real normaliser, folder inbox), 7 product zips that each hold L1B.tif, 6 images whose
 * names sanitise alike and one product under two names, dropped into the archive at once, become
 * 14 annotation tasks, each showing its own images, and one `duplicate` item.
 */
describe(`colliding uploads on the local runtime (${testDbKind})`, () => {
  let workspace: string;
  let runtime: LocalRuntime;
  let uploads: CollisionUpload[];

  beforeAll(async () => {
    workspace = mkdtempSync(join(tmpdir(), "mlops-collisions-"));
    runtime = await startLocalRuntime({
      db: await createTestDb(),
      serve: false,
      timers: false,
      say: () => undefined,
      env: { ...process.env, DATABASE_URL: undefined, MLOPS_WORKSPACE: workspace, LOG_LEVEL: "warn" },
    });
    uploads = await makeCollisionUploads();
    // What `mlops upload` does: every file into the archive's uploads/ folder, all at once.
    await Promise.all(uploads.map((u) => runtime.store.put(`gs://archive/uploads/${u.name}`, u.bytes)));
    await waitFor(async () => {
      const { rows } = await runtime.deps.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM items WHERE state IN ('registered', 'duplicate', 'failed')`);
      return rows[0]!.n === uploads.length && (await runtime.dispatcher.idle());
    });
  }, 900_000);

  afterAll(async () => {
    await runtime?.stop();
    if (workspace) rmSync(workspace, { recursive: true, force: true });
  });

  it("writes 14 tasks, each with its own images at the size of its own upload", async () => {
    const items = await runtime.deps.db.query<{ id: string; source_name: string; state: string; title: string | null }>(
      `SELECT id, source_name, state, title FROM items`);
    expect(items.rows.filter((r) => r.state === "failed")).toEqual([]);
    const byId = new Map(items.rows.map((r) => [r.id, r]));

    const taskObjects = await runtime.store.list("gs://annotation/tasks/");
    expect(taskObjects).toHaveLength(14);
    const seenUris = new Set<string>();
    const titles = new Set<string>();
    for (const object of taskObjects) {
      const task = JSON.parse((await runtime.store.get(object.uri)).toString("utf8")) as InboxTask;
      const item = byId.get(task.itemId)!;
      const upload = uploads.find((u) => `uploads/${u.name}` === item.source_name)!;
      expect(task.title).toBe(item.title);
      titles.add(task.title.toLowerCase());
      expect(task.images.map((i) => i.role).sort()).toEqual(upload.name.endsWith(".zip") ? ["nir", "rgb"] : ["image"]);
      for (const image of task.images) {
        expect(seenUris.has(image.uri), image.uri).toBe(false);
        seenUris.add(image.uri);
        const meta = await sharp(await runtime.store.get(image.uri)).metadata();
        expect({ width: meta.width, height: meta.height }, `${image.uri} for ${upload.name}`).toEqual({ width: upload.width, height: upload.height });
      }
    }
    expect(titles.size).toBe(14);
  });

  it("records the copy as a duplicate of the original, in the status snapshot too", async () => {
    const snapshot = await readStatusSnapshot(runtime.deps.db);
    expect(snapshot.itemsByState).toMatchObject({ registered: 14, duplicate: 1, failed: 0 });
    expect(snapshot.duplicates).toHaveLength(1);
    const [duplicate] = snapshot.duplicates;
    const original = await runtime.deps.db.query<{ source_name: string }>(`SELECT source_name FROM items WHERE id = $1`, [duplicate!.duplicateOf]);
    const copyNames = uploads.filter((u) => u.content === "copied").map((u) => `uploads/${u.name}`);
    expect(copyNames).toContain(duplicate!.sourceName);
    expect(copyNames).toContain(original.rows[0]!.source_name);
    expect(duplicate!.sourceName).not.toBe(original.rows[0]!.source_name);
  });
});

/** Waits on state, not on time: checks until `done` says so (the deadline only ends a hung run). */
async function waitFor(done: () => Promise<boolean>, timeoutMs = 600_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await done()) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error("the uploads were not all registered or recorded in time");
}
