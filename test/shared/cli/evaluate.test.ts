import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Command } from "commander";
import { registerEvaluateCommand } from "../../../shared/cli/commands/evaluate.ts";
import { runEvaluateCommand } from "../../../shared/cli/commands/evaluate-action.ts";
import { sharpCodec } from "../../../shared/adapters/imaging/codec.ts";
import { LocalObjectStore } from "../../../shared/adapters/store/local.ts";
import { EvaluationReportSchema } from "../../../shared/core/evaluation/report.ts";
import type { ModelCard } from "../../../shared/core/models/model-card.ts";
import { segmentationLogitsModel } from "../core/evaluation/onnx-models.ts";
import { CLOUD_BY_RED } from "../core/evaluation/fixtures.ts";
import { writeDataset } from "../../functions/jobs/evaluate-fixtures.ts";

let workspace: string;

beforeEach(async () => {
  workspace = await mkdtemp(join(tmpdir(), "eval-cli-"));
});
afterEach(async () => {
  await rm(workspace, { recursive: true, force: true });
});

async function modelDir(name: string, model: { bytes: Uint8Array; card: ModelCard }): Promise<string> {
  const dir = join(workspace, name);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, "model.onnx"), model.bytes);
  await writeFile(join(dir, "model.json"), JSON.stringify(model.card));
  return dir;
}

/** The dataset lives in the workspace's bucket folders; the manifest is handed over as a local file. */
async function setup() {
  const store = new LocalObjectStore(join(workspace, "buckets"));
  const manifestUri = await writeDataset(store);
  const manifestPath = join(workspace, "manifest.json");
  await writeFile(manifestPath, await store.get(manifestUri));
  const candidate = await modelDir("candidate", segmentationLogitsModel({ ...CLOUD_BY_RED, name: "cloud-net" }));
  const champion = await modelDir("champion", segmentationLogitsModel({ classes: ["background", "cloud"], weights: [0, 0, 0, 0, 0, 0], bias: [1, 0], name: "never-cloud" }));
  return { manifestPath, candidate, champion };
}

describe("mlops evaluate", () => {
  it("prints overall and per-class tables for candidate vs champion, and the policy's verdict", async () => {
    const { manifestPath, candidate, champion } = await setup();
    let out = "";
    const { report, decision } = await runEvaluateCommand(
      { model: candidate, champion, dataset: manifestPath },
      { stdout: (t) => (out += t), env: { MLOPS_WORKSPACE: workspace }, codec: sharpCodec },
    );
    // Champion always says background: rows [[12,0],[9,0]] over 3 items → background IoU 12/21,
    // cloud IoU 0, mIoU (12/21 + 0) / 2 = 2/7.
    expect(report.evaluation.champion?.primaryMetric.value).toBeCloseTo(2 / 7, 12);
    expect(out).toContain("segmentation evaluation on 3 eval items");
    expect(out).toMatch(/mIoU \*\s+0\.7500\s+0\.2857\s+\+0\.4643/);
    expect(out).toMatch(/cloud\s+9\s+0\.7500\s+0\.0000\s+\+0\.7500/);
    // The default policy: mIoU 0.75 ≥ 0.3, no class regressed, 3 items ≥ 3 → staging, prod needs approve.
    expect(decision).toMatchObject({ outcome: "promote", prodOutcome: "review" });
    expect(out).toContain("policy: promote (prod: review)");
  });

  it("prints the report as JSON with --json", async () => {
    const { manifestPath, candidate } = await setup();
    let out = "";
    await runEvaluateCommand({ model: candidate, dataset: manifestPath, json: true }, { stdout: (t) => (out += t), env: { MLOPS_WORKSPACE: workspace }, codec: sharpCodec });
    const report = EvaluationReportSchema.parse(JSON.parse(out));
    expect(report.evaluation.candidate.primaryMetric).toEqual({ name: "mIoU", value: 0.75 });
    expect(report.evaluation.champion).toBeNull();
  });

  it("fails with a readable reason when a model folder has no model.json", async () => {
    const { manifestPath } = await setup();
    const empty = join(workspace, "empty");
    await mkdir(empty);
    await expect(runEvaluateCommand({ model: empty, dataset: manifestPath }, { stdout: () => undefined, env: { MLOPS_WORKSPACE: workspace } }))
      .rejects.toThrow(/candidate model card not found: .*empty\/model\.json/);
  });

  it("registers `evaluate` with its options", () => {
    const program = new Command();
    registerEvaluateCommand(program);
    const command = program.commands.find((c) => c.name() === "evaluate");
    expect(command?.options.map((o) => o.long)).toEqual(["--model", "--champion", "--dataset", "--json"]);
  });
});
