import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startLocalRuntime, type LocalRuntime } from "../../shared/runtime/local.ts";
import { makeDemoProduct } from "../../shared/adapters/demo/products.ts";
import { ontologyFromEncord } from "../../shared/core/annotation/ontology.ts";
import { DEFAULT_ONTOLOGY } from "../../shared/config/schema.ts";
import { simulatedLabelRow } from "../../shared/demo/annotators.ts";
import { readStatusSnapshot } from "../../shared/db/queries/status.ts";
import { generateTestKey } from "../fakes/encord-keys.ts";
import { startFakeEncord, type FakeEncord } from "../fakes/encord-server.ts";
import { createTestDb, testDbKind } from "../helpers/db.ts";

/**
 * The local runtime on the `encord` backend, against the wire-level fake (which verifies every
 * request's signature): products are registered in one upload job as RGB + NIR image groups,
 * labels the fake marks complete are pulled, converted, checked and accepted, and the loop goes on
 * to a promotion.
 */
const PRODUCTS = 6;

describe(`the loop on the Encord backend (${testDbKind})`, () => {
  let workspace: string;
  let runtime: LocalRuntime;
  let fake: FakeEncord;
  const products = Array.from({ length: PRODUCTS }, (_, i) => makeDemoProduct({ seed: 900 + i, width: 40, height: 40, name: `enc-${i + 1}` }));

  beforeAll(async () => {
    workspace = mkdtempSync(join(tmpdir(), "mlops-encord-"));
    const key = generateTestKey();
    fake = await startFakeEncord({ publicKeyHex: key.publicKeyHex });
    runtime = await startLocalRuntime({
      db: await createTestDb(),
      serve: false,
      timers: false,
      say: () => undefined,
      env: {
        ...process.env,
        ...fake.env({ ENCORD_SSH_KEY: key.openssh }),
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
    // A burst of uploads, as a team dropping a batch of products into the archive.
    await Promise.all(products.map((p) => runtime.store.put(`gs://archive/incoming/${p.name}.zip`, p.zip)));
    runtime.watcher.kick();

    // Annotators draw with the project's Encord ontology, so labels carry its feature hashes.
    const ontology = ontologyFromEncord(fake.state.editorOntology, DEFAULT_ONTOLOGY);
    const byTitle = new Map(products.map((p) => [p.name, p]));
    const deadline = Date.now() + 600_000;
    while (Date.now() < deadline) {
      // The annotation team finishes whatever Encord has registered so far.
      fake.completeAll((t) => {
        const product = byTitle.get(t.title);
        const itemId = t.clientMetadata.itemId;
        if (!product || typeof itemId !== "string") return null;
        return simulatedLabelRow({ itemId, title: t.title, groundTruth: product.groundTruth, ontology, revision: 1, annotator: "annotator@team", editedAt: new Date(), mistake: null });
      }, { annotator: "annotator@team" });
      await runtime.publish("poll.tick", { reason: "schedule" });
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

  it("registers the burst in one upload job, as image groups of RGB then NIR", () => {
    expect(fake.state.counters.uploadJobsStarted).toBeLessThanOrEqual(Math.ceil(PRODUCTS / 1000));
    expect(fake.state.counters.authFailures).toBe(0);
    expect(fake.duplicateUrls()).toEqual([]);
    const targets = fake.labelTargets();
    expect(targets).toHaveLength(PRODUCTS);
    for (const t of targets) {
      expect(t.dataType).toBe("IMG_GROUP");
      expect(t.urls).toEqual([`gs://annotation/items/${t.title}/${t.title}_rgb.png`, `gs://annotation/items/${t.title}/${t.title}_nir.png`]);
    }
  });

  it("pulls the completed labels, accepts them, and promotes a model trained on them", async () => {
    const s = await readStatusSnapshot(runtime.deps.db);
    expect(s.funnel.accepted).toBe(PRODUCTS);
    const annotations = await runtime.deps.db.query<{ backend: string; annotator: string }>(`SELECT backend, annotator FROM annotations`);
    expect(annotations.rows).toHaveLength(PRODUCTS);
    expect(new Set(annotations.rows.map((r) => `${r.backend}/${r.annotator}`))).toEqual(new Set(["encord/annotator@team"]));
    expect(s.datasetVersions).toHaveLength(1);
    expect(s.aliases.map((a) => a.alias)).toContain("staging");
  });
});
