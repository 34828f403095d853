import { Command, CommanderError } from "commander";
import { registerOpsCommands } from "./commands/ops.ts";
import { registerRunCommands } from "./commands/run.ts";
import { registerNormaliseCommand } from "./commands/normalise.ts";
import { registerMetricsCommand } from "./commands/metrics.ts";
import { registerEvaluateCommand } from "./commands/evaluate.ts";
import { registerBackendCommand } from "./commands/backend.ts";
import { registerDataCommands } from "./commands/data.ts";

/**
 * The `mlops` command. Each subcommand is declared in `shared/cli/commands/<name>.ts` (commander
 * only: names, options, help) and does its work in `<name>-action.ts`, imported when the action
 * runs, so `mlops --help` and every command load only what they use. This file wires them and
 * turns errors into one readable line.
 */
export function buildProgram(): Command {
  const program = new Command("mlops")
    .description("Event-driven annotation-to-promotion loop: local runtime, demo and operations")
    .showHelpAfterError();
  registerRunCommands(program);
  registerOpsCommands(program);
  registerNormaliseCommand(program);
  registerMetricsCommand(program);
  registerEvaluateCommand(program);
  registerBackendCommand(program);
  registerDataCommands(program);
  return program;
}

/** Errors whose message is written for the user: no stack, even with MLOPS_DEBUG. */
const USER_FACING = new Set(["CliError", "ConfigError", "PermanentError"]);

export async function main(argv: string[]): Promise<void> {
  try {
    await buildProgram().parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      process.exitCode = err.exitCode;
      return;
    }
    // By name, not instanceof: the error classes live in modules this file does not load up front.
    const known = err instanceof Error && USER_FACING.has(err.name);
    const { describeError } = await import("../errors.ts");
    process.stderr.write(`mlops: ${known ? err.message : describeError(err)}\n`);
    if (!known && process.env.MLOPS_DEBUG) process.stderr.write(`${(err as Error).stack}\n`);
    process.exitCode = 2;
  }
}
