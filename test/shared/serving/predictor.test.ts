import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import sharp from "sharp";
import { makeDemoProduct } from "../../../shared/adapters/demo/products.ts";
import { sharpCodec } from "../../../shared/adapters/imaging/codec.ts";
import { createNormaliser } from "../../../shared/adapters/imaging/normaliser.ts";
import { loadModel, type LoadedModel } from "../../../shared/adapters/onnx/runtime.ts";
import { LocalObjectStore } from "../../../shared/adapters/store/local.ts";
import { MASK_NODATA, predictImage } from "../../../shared/core/serving/predict.ts";
import { Predictor, ServingError, type PredictorDeps } from "../../../shared/serving/predictor.ts";
import type { Db, Logger } from "../../../shared/ports.ts";
import { createTestDb } from "../../helpers/db.ts";
import { pointAlias, seedServedModel, SERVE_CLASSES } from "../../helpers/serving.ts";

const quiet: Logger = { debug() {}, info() {}, warn() {}, error() {}, child: () => quiet };
const NORMALISE = { rgbBands: [3, 2, 1] as [number, number, number], nirBand: 4, stretchPercentiles: [2, 98] as [number, number], nodataValue: null };

let db: Db;
let dir: string;
let store: LocalObjectStore;
const released: string[] = [];

function deps(overrides: Partial<PredictorDeps> = {}): PredictorDeps {
  return {
    db, store, log: quiet,
    normaliser: async () => createNormaliser(),
    codec: async () => sharpCodec,
    loadModel: async (o) => {
      const runner = await loadModel(o);
      return { ...runner, run: runner.run.bind(runner), release: async () => { released.push(o.card.name); await runner.release(); } } as LoadedModel;
    },
    normaliseOptions: NORMALISE,
    maxRequestBytes: 8 * 1024 * 1024,
    tileSize: 32,
    ...overrides,
  };
}

beforeAll(async () => {
  db = await createTestDb();
  dir = await mkdtemp(join(tmpdir(), "serve-"));
  store = new LocalObjectStore(dir);
  await seedServedModel(db, store, "m_a", 1);
  await seedServedModel(db, store, "m_b", 2);
  await pointAlias(db, "staging", "m_a");
});

afterAll(async () => {
  await db.close();
  await rm(dir, { recursive: true, force: true });
});

describe("Predictor", () => {
  it("answers a product zip with a class mask at the product's size, named by the model that gave it", async () => {
    const product = makeDemoProduct({ seed: 7, width: 70, height: 45, name: "P1" });
    const predictor = new Predictor(deps());
    const { answer } = await predictor.predict("staging", product.zip, "P1.zip");
    expect(answer).toMatchObject({ modelId: "m_a", alias: "staging", width: 70, height: 45, classes: SERVE_CLASSES });
    const png = Buffer.from(answer.maskPng, "base64");
    expect((await sharp(png).metadata()).channels).toBe(1);
    const { data, width, height } = await sharpCodec.decodePng(png);
    expect([width, height]).toEqual([70, 45]);
    let valid = 0;
    const counts = new Map<number, number>();
    for (const v of data) {
      expect(v < SERVE_CLASSES.length || v === MASK_NODATA).toBe(true);
      if (v !== MASK_NODATA) {
        valid++;
        counts.set(v, (counts.get(v) ?? 0) + 1);
      }
    }
    SERVE_CLASSES.forEach((name, c) => expect(answer.classFractions[name]).toBeCloseTo((counts.get(c) ?? 0) / valid, 12));
    await predictor.close();
  });

  it("gives the same mask through the fused argmax and through the model's own logits", async () => {
    const product = makeDemoProduct({ seed: 9, width: 40, height: 33, name: "P2" });
    const fused = new Predictor(deps());
    const plain = new Predictor(deps({ loadModel: (o) => loadModel({ ...o, fuseArgmax: false }) }));
    const a = await fused.predict("staging", product.zip);
    const b = await plain.predict("staging", product.zip);
    expect(b.answer.maskPng).toBe(a.answer.maskPng);
    expect(new Set(a.prediction.mask).size).toBeGreaterThan(1);
    await fused.close();
    await plain.close();
  });

  it("predicts the same from the normaliser's raw planes as from the PNGs ingest writes", async () => {
    const product = makeDemoProduct({ seed: 21, width: 50, height: 37, name: "P4", nodataValue: -9999 });
    const viaPng = new Predictor(deps());
    const viaRaw = new Predictor(deps({ normaliseOptions: { ...NORMALISE, output: "raw" } }));
    const a = await viaPng.predict("staging", product.zip);
    const b = await viaRaw.predict("staging", product.zip);
    expect(b.normalised.images).toEqual([]);
    expect(b.answer).toEqual(a.answer);
    expect(b.normalised.bandStats).toEqual(a.normalised.bandStats);
    expect(a.prediction.mask.includes(MASK_NODATA)).toBe(a.normalised.nodataPixels > 0);
    await viaPng.close();
    await viaRaw.close();
  });

  it("refuses an unknown alias (404), bad bytes with the normaliser's reason (400) and too much (413)", async () => {
    const predictor = new Predictor(deps({ maxRequestBytes: 4096 }));
    await expect(predictor.predict("prod", new Uint8Array([1, 2, 3]))).rejects.toMatchObject({ status: 404, code: "unknown_alias" });
    const bad = await predictor.predict("staging", new Uint8Array([0x50, 0x4b, 0x03, 0x04, 9, 9, 9, 9]), "x.zip").catch((e: unknown) => e);
    expect(bad).toBeInstanceOf(ServingError);
    expect(bad).toMatchObject({ status: 400 });
    expect((bad as Error).message).toMatch(/zip/);
    await expect(predictor.predict("staging", new Uint8Array(5000))).rejects.toMatchObject({ status: 413 });
    await predictor.close();
  });

  it("swaps models on an alias move without failing requests in flight; the old session is released once, after them", async () => {
    await pointAlias(db, "swap", "m_a");
    released.length = 0;
    const predictor = new Predictor(deps());
    const product = makeDemoProduct({ seed: 3, width: 64, height: 64, name: "P3" });
    await predictor.refresh("swap");
    const before = Array.from({ length: 6 }, () => predictor.predict("swap", product.zip));
    await pointAlias(db, "swap", "m_b");
    const after = Array.from({ length: 6 }, () => predictor.predict("swap", product.zip));
    const answers = await Promise.all([...before, ...after]);
    for (const a of answers) expect(["m_a", "m_b"]).toContain(a.answer.modelId);
    // Requests that looked the alias up after the move are answered by the new model.
    for (const a of answers.slice(6)) expect(a.answer.modelId).toBe("m_b");
    expect(predictor.loadedModels()).toEqual([{ alias: "swap", modelId: "m_b" }]);
    expect(predictor.loads).toBe(2);
    await new Promise((r) => setTimeout(r, 10));
    expect(released).toEqual(["baseline-mlp"]);
    await predictor.close();
  });
});

describe("predictImage", () => {
  it("never lets a NaN logit win and marks nodata pixels 255", async () => {
    const card = (await import("../../../functions/jobs/trainers/baseline-model.ts")).buildBaselineCard({
      classes: ["a", "b", "c"], channels: ["red"], normalisation: { mean: [0], std: [1] }, params: {}, versionId: "v", line: "l", createdAt: "x",
    });
    // Pixel 0: NaN, 1, 0 → class 1; pixel 1: 0, NaN, NaN → class 0; pixel 2: all NaN → class 0; pixel 3 nodata.
    const logits = Float32Array.from([NaN, 0, NaN, 5, /* c1 */ 1, NaN, NaN, 6, /* c2 */ 0, NaN, NaN, 7]);
    const runner = { card, maxBatch: 1, run: async () => ({ data: logits, dims: [1, 3, 1, 4] }) };
    const image = { width: 4, height: 1, channels: 1, data: new Uint8Array(4) };
    const p = await predictImage(runner, { image }, { tileSize: 4, tileMultiple: 1, nodata: { data: Uint8Array.from([0, 0, 0, 255]), channels: 1 } });
    expect(Array.from(p.mask)).toEqual([1, 0, 0, MASK_NODATA]);
    expect(p.classFractions).toEqual({ a: 2 / 3, b: 1 / 3, c: 0 });
  });
});
