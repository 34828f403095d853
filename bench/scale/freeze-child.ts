/**
 * Child process of the scale benchmark: one `threshold` run that freezes the accepted items into a
 * new dataset version, end to end (manifest streamed to a local store, membership and item states
 * in one transaction, the training run claimed and launched on a stand-in job runner). Prints one
 * JSON line with the wall time, CPU time and this process's peak RSS, so the peak is the freeze's.
 *
 *   DATABASE_URL=… node --import tsx bench/scale/freeze-child.ts <store root>
 */
import { memoryLogger, randomIds, systemClock } from "../../shared/adapters/basics.ts";
import { createPgDb } from "../../shared/adapters/db/pg.ts";
import { LocalObjectStore } from "../../shared/adapters/store/local.ts";
import { loadConfig } from "../../shared/config/load.ts";
import { checkThreshold } from "../../shared/core/usecases/threshold.ts";
import type { Db, Deps, JobRunner, Publisher, Queryable } from "../../shared/ports.ts";
import { peakRssBytes } from "../peak-rss.ts";

/** Time spent per statement (by its first words), to see where a freeze waits on the database. */
const sqlMs = new Map<string, number>();
function timedQueryable<T extends Queryable>(q: T): T {
  return {
    ...q,
    async query(text: string, params?: readonly unknown[]) {
      const t = performance.now();
      try {
        return await q.query(text, params);
      } finally {
        const key = text.replace(/\s+/g, " ").trim().slice(0, 60);
        sqlMs.set(key, (sqlMs.get(key) ?? 0) + performance.now() - t);
      }
    },
  } as T;
}
function timed(db: Db): Db {
  return { ...timedQueryable(db), kind: db.kind, close: () => db.close(), transaction: (fn) => db.transaction((tx) => fn(timedQueryable(tx))) };
}

const [root] = process.argv.slice(2);
if (!root || !process.env.DATABASE_URL) {
  process.stderr.write("usage: DATABASE_URL=… freeze-child.ts <store root>\n");
  process.exit(2);
}
const config = loadConfig({ MLOPS_WORKSPACE: root, DATABASE_URL: process.env.DATABASE_URL, THRESHOLD_N: "1", THRESHOLD_M: "1" });
const db = timed(createPgDb({ connectionString: process.env.DATABASE_URL, max: 2 }));
const jobs: JobRunner = {
  launch: async (r) => ({ executionName: `bench-${r.runId}` }),
  status: async () => ({ state: "running", timedOut: false, message: null, finishedAt: null }),
  cancel: async () => undefined,
};
const publisher: Publisher = { publish: async () => undefined };
const log = memoryLogger();
const deps: Deps = {
  config, db, store: new LocalObjectStore(root), publisher, jobs, clock: systemClock, ids: randomIds, log,
  notifier: { post: async () => undefined },
  backend: async () => { throw new Error("no annotation backend in the benchmark"); },
  normaliser: async () => { throw new Error("no normaliser in the benchmark"); },
  codec: async () => (await import("../../shared/adapters/imaging/codec.ts")).sharpCodec,
};

const rssBeforeBytes = process.memoryUsage().rss;
const started = performance.now();
const cpu = process.cpuUsage();
const outcome = await checkThreshold(null, deps, true);
const ms = performance.now() - started;
const used = process.cpuUsage(cpu);
const frozen = log.entries.find((e) => e.message === "dataset version frozen")?.fields ?? {};
process.stdout.write(`${JSON.stringify({
  ms, cpuMs: (used.user + used.system) / 1000, peakRssBytes: peakRssBytes(), rssBeforeBytes,
  status: outcome.status, detail: outcome.detail, items: frozen.items, fresh: frozen.fresh, from: frozen.from, pagesWritten: frozen.pagesWritten,
  sqlMs: Object.fromEntries([...sqlMs].sort((a, b) => b[1] - a[1]).slice(0, 8).map(([k, v]) => [k, Math.round(v)])),
})}\n`);
await db.close();
