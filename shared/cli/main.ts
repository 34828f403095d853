import { Command } from "commander";

/**
 * The `mlops` command. Each subcommand lives in `shared/cli/commands/<name>.ts` and exports a
 * `register…(program)` function; this file only wires them.
 */
export async function main(argv: string[]): Promise<void> {
  const program = new Command("mlops")
    .description("Event-driven annotation-to-promotion loop: local runtime, demo and operations")
    .showHelpAfterError();
  await program.parseAsync(argv);
}
