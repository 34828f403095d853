import type { Command } from "commander";

/**
 * `mlops backend check [--json]`: proves the configured annotation backend is reachable and set
 * up: Encord, Label Studio or the local inbox (backend-action.ts, loaded when the command runs). Exit code 0 when all is well, 1 when a
 * step fails, 2 for a configuration error.
 */
export function registerBackendCommand(program: Command): void {
  const backend = program.command("backend").description("annotation backend tools");
  backend
    .command("check")
    .description("check that the annotation backend (Encord, Label Studio or the local inbox) is reachable and configured")
    .option("--json", "print the report as JSON: {ok, steps: [{name, ok, detail}]}")
    .action(async (options: { json?: boolean }) => {
      const { runBackendCheck } = await import("./backend-action.ts");
      process.exitCode = await runBackendCheck(process.env, options, {
        out: (line) => process.stdout.write(`${line}\n`),
        err: (line) => process.stderr.write(`${line}\n`),
      });
    });
}
