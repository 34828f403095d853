/**
 * `scripts/gpu-check`: on a machine with an NVIDIA GPU, the two pieces of GPU work the loop does,
 * each against the CPU on the same data:
 *
 * 1. Training: the reference PyTorch U-Net (infra/jobs/train/unet/train_unet.py) for a few epochs
 *    with PARAMS.device "cuda" (float16 autocast) and "cpu"; step time and training Mpixel/s from
 *    its per-epoch metrics (the first epoch, with cuDNN's autotuning, is left out).
 * 2. Evaluation: the CUDA-trained model's ONNX export scored by our evaluator (`mlops evaluate`'s
 *    core) with onnxruntime's CUDA execution provider and with the CPU; Mpixel/s of inference.
 *
 * Data: generated scenes (scripts/cloud-scenes.ts), GPU_CHECK_SIZE² pixels (default 512), 16 to
 * train and 16 to evaluate. Prints one table and exits 1 when CUDA was not actually used (the
 * trainer fell back, or onnxruntime ran the model on the CPU).
 *
 *   node --import tsx scripts/gpu-check.ts   (through scripts/gpu-check, which checks prerequisites)
 */
import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { sharpCodec } from "../shared/adapters/imaging/codec.ts";
import { LocalObjectStore } from "../shared/adapters/store/local.ts";
import { runEvaluateCommand } from "../shared/cli/commands/evaluate-action.ts";
import { writeCloudScenes } from "./cloud-scenes.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const TRAINER = join(ROOT, "infra", "jobs", "train", "unet", "train_unet.py");
const PYTHON = process.env.PYTHON ?? "python3";
const SIZE = Number(process.env.GPU_CHECK_SIZE ?? 512);
const EPOCHS = Number(process.env.GPU_CHECK_EPOCHS ?? 4);

interface EpochRecord {
  epoch: number;
  seconds: number;
  stepSeconds: number | null;
  trainMpixelPerSecond: number | null;
  device: string;
  mIoU: number | null;
}

async function train(root: string, device: "cuda" | "cpu"): Promise<{ output: string; history: EpochRecord[]; mixedPrecision: boolean }> {
  const output = join(root, `model-${device}`);
  const params = { epochs: EPOCHS, device, tileSize: 256, tilesPerImage: 4, batchSize: 8, width: 32, seed: 1 };
  const child = spawn(PYTHON, [TRAINER], {
    env: { ...process.env, DATA_DIR: join(root, "data"), OUTPUT_DIR: output, CHECKPOINT_DIR: join(root, `ck-${device}`), PARAMS: JSON.stringify(params) },
    stdio: ["ignore", "inherit", "inherit"],
  });
  const [code] = (await once(child, "close")) as [number | null];
  if (code !== 0) throw new Error(`the U-Net trainer on ${device} exited with ${code}`);
  const metrics = JSON.parse(await readFile(join(output, "metrics.json"), "utf8")) as { history: EpochRecord[]; mixedPrecision: boolean };
  return { output, history: metrics.history, mixedPrecision: metrics.mixedPrecision };
}

const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / Math.max(values.length, 1);

function trainingRow(device: string, history: EpochRecord[]) {
  const steady = history.length > 1 ? history.slice(1) : history;
  return {
    device: history[0]?.device ?? device,
    stepMs: mean(steady.map((r) => (r.stepSeconds ?? 0) * 1000)),
    mpx: mean(steady.map((r) => r.trainMpixelPerSecond ?? 0)),
    mIoU: history.at(-1)?.mIoU ?? null,
  };
}

async function evaluate(root: string, manifestPath: string, model: string, providers: string[]) {
  const { report } = await runEvaluateCommand(
    { model, dataset: manifestPath },
    { stdout: () => undefined, env: { MLOPS_WORKSPACE: root }, codec: sharpCodec, executionProviders: providers },
  );
  const candidate = report.evaluation.candidate;
  return { provider: candidate.executionProvider ?? "?", mpx: (candidate.timings.pixelsPerSecond ?? 0) / 1e6, inferenceMs: candidate.timings.inferenceMs, mIoU: candidate.primaryMetric.value, warnings: report.warnings };
}

const root = await mkdtemp(join(tmpdir(), "mlops-gpu-check-"));
try {
  process.stderr.write(`generating 32 scenes of ${SIZE}×${SIZE} in ${root}\n`);
  const store = new LocalObjectStore(join(root, "buckets"));
  const { manifestUri } = await writeCloudScenes({ dataDir: join(root, "data"), store, train: 16, evaluate: 16, seed: 3, size: SIZE });
  const manifestPath = join(root, "manifest.json");
  await writeFile(manifestPath, await store.get(manifestUri));

  const gpuTrain = await train(root, "cuda");
  const cpuTrain = await train(root, "cpu");
  const gpuEval = await evaluate(root, manifestPath, gpuTrain.output, ["cuda", "cpu"]);
  const cpuEval = await evaluate(root, manifestPath, gpuTrain.output, ["cpu"]);

  const g = trainingRow("cuda", gpuTrain.history);
  const c = trainingRow("cpu", cpuTrain.history);
  const lines = [
    "",
    `U-Net training, ${EPOCHS} epochs, 256² crops × 8 per step (epoch 1 left out of the means):`,
    `  ${g.device.padEnd(5)} step ${g.stepMs.toFixed(1).padStart(8)} ms  ${g.mpx.toFixed(2).padStart(8)} Mpixel/s  mixed precision ${gpuTrain.mixedPrecision}  final held-out mIoU ${g.mIoU?.toFixed(3) ?? "n/a"}`,
    `  ${c.device.padEnd(5)} step ${c.stepMs.toFixed(1).padStart(8)} ms  ${c.mpx.toFixed(2).padStart(8)} Mpixel/s  final held-out mIoU ${c.mIoU?.toFixed(3) ?? "n/a"}`,
    `  speed-up ${(c.stepMs / Math.max(g.stepMs, 1e-9)).toFixed(1)}×`,
    "",
    `Evaluation of the CUDA-trained model on 16 eval scenes (${SIZE}²), onnxruntime:`,
    `  ${gpuEval.provider.padEnd(5)} ${gpuEval.mpx.toFixed(2).padStart(8)} Mpixel/s  inference ${gpuEval.inferenceMs.toFixed(0)} ms  mIoU ${gpuEval.mIoU?.toFixed(4)}`,
    `  ${cpuEval.provider.padEnd(5)} ${cpuEval.mpx.toFixed(2).padStart(8)} Mpixel/s  inference ${cpuEval.inferenceMs.toFixed(0)} ms  mIoU ${cpuEval.mIoU?.toFixed(4)}`,
    `  speed-up ${(gpuEval.mpx / Math.max(cpuEval.mpx, 1e-9)).toFixed(1)}×`,
    ...gpuEval.warnings.map((w) => `  warning: ${w}`),
    "",
  ];
  process.stdout.write(lines.join("\n"));
  // Same model, same items: the providers must agree on the metric (float tolerance aside).
  if (gpuEval.mIoU !== null && cpuEval.mIoU !== null && Math.abs(gpuEval.mIoU - cpuEval.mIoU) > 1e-3) {
    process.stdout.write(`CUDA and CPU disagree on mIoU (${gpuEval.mIoU} vs ${cpuEval.mIoU})\n`);
    process.exitCode = 1;
  }
  if (g.device !== "cuda" || gpuEval.provider !== "cuda") {
    process.stdout.write(`CUDA was not used (trainer: ${g.device}, evaluator: ${gpuEval.provider})\n`);
    process.exitCode = 1;
  }
} finally {
  await rm(root, { recursive: true, force: true });
}
