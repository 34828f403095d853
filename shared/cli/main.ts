import { Command, CommanderError } from "commander";
import { ConfigError } from "../config/load.ts";
import { PermanentError, describeError } from "../errors.ts";
import { registerOpsCommands, CliError } from "./commands/ops.ts";
import { registerRunCommands } from "./commands/run.ts";
import { registerNormaliseCommand } from "./commands/normalise.ts";
import { registerMetricsCommand } from "./commands/metrics.ts";
import { registerEvaluateCommand } from "./commands/evaluate.ts";
import { registerBackendCommand } from "./commands/backend.ts";
import { registerDataCommands } from "./commands/data.ts";

/**
 * The `mlops` command. Each subcommand lives in `shared/cli/commands/<name>.ts` and exports a
 * `register…(program)` function; this file only wires them and turns errors into one readable line.
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

export async function main(argv: string[]): Promise<void> {
  try {
    await buildProgram().parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      process.exitCode = err.exitCode;
      return;
    }
    const known = err instanceof CliError || err instanceof ConfigError || err instanceof PermanentError;
    process.stderr.write(`mlops: ${known ? err.message : describeError(err)}\n`);
    if (!known && process.env.MLOPS_DEBUG) process.stderr.write(`${(err as Error).stack}\n`);
    process.exitCode = 2;
  }
}
