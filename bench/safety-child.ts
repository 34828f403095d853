/**
 * Child process of the safety benchmark: one upload through the real ingest path, in a process of
 * its own, so its peak RSS is that upload's. The folder object store, the real normaliser and the
 * ingest use case via handleDelivery, on Postgres (DATABASE_URL, in the schema BENCH_DB_SCHEMA the
 * parent migrated) or the workspace's PGlite (a copy of a data directory the parent migrated). The peak-RSS mark is reset once the database is open, so the number is
 * what the function holds while ingesting: Node, the database client, the imaging modules (loaded
 * by ingest itself, as in a cold function) and the upload.
 *
 *   node --import tsx bench/safety-child.ts <workspace> <file> <object name>
 *
 * Prints one JSON line: { state, reason, wallMs, peakRssBytes, baselineRssBytes }.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { memoryLogger, randomIds, systemClock } from "../shared/adapters/basics.ts";
import { LocalObjectStore } from "../shared/adapters/store/local.ts";
import { loadConfig } from "../shared/config/load.ts";
import { handleDelivery } from "../shared/core/delivery.ts";
import { itemIdFor } from "../shared/core/usecases/ingest.ts";
import { getItem } from "../shared/db/queries/items.ts";
import { buildEnvelope } from "../shared/messages/build.ts";
import type { Db, Deps, JobRunner } from "../shared/ports.ts";
import { createPgDb } from "../shared/adapters/db/pg.ts";
import { createPgliteDb } from "../shared/adapters/db/pglite.ts";
import { join } from "node:path";

const [workspace, file, name] = process.argv.slice(2);
if (!workspace || !file || !name) {
  process.stderr.write("usage: safety-child.ts <workspace> <file> <object name>\n");
  process.exit(2);
}

/** Resident set now and its high-water mark, from /proc (Linux), in bytes. */
function rss(): { now: number; peak: number } {
  const status = readFileSync("/proc/self/status", "utf8");
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? NaN) * 1024;
  return { now: kb("VmRSS"), peak: kb("VmHWM") };
}

const config = loadConfig({ ...process.env, MLOPS_WORKSPACE: workspace, LOG_LEVEL: "error" });
const schema = process.env.BENCH_DB_SCHEMA;
const db: Db = config.db.url ? createPgDb({ connectionString: config.db.url, max: 2, ...(schema ? { schema } : {}) }) : await createPgliteDb(join(workspace, "pgdata"));
const store = new LocalObjectStore(join(workspace, "buckets"));
const info = await store.upload(file, `gs://${config.buckets.archive}/${name}`);
const unused = (what: string) => async () => {
  throw new Error(`${what} is not used by ingest`);
};
const deps: Deps = {
  config,
  db,
  store,
  publisher: { publish: async () => undefined },
  backend: unused("the annotation backend"),
  jobs: { launch: unused("jobs"), status: unused("jobs"), cancel: unused("jobs") } as unknown as JobRunner,
  notifier: { post: async () => undefined },
  normaliser: async () => (await import("../shared/adapters/imaging/normaliser.ts")).createNormaliser(),
  codec: async () => (await import("../shared/adapters/imaging/codec.ts")).sharpCodec,
  clock: systemClock,
  ids: randomIds,
  log: memoryLogger(),
};
const message = buildEnvelope("object.finalized", { bucket: info.bucket, name: info.name, generation: info.generation, size: String(info.size) }, {
  id: `bench:${name}`,
  occurredAt: new Date(),
});

// Writing 5 to clear_refs resets VmHWM to the current RSS (Linux ≥ 4.0): the peak below is ingest's.
let resetPeak = true;
try {
  writeFileSync("/proc/self/clear_refs", "5");
} catch {
  resetPeak = false;
}
const baseline = rss().now;
const started = performance.now();
let outcome: string;
try {
  outcome = (await handleDelivery("ingest", message, deps)).status;
} catch (err) {
  outcome = `threw: ${(err as Error).message}`;
}
const wallMs = performance.now() - started;
const { peak } = rss();
const item = await getItem(db, itemIdFor(info.bucket, info.name, info.generation));
await db.close();
const reason = item?.error ? item.error.split(":")[0] : null;
process.stdout.write(
  `${JSON.stringify({ state: item?.state ?? "none", reason, error: item?.error ?? null, outcome, wallMs, peakRssBytes: peak, baselineRssBytes: baseline, resetPeak })}\n`,
);
