/**
 * The model server on CPU, through its HTTP routes (shared/serving/http.ts) as clients see them:
 * a raw 4-band float32 product zip POSTed to `/v1/models/bench:predict`, normalised as ingest
 * does, run through the baseline model's shape (per-pixel MLP 4 → 16 → 6, onnxruntime-node, fused
 * argmax), answered with the mask PNG. Database: PGlite in a temporary folder (the alias lookup
 * per request included).
 *
 * Reports p50/p99 latency for 512² and 1024² at concurrency 1 and 8, Mpixel/s at concurrency 8,
 * and an alias swap under load: 8 clients keep predicting while the alias moves to another model
 * and back; every request must answer 200, and requests after each move must name the new model.
 *
 *   npm run bench -- serve
 */
import { createServer, type Server } from "node:http";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { makeDemoProduct } from "../shared/adapters/demo/products.ts";
import { createPgliteDb } from "../shared/adapters/db/pglite.ts";
import { sharpCodec } from "../shared/adapters/imaging/codec.ts";
import { createNormaliser } from "../shared/adapters/imaging/normaliser.ts";
import { OnnxGraph } from "../shared/adapters/onnx/onnx-builder.ts";
import { LocalObjectStore } from "../shared/adapters/store/local.ts";
import { loadConfig } from "../shared/config/load.ts";
import { ModelCardSchema } from "../shared/core/models/model-card.ts";
import { migrate } from "../shared/db/migrate.ts";
import { loadMigrations } from "../shared/db/migrations.ts";
import { insertModel, moveAlias } from "../shared/db/queries/models.ts";
import { createServingStack } from "../shared/serving/create.ts";
import type { Logger } from "../shared/ports.ts";
import type { BenchResult, BenchSuite } from "./types.ts";

const CLASSES = ["Fill", "Clear", "Cloud", "Thin_Cloud", "Cloud_Shadow", "Water"];
const HIDDEN = 16;
const P50_TARGET_MS = 150;
const quiet: Logger = { debug() {}, info() {}, warn() {}, error() {}, child: () => quiet };

function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

function mlp(seed: number): { bytes: Uint8Array; card: ReturnType<typeof ModelCardSchema.parse> } {
  const rand = lcg(seed);
  const g = new OnnxGraph("bench-serve-mlp");
  g.addInput("input", "float32", ["N", 4, "H", "W"]);
  g.addInitializer("w1", Float32Array.from({ length: HIDDEN * 4 }, () => rand() * 2 - 1), [HIDDEN, 4, 1, 1]);
  g.addInitializer("b1", new Float32Array(HIDDEN), [HIDDEN]);
  g.addInitializer("w2", Float32Array.from({ length: CLASSES.length * HIDDEN }, () => rand() * 2 - 1), [CLASSES.length, HIDDEN, 1, 1]);
  g.addInitializer("b2", new Float32Array(CLASSES.length), [CLASSES.length]);
  g.addNode("Conv", ["input", "w1", "b1"], ["h"]);
  g.addNode("Relu", ["h"], ["hr"]);
  g.addNode("Conv", ["hr", "w2", "b2"], ["logits"]);
  g.addOutput("logits", "float32", ["N", CLASSES.length, "H", "W"]);
  const card = ModelCardSchema.parse({
    name: "bench-serve-mlp", task: "segmentation", classes: CLASSES,
    input: { name: "input", layout: "NCHW", height: null, width: null, channels: ["red", "green", "blue", "nir"], normalisation: { scale: 1 / 255, mean: [0.4, 0.4, 0.4, 0.4], std: [0.2, 0.2, 0.2, 0.2] } },
    output: { name: "logits", format: "logits" },
  });
  return { bytes: g.toBytes(), card };
}

function percentile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

export const serveBench: BenchSuite = async () => {
  const dir = await mkdtemp(join(tmpdir(), "bench-serve-"));
  const db = await createPgliteDb(join(dir, "pgdata"));
  let server: Server | null = null;
  try {
    await migrate(db, loadMigrations());
    const store = new LocalObjectStore(join(dir, "buckets"));
    for (const [id, seed] of [["m_one", 1], ["m_two", 2]] as const) {
      const { bytes, card } = mlp(seed);
      await store.put(`gs://models/${id}/model.onnx`, bytes);
      await insertModel(db, { id, trainingRunId: null, name: card.name, task: card.task, uri: `gs://models/${id}`, card, datasetVersionId: null });
    }
    let cause = 0;
    const point = (modelId: string) => moveAlias(db, { alias: "bench", modelId, decisionId: null, actor: "bench", reason: "bench", causeId: `c${++cause}` });
    await point("m_one");
    const config = loadConfig({ MLOPS_WORKSPACE: dir });
    const stack = await createServingStack({
      config, db, store, log: quiet, normaliser: async () => createNormaliser(), codec: async () => sharpCodec, onPredicted: async () => undefined,
    });
    server = createServer((req, res) => void stack.routes(req, res, (req.url ?? "/").split("?")[0]!));
    await new Promise<void>((r) => server!.listen(0, "127.0.0.1", () => r()));
    const address = server.address();
    const url = `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}/v1/models/bench:predict`;
    const predict = async (body: Uint8Array): Promise<{ status: number; ms: number; modelId: string | null }> => {
      const start = performance.now();
      const res = await fetch(url, { method: "POST", headers: { "content-type": "application/octet-stream" }, body });
      const json = (await res.json()) as { modelId?: string };
      return { status: res.status, ms: performance.now() - start, modelId: json.modelId ?? null };
    };

    const results: BenchResult[] = [];
    const products = {
      512: makeDemoProduct({ seed: 11, width: 512, height: 512, name: "bench512" }).zip,
      1024: makeDemoProduct({ seed: 12, width: 1024, height: 1024, name: "bench1024" }).zip,
    };
    // Warm up: the first request loads the model and the image stack.
    await predict(products[512]);
    await predict(products[512]);
    for (const size of [512, 1024] as const) {
      for (const concurrency of [1, 8]) {
        const requests = size === 512 ? 24 : 16;
        const latencies: number[] = [];
        let failed = 0;
        let next = 0;
        const start = performance.now();
        await Promise.all(Array.from({ length: concurrency }, async () => {
          while (next < requests) {
            next++;
            const r = await predict(products[size]);
            if (r.status !== 200) failed++;
            latencies.push(r.ms);
          }
        }));
        const elapsed = (performance.now() - start) / 1000;
        latencies.sort((a, b) => a - b);
        const p50 = percentile(latencies, 0.5);
        const p99 = percentile(latencies, 0.99);
        const target = size === 512 && concurrency === 1;
        results.push({
          name: `serve ${size}² 4-band product, concurrency ${concurrency}, p50`, value: Math.round(p50), unit: "ms",
          target: target ? `≤ ${P50_TARGET_MS} ms` : "—", pass: target ? p50 <= P50_TARGET_MS : true, note: failed ? `${failed} failed` : "",
        });
        results.push({ name: `serve ${size}² 4-band product, concurrency ${concurrency}, p99`, value: Math.round(p99), unit: "ms", target: "—", pass: true });
        if (concurrency === 8) {
          const mpx = (requests * size * size) / 1e6 / elapsed;
          results.push({ name: `serve ${size}² throughput, concurrency 8`, value: Number(mpx.toFixed(1)), unit: "Mpixel/s", target: "—", pass: true });
        }
      }
    }

    // Alias swap under load: 8 clients, 64 requests, the alias moves twice while they run.
    const total = 64;
    let sent = 0;
    let failed = 0;
    const byModel = new Map<string, number>();
    let moves = 0;
    const swapper = (async () => {
      for (const target of ["m_two", "m_one"]) {
        while (sent < (moves + 1) * (total / 3)) await new Promise((r) => setTimeout(r, 5));
        await point(target);
        moves++;
      }
    })();
    await Promise.all(Array.from({ length: 8 }, async () => {
      while (sent < total) {
        sent++;
        try {
          const r = await predict(products[512]);
          if (r.status !== 200) failed++;
          if (r.modelId) byModel.set(r.modelId, (byModel.get(r.modelId) ?? 0) + 1);
        } catch {
          failed++;
        }
      }
    }));
    await swapper;
    results.push({
      name: "serve alias swap under load (8 clients, 64 requests, 2 moves): failed or dropped", value: failed, unit: "requests", target: "0", pass: failed === 0,
      note: `answered by ${[...byModel].map(([m, n]) => `${m} ${n}`).join(", ")}; ${stack.predictor.loads} model loads`,
    });
    await stack.predictor.close();
    return results;
  } finally {
    if (server) await new Promise<void>((r) => server!.close(() => r()));
    await db.close();
    await rm(dir, { recursive: true, force: true });
  }
};
