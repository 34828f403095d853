import { stat } from "node:fs/promises";
import { basename } from "node:path";
import { buildEnvelope } from "../../messages/build.ts";
import { CommandSchema, type Command as MlopsCommand } from "../../messages/commands.ts";
import { summariseIssues } from "../../messages/build.ts";
import { randomIds } from "../../adapters/basics.ts";
import { objectUri } from "../../core/uri.ts";
import type { ObjectStore, Publisher } from "../../ports.ts";
import { configFromEnv, readStatus, runningRuntime } from "../workspace.ts";
import { printStatus } from "../print-status.ts";
import { CliError } from "../errors.ts";

/** `mlops status` (declared in ops.ts). */
export async function statusAction(opts: { json?: boolean }): Promise<void> {
  const config = configFromEnv();
  const snapshot = await readStatus(config);
  if (opts.json) process.stdout.write(`${JSON.stringify(snapshot)}\n`);
  else printStatus(snapshot, (line) => process.stdout.write(`${line}\n`));
}

/** `mlops upload` (declared in ops.ts). */
export async function uploadAction(files: string[], opts: { prefix: string }): Promise<void> {
  const config = configFromEnv();
  const store = await archiveStore(config);
  const prefix = opts.prefix.replace(/^\/+/, "").replace(/\/?$/, "/");
  for (const file of files) {
    const info = await stat(file).catch(() => null);
    if (!info?.isFile()) throw new CliError(`no such file: ${file}`);
    const uri = objectUri(config.buckets.archive, `${prefix === "/" ? "" : prefix}${basename(file)}`);
    const written = await store.upload(file, uri);
    process.stdout.write(`uploaded ${uri} (${written.size} bytes, generation ${written.generation})\n`);
  }
  if (config.runtime === "local" && !runningRuntime(config.workspace)) {
    process.stdout.write("the local runtime is not running: `npm start` (or `mlops start`) will ingest the uploads\n");
  }
}

/** `mlops command` (declared in ops.ts). */
export async function commandAction(name: string, args: string[], opts: { actor: string }): Promise<void> {
  const config = configFromEnv();
  const command = parseCommand(name, args, opts.actor);
  const envelope = buildEnvelope("command", command, { id: randomIds.next("cmd"), occurredAt: new Date() });
  const publisher = await commandPublisher(config);
  await publisher.publish(envelope);
  process.stdout.write(`published ${command.name} (${envelope.id})\n`);
  if (config.runtime === "local" && !runningRuntime(config.workspace)) {
    process.stdout.write("the local runtime is not running: the command runs when it starts\n");
  }
}

/** `mlops db migrate` (declared in ops.ts). */
export async function migrateAction(): Promise<void> {
  const config = configFromEnv();
  if (config.runtime === "local" && !config.db.url && runningRuntime(config.workspace)) {
    throw new CliError("the local runtime is running and holds the embedded database; it migrates on start");
  }
  const { openDb } = await import("../open-db.ts");
  const { migrate } = await import("../../db/migrate.ts");
  const { loadMigrations } = await import("../../db/migrations.ts");
  const db = await openDb(config);
  try {
    const applied = await migrate(db, loadMigrations());
    process.stdout.write(applied.length ? `applied ${applied.join(", ")}\n` : "database is up to date\n");
  } finally {
    await db.close();
  }
}

/** Positional CLI arguments → a validated command message. */
export function parseCommand(name: string, args: string[], actor: string): MlopsCommand {
  const [a, b] = args;
  const raw: Record<string, unknown> = { name, actor };
  switch (name) {
    case "retrain": if (a) raw.line = a; break;
    case "promote": raw.modelId = a; raw.alias = b; break;
    case "rollback": raw.alias = a; break;
    case "reprocess": raw.itemId = a; break;
    case "backfill": if (a) raw.prefix = a; break;
    case "approve": raw.evaluationId = a; break;
    case "reject": raw.evaluationId = a; if (args.length > 1) raw.reason = args.slice(1).join(" "); break;
    case "replay": raw.deadLetter = a; break;
    case "predict": raw.alias = a; if (b !== undefined) raw.prefix = b; break;
  }
  const parsed = CommandSchema.safeParse(raw);
  if (!parsed.success) {
    throw new CliError(`bad command "${name} ${args.join(" ")}": ${summariseIssues(parsed.error.issues)}`);
  }
  return parsed.data;
}

export async function archiveStore(config: ReturnType<typeof configFromEnv>): Promise<ObjectStore> {
  if (config.runtime === "gcp") {
    const { GcsObjectStore } = await import("../../adapters/gcp/gcs.ts");
    return new GcsObjectStore();
  }
  const { LocalObjectStore } = await import("../../adapters/store/local.ts");
  const { join } = await import("node:path");
  return new LocalObjectStore(join(config.workspace, "buckets"));
}

async function commandPublisher(config: ReturnType<typeof configFromEnv>): Promise<Publisher> {
  if (config.runtime === "gcp") {
    const { PubSubPublisher } = await import("../../adapters/gcp/pubsub.ts");
    return new PubSubPublisher({ ...(config.gcp.project ? { projectId: config.gcp.project } : {}), topicPrefix: config.gcp.topicPrefix });
  }
  // The spool is durable: the running runtime (or the next one to start) delivers it.
  const { SpoolPublisher } = await import("../../adapters/messaging/spool.ts");
  return new SpoolPublisher(config.workspace);
}


