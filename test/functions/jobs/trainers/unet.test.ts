import { execFileSync, spawn } from "node:child_process";
import { copyFile, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { once } from "node:events";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sharpCodec } from "../../../../shared/adapters/imaging/codec.ts";
import { LocalObjectStore } from "../../../../shared/adapters/store/local.ts";
import { runEvaluateCommand } from "../../../../shared/cli/commands/evaluate-action.ts";
import { trainerInvocation } from "../../../../functions/jobs/train/trainer-process.ts";
import { parseTrainJobEnv } from "../../../../shared/messages/jobs.ts";
import { writeCloudScenes } from "../../../../scripts/cloud-scenes.ts";

/**
 * The reference PyTorch trainer (infra/jobs/train/unet/train_unet.py) on CPU: a few epochs on tiny
 * generated scenes, a resume from a checkpoint (copied, and after a SIGKILL), and its ONNX export
 * scored by our evaluator. Needs a Python with PyTorch (Debian: `apt-get install python3-torch
 * python3-onnx python3-pil`, as .ci/run does). Without one these tests fail, saying what to
 * install — as the dashboard's browser test does without Chromium — rather than being skipped.
 */
const TRAINER = join(import.meta.dirname, "../../../../infra/jobs/train/unet/train_unet.py");
const PARAMS = JSON.stringify({ epochs: 3, tileSize: 32, batchSize: 4, width: 8, threads: 1, seed: 11 });

function findTorchPython(): string | null {
  for (const candidate of [process.env.PYTHON, "python3", "/usr/bin/python3"]) {
    if (!candidate) continue;
    try {
      execFileSync(candidate, ["-c", "import torch, onnx, PIL, numpy"], { stdio: "ignore", timeout: 60_000 });
      return candidate;
    } catch {
      // try the next one
    }
  }
  return null;
}

const python = findTorchPython();
const NO_PYTHON = "no python3 can `import torch, onnx, PIL, numpy`: install python3-torch python3-onnx python3-pil (Debian; .ci/run does) or set PYTHON";

describe("the U-Net reference trainer's prerequisites", () => {
  it("has a Python with PyTorch, ONNX, Pillow and NumPy", () => {
    expect(python, NO_PYTHON).not.toBeNull();
  });

  it("is what TRAINER_COMMAND=builtin:unet runs", () => {
    const run = trainerInvocation("builtin:unet");
    expect(run).toMatchObject({ kind: "program", file: "python3" });
    expect(run.kind === "program" && run.args[0]).toMatch(/unet\/train_unet\.py$/);
    expect(trainerInvocation("builtin:baseline")).toEqual(trainerInvocation(null));
    expect(trainerInvocation("python -m train")).toEqual({ kind: "shell", command: "python -m train" });
  });

  it("is named in the train job's contract, which refuses an unknown built-in", () => {
    const env = { RUN_ID: "run_1", DATASET_URI: "gs://datasets/l/v/manifest.json", OUTPUT_PREFIX: "gs://models/runs/run_1/" };
    expect(parseTrainJobEnv({ ...env, TRAINER_COMMAND: "builtin:unet" }).TRAINER_COMMAND).toBe("builtin:unet");
    expect(() => parseTrainJobEnv({ ...env, TRAINER_COMMAND: "builtin:resnet" })).toThrow(/names no built-in trainer \(have builtin:baseline, builtin:unet\)/);
  });
});

describe("the U-Net reference trainer (PyTorch, CPU)", () => {
  let root: string;
  let manifestPath: string;

  beforeAll(async () => {
    if (!python) throw new Error(NO_PYTHON);
    root = await mkdtemp(join(tmpdir(), "unet-trainer-"));
    const store = new LocalObjectStore(join(root, "buckets"));
    const { manifestUri } = await writeCloudScenes({ dataDir: join(root, "data"), store, train: 8, evaluate: 4, seed: 5 });
    manifestPath = join(root, "manifest.json");
    await writeFile(manifestPath, await store.get(manifestUri));
  });
  afterAll(async () => {
    if (root) await rm(root, { recursive: true, force: true });
  });

  /** Runs the trainer; `killAfter` SIGKILLs it as soon as it prints that text. */
  async function train(name: string, checkpoints: string, killAfter?: string): Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string; output: string }> {
    const output = join(root, name);
    const child = spawn(python!, [TRAINER], {
      env: { ...process.env, DATA_DIR: join(root, "data"), OUTPUT_DIR: output, CHECKPOINT_DIR: checkpoints, PARAMS, OMP_NUM_THREADS: "1" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    createInterface({ input: child.stdout }).on("line", (line) => {
      stdout += `${line}\n`;
      if (killAfter && line.includes(killAfter)) child.kill("SIGKILL");
    });
    const [code, signal] = (await once(child, "close")) as [number | null, NodeJS.Signals | null];
    return { code, signal, stdout, stderr, output };
  }

  const history = async (dir: string) => (JSON.parse(await readFile(join(dir, "metrics.json"), "utf8")) as { history: { epoch: number; loss: number; valLoss: number }[] }).history;

  it("trains, resumes from a checkpoint to the same weights, and exports a model our evaluator scores", async () => {
    const full = await train("full", join(root, "ck-full"));
    expect(full.stderr).toBe("");
    expect(full.code).toBe(0);
    expect(full.stdout).toMatch(/epoch 3\/3 loss/);
    const reference = await history(full.output);
    expect(reference.map((r) => r.epoch)).toEqual([1, 2, 3]);
    // A checkpoint per epoch (the last two kept) and the per-epoch metrics beside them.
    expect((await readdir(join(root, "ck-full"))).sort()).toEqual(["checkpoint-epoch-0002.pt", "checkpoint-epoch-0003.pt", "metrics.jsonl"]);
    expect((await readFile(join(root, "ck-full", "metrics.jsonl"), "utf8")).trim().split("\n")).toHaveLength(3);

    // Resume from the epoch-2 checkpoint, as a run cut off during epoch 3 would: same epoch 3.
    await mkdir(join(root, "ck-resume"));
    await copyFile(join(root, "ck-full", "checkpoint-epoch-0002.pt"), join(root, "ck-resume", "checkpoint-epoch-0002.pt"));
    const resumed = await train("resumed", join(root, "ck-resume"));
    expect(resumed.code).toBe(0);
    expect(resumed.stdout).toContain("resuming from checkpoint after epoch 2/3");
    expect(resumed.stdout).not.toMatch(/epoch [12]\/3 loss/);
    const after = await history(resumed.output);
    expect(after).toHaveLength(3);
    for (const [i, r] of after.entries()) {
      expect(r.loss).toBeCloseTo(reference[i]!.loss, 9);
      expect(r.valLoss).toBeCloseTo(reference[i]!.valLoss, 9);
    }

    // Our evaluator reads the card and the ONNX graph and scores the eval split.
    const { report } = await runEvaluateCommand({ model: resumed.output, dataset: manifestPath }, { stdout: () => undefined, env: { MLOPS_WORKSPACE: root }, codec: sharpCodec });
    expect(report.evaluation.itemCount).toBe(4);
    expect(report.evaluation.candidate.name).toBe("unet-torch");
    expect(report.evaluation.candidate.primaryMetric.name).toBe("mIoU");
    expect(report.evaluation.candidate.primaryMetric.value).toBeGreaterThan(0.7);
  }, 300_000);

  it("finishes with the same weights after a SIGKILL and a restart on the same checkpoints", async () => {
    const checkpoints = join(root, "ck-killed");
    const killed = await train("killed", checkpoints, "epoch 1/3");
    const restarted = await train("restarted", checkpoints);
    expect(restarted.code).toBe(0);
    // Killed mid-run, the restart resumes; had it already finished, it resumes after epoch 3.
    if (killed.signal === "SIGKILL") expect(restarted.stdout).toMatch(/resuming from checkpoint after epoch [123]\/3/);
    const full = await history(join(root, "full"));
    const final = await history(restarted.output);
    expect(final.map((r) => r.loss)).toEqual(full.map((r) => r.loss));
  }, 300_000);

  it("refuses bad input with exit code 2 and one line on stderr", async () => {
    const bad = spawn(python!, [TRAINER], { env: { ...process.env, DATA_DIR: join(root, "nowhere"), OUTPUT_DIR: join(root, "x"), CHECKPOINT_DIR: join(root, "y"), PARAMS: "{}" } });
    let stderr = "";
    bad.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    const [code] = (await once(bad, "close")) as [number | null];
    expect(code).toBe(2);
    expect(stderr).toMatch(/^unet trainer: cannot read .*manifest\.json/);
  }, 300_000);
});
