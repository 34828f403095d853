import { mkdtemp, readFile, rm, unlink } from "node:fs/promises";
import { existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Tensor } from "onnxruntime-node";
import { runBaselineTrainer, type TrainerIo } from "../../../../functions/jobs/trainers/baseline.ts";
import { dataDirPaths } from "../../../../functions/jobs/train/data-dir.ts";
import { sharpCodec } from "../../../../shared/adapters/imaging/codec.ts";
import { loadAndValidate, parseModelCard } from "../../../../shared/adapters/onnx/validate.ts";
import type { ModelCard } from "../../../../shared/core/models/model-card.ts";
import { makeDemoItem, writeDataDir, type DemoItem } from "./demo-dataset.ts";

const PARAMS = JSON.stringify({ epochs: 6, samplesPerImage: 1500, seed: 7 });
let root: string;
let items: DemoItem[];
let dataDir: string;

function io(lines: string[], stopAfter?: string): TrainerIo {
  return {
    codec: sharpCodec,
    now: () => new Date("2025-02-03T04:05:06.000Z"),
    print: (line) => {
      lines.push(line);
      // Simulates the process being killed right after an epoch's checkpoint was written.
      if (stopAfter && line.startsWith(stopAfter)) throw new Error("killed");
    },
  };
}

function env(name: string, extra: Record<string, string> = {}) {
  return { DATA_DIR: dataDir, OUTPUT_DIR: join(root, name, "out"), CHECKPOINT_DIR: join(root, name, "ck"), PARAMS, ...extra };
}

/** Pixel accuracy of the exported model on an item, preparing input exactly as the card says. */
async function onnxAccuracy(modelPath: string, card: ModelCard, item: DemoItem): Promise<number> {
  const session = await loadAndValidate(await readFile(modelPath), card);
  const rgb = await sharpCodec.decodePng(item.rgb);
  const nir = await sharpCodec.decodePng(item.nir);
  const n = item.width * item.height;
  const { scale, mean, std } = card.input.normalisation;
  const input = new Float32Array(4 * n);
  for (let p = 0; p < n; p++) {
    const samples = [rgb.data[p * rgb.channels]!, rgb.data[p * rgb.channels + 1]!, rgb.data[p * rgb.channels + 2]!, nir.data[p * nir.channels]!];
    samples.forEach((v, c) => (input[c * n + p] = (v * scale - mean![c]!) / std![c]!));
  }
  const out = await session.run({ input: new Tensor("float32", input, [1, 4, item.height, item.width]) });
  const logits = out.logits!.data as Float32Array;
  const classes = card.classes.length;
  let correct = 0;
  let counted = 0;
  for (let p = 0; p < n; p++) {
    if (item.truth[p] === 255) continue;
    let best = 0;
    for (let c = 1; c < classes; c++) if (logits[c * n + p]! > logits[best * n + p]!) best = c;
    counted++;
    if (best === item.truth[p]) correct++;
  }
  await session.release();
  return correct / counted;
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "baseline-trainer-"));
  dataDir = join(root, "data");
  items = [];
  for (let k = 0; k < 5; k++) items.push(await makeDemoItem(`it_${k}`, 1000 + k, 48, k === 4 ? "eval" : "train"));
  await writeDataDir(dataDir, items);
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe("baseline trainer", () => {
  let firstLoss: number;
  let fullHistory: unknown[] = [];

  it("trains on the train split and writes a valid model, card and self-reported metrics", async () => {
    const lines: string[] = [];
    const result = await runBaselineTrainer(env("full"), io(lines));
    const out = join(root, "full", "out");
    const card = parseModelCard(JSON.parse(await readFile(join(out, "model.json"), "utf8")));
    expect(card.classes).toEqual(["Fill", "Clear", "Cloud", "Thin_Cloud", "Cloud_Shadow"]);
    expect(card.input.channels).toEqual(["red", "green", "blue", "nir"]);
    expect(card.trainer?.name).toBe("baseline-mlp");
    expect(card.trainer?.params).toMatchObject({ epochs: 6, samplesPerImage: 1500, seed: 7 });
    expect(card.dataset?.versionId).toMatch(/^[0-9a-f]{64}$/);

    // The eval item has no files in DATA_DIR (only train is materialised), and it is unseen: a fair check.
    expect(existsSync(dataDirPaths.image(dataDir, "it_4", "rgb"))).toBe(false);
    // The demo scenes carry sensor noise and faint haze, so per-pixel accuracy tops out below 1;
    // the largest class (Clear: land and water) covers about 55–65 % of a scene, so 0.8 means it
    // really learned.
    expect(await onnxAccuracy(join(out, "model.onnx"), card, items[4]!)).toBeGreaterThan(0.8);

    const metrics = JSON.parse(await readFile(join(out, "metrics.json"), "utf8")) as Record<string, unknown>;
    expect(metrics.source).toBe("trainer-self-reported");
    expect(metrics.pixelAccuracy).toBeGreaterThan(0.8);
    expect(metrics.epochs).toBe(6);
    expect(result.metrics).toEqual(metrics);
    // One record per epoch: the curve the dashboard draws. Loss falls; the last held-out numbers are the headline ones.
    const history = metrics.history as { epoch: number; loss: number; learningRate: number; pixelAccuracy: number; mIoU: number }[];
    expect(history.map((h) => h.epoch)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(history[5]!.loss).toBeLessThan(history[0]!.loss);
    expect(history[5]!.pixelAccuracy).toBe(metrics.pixelAccuracy);
    expect(history[5]!.mIoU).toBe(metrics.mIoU);
    expect(history[0]!.loss).toBeCloseTo(Number(/loss (\S+)/.exec(lines.find((l) => l.startsWith("epoch 1/6"))!)![1]), 3);
    fullHistory = history;

    expect(lines.filter((l) => /^epoch \d+\/6 loss \d/.test(l))).toHaveLength(6);
    firstLoss = Number(/loss (\S+)/.exec(lines.find((l) => l.startsWith("epoch 1/6"))!)![1]);
    const checkpoint = JSON.parse(await readFile(join(root, "full", "ck", "checkpoint.json"), "utf8")) as { epoch: number };
    expect(checkpoint.epoch).toBe(6);
  });

  it("resumes from its checkpoint after a kill and ends with the same model", async () => {
    const killed: string[] = [];
    await expect(runBaselineTrainer(env("resumed"), io(killed, "epoch 3/6"))).rejects.toThrow("killed");
    expect(existsSync(join(root, "resumed", "out", "model.onnx"))).toBe(false);

    const lines: string[] = [];
    const result = await runBaselineTrainer(env("resumed"), io(lines));
    expect(result.resumedFromEpoch).toBe(3);
    expect(lines).toContain("resuming from checkpoint after epoch 3/6");
    expect(lines.filter((l) => l.startsWith("epoch "))).toHaveLength(3);
    const resumed = await readFile(join(root, "resumed", "out", "model.onnx"));
    const uninterrupted = await readFile(join(root, "full", "out", "model.onnx"));
    expect(resumed.equals(uninterrupted)).toBe(true);
    // The history survives the kill: the resumed run's curve is the uninterrupted run's.
    expect((result.metrics.history as unknown[])).toEqual(fullHistory);
  });

  it("starts afresh when the checkpoint belongs to other inputs", async () => {
    const lines: string[] = [];
    // The "full" run's checkpoint, but a different seed.
    const result = await runBaselineTrainer({ ...env("full"), PARAMS: JSON.stringify({ epochs: 2, samplesPerImage: 500, seed: 8 }) }, io(lines));
    expect(result.resumedFromEpoch).toBeNull();
    expect(lines.some((l) => l.startsWith("ignoring a checkpoint from different inputs"))).toBe(true);
  });

  it("warm-starts from a previous model and starts from a lower loss", async () => {
    const lines: string[] = [];
    await runBaselineTrainer(env("warm", { BASE_MODEL_PATH: join(root, "full", "out") }), io(lines));
    expect(lines.some((l) => l.startsWith("warm-starting from the base model"))).toBe(true);
    const warmFirst = Number(/loss (\S+)/.exec(lines.find((l) => l.startsWith("epoch 1/6"))!)![1]);
    expect(warmFirst).toBeLessThan(firstLoss);
  });

  it("fails with a readable PermanentError on bad input", async () => {
    await expect(runBaselineTrainer({ ...env("bad"), PARAMS: "{epochs" }, io([]))).rejects.toMatchObject({ code: "invalid_params" });
    await expect(runBaselineTrainer({ ...env("bad"), PARAMS: '{"epochs":-1}' }, io([]))).rejects.toMatchObject({ code: "invalid_params" });
    await expect(runBaselineTrainer({ ...env("bad"), DATA_DIR: join(root, "nowhere") }, io([]))).rejects.toMatchObject({ code: "invalid_manifest" });
    await unlink(dataDirPaths.label(dataDir, "it_1"));
    await expect(runBaselineTrainer(env("bad"), io([]))).rejects.toThrow(/item it_1: cannot read its label/);
  });
});
