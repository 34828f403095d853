import type { Command } from "commander";
import { DEFAULT_DEMO } from "../../demo/defaults.ts";
import type { RunOptions } from "./run-action.ts";

/** `mlops start [--demo]` and `mlops demo [--json]`; the runtime loads when one runs (run-action.ts). */
export function registerRunCommands(program: Command): void {
  program
    .command("start")
    .description("run the local runtime and dashboard (PGlite, folders as buckets, jobs as child processes)")
    .option("--demo", "also generate demo products and simulate the annotation team")
    .option("--port <port>", "dashboard port (default PORT or 8080; the next free one is used)")
    .option("--workspace <dir>", "workspace folder (default MLOPS_WORKSPACE or .mlops)")
    .option("--products <n>", "demo products to upload", String(DEFAULT_DEMO.products))
    .action(async (opts: RunOptions) => {
      await (await import("./run-action.ts")).startAction(opts);
    });

  program
    .command("demo")
    .description("run the demo until the first promotion, then print a summary and exit")
    .option("--json", "make the last stdout line a JSON summary")
    .option("--workspace <dir>", "workspace folder (default: a fresh temporary folder)")
    .option("--products <n>", "demo products to upload", String(DEFAULT_DEMO.products))
    .option("--timeout <seconds>", "give up after this long", "300")
    .action(async (opts: RunOptions) => {
      await (await import("./run-action.ts")).demoAction(opts);
    });
}
