import type { Command } from "commander";
import type { CommandName } from "../../messages/commands.ts";

/**
 * The manual commands, for the help text. Spelled out so `mlops --help` does not load the message
 * schemas; test/shared/cli/main.test.ts checks it against the schema's COMMAND_NAMES.
 */
export const CLI_COMMAND_NAMES = [
  "poll",
  "retrain",
  "promote",
  "rollback",
  "reprocess",
  "backfill",
  "approve",
  "reject",
  "replay",
  "predict",
] as const satisfies readonly CommandName[];

/** `mlops status`, `mlops upload`, `mlops command`, `mlops db migrate` (work in ops-action.ts). */
export function registerOpsCommands(program: Command): void {
  const actions = () => import("./ops-action.ts");
  program
    .command("status")
    .description("show the funnel, datasets, runs, models, aliases and failures")
    .option("--json", "print the whole status snapshot as JSON")
    .action(async (opts: { json?: boolean }) => (await actions()).statusAction(opts));

  program
    .command("upload")
    .description("upload files to the archive bucket (the runtime ingests them automatically)")
    .argument("<files...>", "product zips, GeoTIFFs or images")
    .option("--prefix <prefix>", "folder inside the archive bucket", "uploads/")
    .action(async (files: string[], opts: { prefix: string }) => (await actions()).uploadAction(files, opts));

  program
    .command("command")
    .description(`publish a manual command: ${CLI_COMMAND_NAMES.join(", ")}`)
    .argument("<name>", CLI_COMMAND_NAMES.join(" | "))
    .argument("[args...]", "poll | retrain [line] | promote <model> <alias> | rollback <alias> | reprocess <item> | backfill [prefix] | approve <evaluation> | reject <evaluation> [reason] | replay <dead-letter id or message id> | predict <alias> [archive prefix or gs://bucket/prefix]")
    .option("--actor <name>", "who asks (recorded with the decision)", process.env.USER ?? "operator")
    .action(async (name: string, args: string[], opts: { actor: string }) => (await actions()).commandAction(name, args, opts));

  program
    .command("db")
    .description("database maintenance")
    .command("migrate")
    .description("apply pending migrations")
    .action(async () => (await actions()).migrateAction());
}
