import type { Command } from "commander";

export interface EvaluateFlags {
  model: string;
  champion?: string;
  dataset: string;
  json?: boolean;
}

/**
 * `mlops evaluate --model <dir> [--champion <dir>] --dataset <manifest.json> [--json]`: the
 * evaluation job's scoring on local folders (evaluate-action.ts, loaded when the command runs:
 * it brings onnxruntime and sharp).
 */
export function registerEvaluateCommand(program: Command): void {
  program
    .command("evaluate")
    .description("score a model (and optionally the champion) on a dataset version's eval split")
    .requiredOption("--model <dir>", "candidate model folder (model.onnx + model.json)")
    .option("--champion <dir>", "champion model folder to compare with")
    .requiredOption("--dataset <manifest.json>", "dataset version manifest (local file)")
    .option("--json", "print the report as JSON")
    .action(async (flags: EvaluateFlags) => {
      const { runEvaluateCommand } = await import("./evaluate-action.ts");
      await runEvaluateCommand(flags, { stdout: (text) => process.stdout.write(text), env: process.env });
    });
}
