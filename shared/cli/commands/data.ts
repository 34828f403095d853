import type { Command } from "commander";

/** Where these commands write; tests pass their own. */
export interface DataCliIo {
  stdout(text: string): void;
  stderr(text: string): void;
  /** Whether stderr is a terminal (progress redraws one line instead of printing many). */
  stderrIsTty: boolean;
}

const processIo: DataCliIo = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  stderrIsTty: Boolean(process.stderr.isTTY),
};

/** `mlops dataset pull`, `mlops runs compare`. */
export function registerDataCommands(program: Command, io: DataCliIo = processIo): void {
  const dataset = program.command("dataset").description("dataset versions");
  dataset
    .command("pull")
    .description("check a dataset version out into a folder, verifying every object's SHA-256 against the manifest")
    .argument("<version>", "version id (or a unique prefix of one), `latest`, or the manifest's gs:// URI")
    .requiredOption("--out <dir>", "folder to write into")
    .option("--format <formats>", "comma-separated: coco, yolo, masks", "coco")
    .option("--split <split>", "train | eval | all", "all")
    .option("--line <line>", "dataset line (default DATASET_LINE)")
    .option("--json", "print a JSON summary instead of text")
    .action(async (version: string, opts: { out: string; format: string; split: string; line?: string; json?: boolean }) => {
      const action = await import("./data-action.ts");
      await action.runDatasetPull(action.configFromEnv(), version, opts, io);
    });

  const runs = program.command("runs").description("training runs");
  runs
    .command("compare")
    .description("two training runs side by side: dataset, parameters, trainer-reported and evaluation metrics")
    .argument("<a>", "training run id")
    .argument("<b>", "training run id")
    .option("--json", "print {a, b, rows} as JSON")
    .action(async (a: string, b: string, opts: { json?: boolean }) => {
      const action = await import("./data-action.ts");
      await action.runRunsCompare(action.configFromEnv(), a, b, opts, io);
    });
}
