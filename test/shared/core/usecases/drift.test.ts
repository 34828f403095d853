import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { makeDemoProduct } from "../../../../shared/adapters/demo/products.ts";
import { writeGeoTiff } from "../../../../shared/adapters/imaging/geotiff-writer.ts";
import { createNormaliser } from "../../../../shared/adapters/imaging/normaliser.ts";
import { makeProductZip } from "../../../../shared/adapters/imaging/product-zip.ts";
import { imageFeatures } from "../../../../shared/core/drift/stats.ts";
import { checkDrift } from "../../../../shared/core/usecases/drift.ts";
import { recordImageStats } from "../../../../shared/db/queries/drift.ts";
import { readStatusSnapshot } from "../../../../shared/db/queries/status.ts";
import { createTestDeps, type TestDeps } from "../../../helpers/deps.ts";
import { pointAlias, seedServedModel } from "../../../helpers/serving.ts";

const NORMALISE = { rgbBands: [3, 2, 1] as [number, number, number], nirBand: 4, stretchPercentiles: [2, 98] as [number, number], nodataValue: null };
const SIZE = 48;

async function featuresOf(zip: Uint8Array): Promise<Record<string, number>> {
  const out = await createNormaliser().normalise(zip, "x.zip", NORMALISE);
  return imageFeatures(out.bandStats!.bands, out.bandStats!.nodataFraction);
}

/** Saturated noise: every band uniform over a wide range, no structure. */
function noiseProduct(seed: number): Uint8Array {
  let s = seed * 7919 + 1;
  const rand = () => ((s = (s * 1103515245 + 12345) % 2147483648) / 2147483648);
  const bands = Array.from({ length: 4 }, () => Float32Array.from({ length: SIZE * SIZE }, () => (rand() < 0.5 ? 0 : 10_000 * rand())));
  return makeProductZip(`noise_${seed}`, writeGeoTiff({ width: SIZE, height: SIZE, bands, nodata: NaN, compression: "none" }));
}

let t: TestDeps;

beforeEach(async () => {
  t = await createTestDeps({ env: { DRIFT_MIN_IMAGES: "10", DRIFT_WINDOW_IMAGES: "15", DRIFT_CHECK_SECONDS: "0", DRIFT_ALIAS: "prod" } });
  const { db } = t;
  await db.query(
    `INSERT INTO dataset_versions (id, line, seq, manifest_uri, item_count, train_count, eval_count, fresh_count, classes, trigger)
     VALUES ('v_ref', 'main', 1, 'gs://datasets/v_ref.json', 20, 16, 4, 20, '[]', 'test')`,
  );
  for (let i = 0; i < 20; i++) {
    const id = `it_ref_${i}`;
    await db.query(`INSERT INTO items (id, source_bucket, source_name, source_generation) VALUES ($1, 'archive', $2, '1')`, [id, `${id}.zip`]);
    await db.query(`INSERT INTO dataset_members (line, item_id, added_seq, annotation_id, split) VALUES ('main', $1, 1, $2, 'train')`, [id, `an_${i}`]);
    const features = await featuresOf(makeDemoProduct({ seed: 100 + i, width: SIZE, height: SIZE, name: id }).zip);
    await recordImageStats(db, { source: "ingest", itemId: id, features });
  }
  await seedServedModel(db, t.store, "m_ref", 1, { datasetVersionId: "v_ref" });
  await pointAlias(db, "staging", "m_ref");
}, 300_000);

afterEach(async () => {
  await t.close();
});

describe("checkDrift", () => {
  it("stays quiet for demo-like images and alerts once when noise arrives; status --json shows it", async () => {
    // DRIFT_ALIAS=prod holds nothing yet: the check falls back to staging's model.
    for (let i = 0; i < 15; i++) {
      await recordImageStats(t.db, { source: "predict", modelId: "m_ref", alias: "staging", features: await featuresOf(makeDemoProduct({ seed: 500 + i, width: SIZE, height: SIZE, name: `d${i}` }).zip) });
    }
    const calm = await checkDrift(t.deps);
    expect(calm).toMatchObject({ alias: "staging", reference_dataset_version: "v_ref", reference_images: 20, window_images: 15, drifted: false, skipped_reason: null });
    expect(t.notifier.sent).toHaveLength(0);

    for (let i = 0; i < 15; i++) {
      await recordImageStats(t.db, { source: "predict", modelId: "m_ref", alias: "staging", features: await featuresOf(noiseProduct(i)) });
    }
    const drifted = await checkDrift(t.deps);
    expect(drifted!.drifted).toBe(true);
    expect(drifted!.features.filter((f) => f.drifted).map((f) => f.name)).toContain("red.std");
    expect(t.notifier.sent.map((n) => n.severity)).toEqual(["alert"]);
    // Still drifted: no second alert.
    await checkDrift(t.deps);
    expect(t.notifier.sent).toHaveLength(1);

    const snapshot = JSON.parse(JSON.stringify(await readStatusSnapshot(t.db))) as { drift: Record<string, unknown> };
    expect(snapshot.drift).toMatchObject({ referenceDatasetVersion: "v_ref", drifted: true, window: { images: 15, referenceImages: 20 } });
    expect((snapshot.drift.features as { name: string; psi: number; ks: number; drifted: boolean }[]).find((f) => f.name === "red.std")).toMatchObject({ drifted: true });
  }, 300_000);

  it("records why it could not judge: too few recent images", async () => {
    await recordImageStats(t.db, { source: "predict", features: { "red.mean": 1 } });
    const row = await checkDrift(t.deps);
    expect(row).toMatchObject({ drifted: false, window_images: 1 });
    expect(row!.skipped_reason).toMatch(/fewer than DRIFT_MIN_IMAGES=10/);
  });
});
