import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startLocalRuntime, type LocalRuntime } from "../../shared/runtime/local.ts";
import { makeDemoProduct } from "../../shared/adapters/demo/products.ts";
import { DEFAULT_ONTOLOGY } from "../../shared/config/schema.ts";
import { readStatusSnapshot } from "../../shared/db/queries/status.ts";
import { brushResult } from "../fakes/labelstudio-harness.ts";
import { startFakeLabelStudio, type FakeLabelStudio } from "../fakes/labelstudio-server.ts";
import { createTestDb, testDbKind } from "../helpers/db.ts";
import { freePort } from "../helpers/ports.ts";

/**
 * The local runtime on the `labelstudio` backend, against the wire-level fake (which checks the
 * token, the labeling config, the import and the paging): products are imported as tasks, the
 * annotation team paints the ground truth with Label Studio brushes (its own RLE), the poll pulls
 * the finished annotations, decodes them, checks and accepts them, and the loop goes on to a
 * promotion. Images are served by the local dashboard (LABEL_STUDIO_IMAGE_URL_PREFIX), and polls
 * happen only when Label Studio's webhook nudges them (no timers).
 */
const SECRET = "a-secret-shared-with-label-studio";
const PRODUCTS = 6;

describe(`the loop on the Label Studio backend (${testDbKind})`, () => {
  let workspace: string;
  let runtime: LocalRuntime;
  let fake: FakeLabelStudio;
  let hook: (secret: string) => Promise<Response>;
  const products = Array.from({ length: PRODUCTS }, (_, i) => makeDemoProduct({ seed: 700 + i, width: 40, height: 40, name: `ls-${i + 1}` }));

  beforeAll(async () => {
    workspace = mkdtempSync(join(tmpdir(), "mlops-labelstudio-"));
    // A small page size, so the poll has to follow pages.
    fake = await startFakeLabelStudio({ pageSizeMax: 4 });
    const port = await freePort();
    runtime = await startLocalRuntime({
      db: await createTestDb(),
      serve: true,
      timers: false,
      say: () => undefined,
      env: {
        ...process.env,
        ...fake.env({ LABEL_STUDIO_IMAGE_URL_PREFIX: `http://127.0.0.1:${port}/objects/`, LABEL_STUDIO_WEBHOOK_SECRET: SECRET }),
        PORT: String(port),
        DATABASE_URL: undefined,
        MLOPS_WORKSPACE: workspace,
        LOG_LEVEL: "warn",
        THRESHOLD_N: String(PRODUCTS),
        THRESHOLD_M: String(PRODUCTS),
        EVAL_SPLIT_PERCENT: "40",
        TRAIN_PARAMS: JSON.stringify({ epochs: 6, samplesPerImage: 1000 }),
        PROMOTION_POLICY: JSON.stringify({ min_eval_items: 1, primary_metric: { name: "mIoU", threshold: 0.1 } }),
      },
    });
    await Promise.all(products.map((p) => runtime.store.put(`gs://archive/incoming/${p.name}.zip`, p.zip)));
    runtime.watcher.kick();
    // What Label Studio's webhook sends on ANNOTATION_CREATED (the header configured on the hook).
    hook = (secret) => fetch(`${runtime.url}labelstudio-webhook`, { method: "POST", headers: { "content-type": "application/json", "X-Mlops-Webhook-Secret": secret }, body: JSON.stringify({ action: "ANNOTATION_CREATED" }) });

    const byTitle = new Map(products.map((p) => [p.name, p]));
    const deadline = Date.now() + 600_000;
    while (Date.now() < deadline) {
      // The annotation team finishes whatever Label Studio has been given so far.
      fake.annotateAll((task) => {
        const product = byTitle.get(String(task.data.title));
        if (!product) return null;
        const { width, height, mask } = product.groundTruth;
        return brushResult(mask, width, height, DEFAULT_ONTOLOGY);
      }, { annotator: "annotator@team" });
      expect((await hook(SECRET)).status).toBe(202);
      await runtime.publish("reconcile.tick", { reason: "schedule" });
      await new Promise((r) => setTimeout(r, 700));
      if ((await runtime.deps.db.query(`SELECT 1 FROM alias_moves`)).rowCount > 0) break;
    }
  }, 900_000);

  afterAll(async () => {
    await runtime?.stop();
    await fake?.close();
    rmSync(workspace, { recursive: true, force: true });
  });

  it("imports each product once as a task carrying its item id, title, size and the RGB image URL, which the dashboard serves", async () => {
    expect(fake.counters.authFailures).toBe(0);
    expect(fake.projects.size).toBe(1);
    const tasks = [...fake.tasks.values()];
    expect(tasks).toHaveLength(PRODUCTS);
    for (const t of tasks) {
      const title = String(t.data.title);
      expect(t.data).toMatchObject({ itemId: expect.stringMatching(/.+/), width: 40, height: 40 });
      expect(t.data.image).toBe(`${runtime.url}objects/annotation/items/${title}/${title}_rgb.png`);
      const image = await fetch(String(t.data.image));
      expect(image.status).toBe(200);
      expect(image.headers.get("content-type")).toBe("image/png");
    }
  });

  it("refuses a webhook call without the secret", async () => {
    expect((await hook("not-the-secret")).status).toBe(401);
  });

  it("pulls the finished annotations, accepts them, and promotes a model trained on them", async () => {
    const s = await readStatusSnapshot(runtime.deps.db);
    expect(s.funnel.accepted).toBe(PRODUCTS);
    const annotations = await runtime.deps.db.query<{ backend: string; annotator: string; label_id: string }>(`SELECT backend, annotator, label_id FROM annotations`);
    expect(annotations.rows).toHaveLength(PRODUCTS);
    expect(new Set(annotations.rows.map((r) => `${r.backend}/${r.annotator}`))).toEqual(new Set(["labelstudio/annotator@team"]));
    const revisions = await runtime.deps.db.query(`SELECT 1 FROM label_revisions WHERE backend = 'labelstudio'`);
    expect(revisions.rowCount).toBe(PRODUCTS);
    expect(s.datasetVersions).toHaveLength(1);
    expect(s.aliases.map((a) => a.alias)).toContain("staging");
  });
});
