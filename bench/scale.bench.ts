/**
 * `npm run bench -- scale`: the loop's per-step costs at 100 000 and 1 000 000 items (override with
 * SCALE_SIZES=10000,100000). For each size it creates a database `mlops_scale_<random>` on the
 * Postgres named by DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres), applies the
 * migrations, fills it with set-based SQL (bench/scale/fill.ts), times each step with the product's
 * own query functions (median of 5), and drops the database. Freezes run in a fresh child process
 * each (bench/scale/freeze-child.ts), writing to a temporary folder store, so their peak RSS is
 * the freeze's own.
 */
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import pg from "pg";
import { createPgDb } from "../shared/adapters/db/pg.ts";
import { loadConfig } from "../shared/config/load.ts";
import { applyRetention } from "../shared/core/usecases/retention.ts";
import { migrate } from "../shared/db/migrate.ts";
import { loadMigrations } from "../shared/db/migrations.ts";
import { readStatusSnapshot } from "../shared/db/queries/status.ts";
import { deliveriesOutstanding, requeueInflightDeliveries } from "../shared/runtime/local/deliveries.ts";
import type { Db } from "../shared/ports.ts";
import { fillCore, fillRecords, fillTraffic, fillTransitionDays, fillTransitions, withoutSecondaryIndexes, type FillPlan } from "./scale/fill.ts";
import { perUploadQueries } from "./scale/queries.ts";
import type { BenchResult, BenchSuite } from "./types.ts";

const execFileAsync = promisify(execFile);
const RUNS = 5;
const FREEZE_ITEMS = 10_000;
/** Members relabelled per timed freeze, as a share of its new items: each rewrites its manifest page. */
const RELABEL_SHARE = 0.01;
const PER_DAY = 10_000;
/** Retention windows (the defaults): transitions 30 days, inbox 2 days, outbox/deliveries 1 day, records 30 days. */
const WINDOW = { transitions: 30, inbox: 2, traffic: 1, records: 30 };
/** Tables whose secondary indexes are built after the bulk fill. */
const BULK_TABLES = ["items", "annotations", "item_transitions", "inbox", "outbox", "local_deliveries", "dead_letters", "notifications"];

interface SizeResult {
  items: number;
  versions: number;
  fillSeconds: number;
  snapshotMs: number;
  snapshotBeforeRetentionMs: number;
  firstFreeze: FreezeRun;
  freezes: FreezeRun[];
  queries: { name: string; ms: number }[];
  idleMs: number;
  idleBeforeRetentionMs: number;
  startMs: number;
  bytesAfter: number;
  bytesBefore: number;
  tablesAfter: { table: string; bytes: number }[];
  retention: { rows: number; seconds: number; drained: boolean };
}

interface FreezeRun {
  sqlMs: Record<string, number>;
  ms: number;
  cpuMs: number;
  peakRssBytes: number;
  items: number;
  fresh: number;
  from: string;
  pagesWritten: number;
}

const benchStarted = performance.now();
const say = (line: string) => process.stderr.write(`  [scale ${((performance.now() - benchStarted) / 1000).toFixed(0).padStart(4)} s] ${line}\n`);

export const scaleBench: BenchSuite = async () => {
  const base = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
  const sizes = (process.env.SCALE_SIZES ?? "100000,1000000").split(",").map((s) => Number(s.trim())).filter((n) => n > 0);
  const measured: SizeResult[] = [];
  for (const items of sizes) {
    const name = `mlops_scale_${randomBytes(4).toString("hex")}`;
    const admin = new pg.Client({ connectionString: base });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${name}`);
    const url = new URL(base);
    url.pathname = `/${name}`;
    const store = await mkdtemp(join(tmpdir(), "mlops-scale-"));
    try {
      measured.push(await measureSize(url.toString(), items, store));
    } finally {
      await rm(store, { recursive: true, force: true });
      if (process.env.SCALE_KEEP === "1") say(`kept database ${name} (SCALE_KEEP=1): drop it yourself`);
      else await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch((err: unknown) => say(`could not drop ${name}: ${String(err)}`));
      await admin.end();
    }
  }
  printTable(measured);
  return measured.flatMap(resultsOf);
};

async function measureSize(url: string, items: number, storeRoot: string): Promise<SizeResult> {
  const label = items >= 1e6 ? `${items / 1e6}M` : `${items / 1e3}k`;
  const log = (line: string) => say(`${label}: ${line}`);
  const versions = items >= 1_000_000 ? 100 : items >= 100_000 ? 50 : 20;
  const freezeItems = Math.min(FREEZE_ITEMS, Math.floor(items / 20));
  const plan: FillPlan = { items, versions, pool: RUNS * freezeItems, preFreeze: Math.min(1000, freezeItems), perDay: PER_DAY };
  const days = items / PER_DAY;
  const db = createPgDb({ connectionString: url, max: 2 });
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await migrate(db, loadMigrations());
    const started = performance.now();
    await withoutSecondaryIndexes(client, BULK_TABLES, async () => {
      await fillCore(client, plan, (s) => log(`filling ${s}`));
      log("filling transitions (last 30 days) and per-day counts before that");
      await fillTransitions(client, { newerThanDays: WINDOW.transitions, olderThanDays: null });
      await fillTransitionDays(client, WINDOW.transitions);
      log("filling operational rows as retention leaves them");
      await fillTraffic(client, { perDay: PER_DAY, days: Math.min(days, WINDOW.traffic), endDaysAgo: 0, prefix: "ss_" });
      await fillTraffic(client, { perDay: PER_DAY, days: Math.min(days, WINDOW.inbox) - Math.min(days, WINDOW.traffic), endDaysAgo: WINDOW.traffic, prefix: "ss2_", tables: ["inbox"] });
      await fillRecords(client, { perDay: PER_DAY, days: Math.min(days, WINDOW.records), endDaysAgo: 0 });
      log("building the indexes");
    });
    await client.query(`INSERT INTO local_deliveries (message_id, consumer, envelope, state, attempts, next_attempt_at)
                        SELECT 'retry_' || g, 'register', '{}', 'pending', 2, now() + interval '1 minute' FROM generate_series(1, 50) g`);
    await recountStates(client);
    log("VACUUM ANALYZE");
    await client.query(`VACUUM ANALYZE`);
    const fillSeconds = (performance.now() - started) / 1000;
    const tablesAfter = await tableSizes(client);
    const bytesAfter = tablesAfter.reduce((a, t) => a + t.bytes, 0);
    log(`filled in ${fillSeconds.toFixed(0)} s: ${(bytesAfter / 2 ** 30).toFixed(2)} GiB, ${(bytesAfter / items / 1024).toFixed(2)} KB per item`);

    log(`first freeze after the upgrade (${plan.preFreeze} new items; the parent's entries are rebuilt from the database)`);
    const firstFreeze = await freezeInChild(url, storeRoot);
    await client.query(`UPDATE training_runs SET state = 'succeeded' WHERE state IN ('launching', 'running')`);
    log(`  ${(firstFreeze.ms / 1000).toFixed(1)} s, ${firstFreeze.items} items, from ${firstFreeze.from}`);

    log("status snapshot");
    const snapshotMs = await median(() => readStatusSnapshot(db));
    log("per-upload queries");
    const queries = await perUploadQueries(db, client, RUNS);
    log("dispatcher idle check and start");
    const idleMs = await median(() => deliveriesOutstanding(db));
    const startMs = await median(() => requeueInflightDeliveries(db));

    const freezes: FreezeRun[] = [];
    for (let run = 0; run < RUNS; run++) {
      await client.query(`UPDATE items SET state = 'accepted', state_changed_at = now() WHERE id IN (SELECT id FROM bench_pool WHERE k > $1 AND k <= $2)`,
        [run * freezeItems, (run + 1) * freezeItems]);
      await relabelMembers(client, run, Math.round(freezeItems * RELABEL_SHARE));
      const f = await freezeInChild(url, storeRoot);
      await client.query(`UPDATE training_runs SET state = 'succeeded' WHERE state IN ('launching', 'running')`);
      log(`freeze ${run + 1}/${RUNS}: ${(f.ms / 1000).toFixed(2)} s (Node CPU ${(f.cpuMs / 1000).toFixed(1)} s), peak RSS ${(f.peakRssBytes / 2 ** 20).toFixed(0)} MB, ${f.fresh} new or relabelled → ${f.items} items, ${f.pagesWritten} pages written, from ${f.from}`);
      log(`  slowest statements (ms): ${JSON.stringify(f.sqlMs)}`);
      freezes.push(f);
    }

    if (process.env.SCALE_SKIP_HISTORY === "1") {
      return {
        items, versions, fillSeconds, snapshotMs, snapshotBeforeRetentionMs: Number.NaN, firstFreeze, freezes, queries, idleMs, idleBeforeRetentionMs: Number.NaN, startMs,
        bytesAfter, bytesBefore: Number.NaN, tablesAfter, retention: { rows: 0, seconds: 1, drained: false },
      };
    }
    log("adding the history retention deletes (old transitions, inbox/outbox/deliveries, records)");
    await client.query(`TRUNCATE item_transition_days`);
    await withoutSecondaryIndexes(client, BULK_TABLES, async () => {
      await fillTransitions(client, { newerThanDays: null, olderThanDays: WINDOW.transitions });
      await fillTraffic(client, { perDay: PER_DAY, days: days - Math.min(days, WINDOW.traffic), endDaysAgo: WINDOW.traffic, prefix: "h_", tables: ["outbox", "deliveries"] });
      await fillTraffic(client, { perDay: PER_DAY, days: days - Math.min(days, WINDOW.inbox), endDaysAgo: WINDOW.inbox, prefix: "h_", tables: ["inbox"] });
      await fillRecords(client, { perDay: PER_DAY, days: days - Math.min(days, WINDOW.records), endDaysAgo: WINDOW.records });
      log("building the indexes");
    });
    await client.query(`VACUUM ANALYZE`);
    const bytesBefore = (await tableSizes(client)).reduce((a, t) => a + t.bytes, 0);
    log(`before retention: ${(bytesBefore / 2 ** 30).toFixed(2)} GiB, ${(bytesBefore / items / 1024).toFixed(2)} KB per item`);
    const snapshotBeforeRetentionMs = await median(() => readStatusSnapshot(db));
    const idleBeforeRetentionMs = await median(() => deliveriesOutstanding(db));

    const retention = await runRetention(db, Number(process.env.SCALE_RETENTION_SECONDS ?? 60), log);
    return {
      items, versions, fillSeconds, snapshotMs, snapshotBeforeRetentionMs, firstFreeze, freezes, queries, idleMs, idleBeforeRetentionMs, startMs,
      bytesAfter, bytesBefore, tablesAfter, retention,
    };
  } finally {
    await client.end();
    await db.close();
  }
}

/** Retention as reconcile runs it (defaults, bigger batches), for at most `seconds`. */
async function runRetention(db: Db, seconds: number, log: (s: string) => void): Promise<SizeResult["retention"]> {
  const config = loadConfig({ RETENTION_BATCH_SIZE: "5000", RETENTION_MAX_BATCHES: "20" });
  const started = performance.now();
  let rows = 0;
  let drained = false;
  while ((performance.now() - started) / 1000 < seconds) {
    const deleted = Object.values(await applyRetention({ db, config })).reduce((a, b) => a + b, 0);
    rows += deleted;
    if (deleted === 0) {
      drained = true;
      break;
    }
  }
  const elapsed = (performance.now() - started) / 1000;
  log(`retention deleted ${rows} rows in ${elapsed.toFixed(0)} s (${Math.round(rows / elapsed)} rows/s)${drained ? ", all expired rows gone" : ", stopped at the time cap"}`);
  return { rows, seconds: elapsed, drained };
}

/**
 * `count` current members spread over the whole line get a newer accepted label (with its
 * exports, as poll records them) and go back to `accepted`: the next freeze replaces their entries.
 */
async function relabelMembers(client: pg.Client, run: number, count: number): Promise<void> {
  if (count <= 0) return;
  await client.query(
    `CREATE TEMP TABLE bench_relabel AS
     SELECT m.item_id, m.annotation_id FROM dataset_members m JOIN items i ON i.id = m.item_id
     WHERE m.line = 'default' AND m.removed_seq IS NULL AND i.state = 'in_dataset'
     ORDER BY md5(m.item_id || $1::text) LIMIT $2`,
    [`relabel-${run}`, count],
  );
  await client.query(
    `INSERT INTO annotations (id, item_id, backend, label_id, annotator, edited_at, canonical, canonical_sha256, verdict, reasons, received_at, exports)
     SELECT 'an_rl' || $1::text || '_' || substr(md5(r.item_id), 1, 16), a.item_id, a.backend, a.label_id, a.annotator, now(), a.canonical,
       md5(r.item_id || $1::text) || md5(r.item_id), 'accepted', '[]'::jsonb, now(),
       jsonb_build_object(
         'label', jsonb_build_object('uri', 'gs://datasets/labels/' || md5('l' || r.item_id || $1::text) || md5(r.item_id) || '.json', 'sha256', md5('l' || r.item_id || $1::text) || md5(r.item_id)),
         'yolo', jsonb_build_object('uri', 'gs://datasets/exports/yolo/' || md5('y' || r.item_id || $1::text) || md5(r.item_id) || '.txt', 'sha256', md5('y' || r.item_id || $1::text) || md5(r.item_id)),
         'mask', jsonb_build_object('uri', 'gs://datasets/exports/masks/' || md5('k' || r.item_id || $1::text) || md5(r.item_id) || '.png', 'sha256', md5('k' || r.item_id || $1::text) || md5(r.item_id)))
     FROM bench_relabel r JOIN annotations a ON a.id = r.annotation_id`,
    [String(run)],
  );
  await client.query(`UPDATE items SET state = 'accepted', state_changed_at = now() WHERE id IN (SELECT item_id FROM bench_relabel)`);
  await client.query(`DROP TABLE bench_relabel`);
}

async function freezeInChild(url: string, storeRoot: string): Promise<FreezeRun> {
  const child = fileURLToPath(new URL("./scale/freeze-child.ts", import.meta.url));
  const { stdout } = await execFileAsync(process.execPath, ["--import", "tsx", child, storeRoot], {
    env: { ...process.env, DATABASE_URL: url, LOG_LEVEL: "warn" }, maxBuffer: 1 << 20, timeout: 30 * 60_000,
  });
  const run = JSON.parse(stdout.trim().split("\n").pop()!) as FreezeRun & { status: string; detail?: string };
  if (run.status !== "done") throw new Error(`freeze did not run: ${run.status} ${run.detail ?? ""}`);
  return run;
}

async function recountStates(c: pg.ClientBase): Promise<void> {
  // The fill bypassed the triggers; the counters start from the filled rows, as migration 0007 does.
  await c.query(`DELETE FROM item_state_counts`);
  await c.query(
    `INSERT INTO item_state_counts (state, shard, current, reached)
     SELECT s.state, 0, coalesce(c.n, 0), coalesce(r.n, 0)
     FROM (SELECT DISTINCT unnest(reached_states) AS state FROM items) s
     LEFT JOIN (SELECT state, count(*) AS n FROM items GROUP BY state) c ON c.state = s.state
     LEFT JOIN (SELECT unnest(reached_states) AS state, count(*) AS n FROM items GROUP BY 1) r ON r.state = s.state`,
  );
}

async function tableSizes(c: pg.ClientBase): Promise<{ table: string; bytes: number }[]> {
  const { rows } = await c.query<{ table: string; bytes: string }>(
    `SELECT c.relname AS table, pg_total_relation_size(c.oid) AS bytes FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = 'public' AND c.relkind = 'r' AND c.relname NOT IN ('bench_pool') ORDER BY 2 DESC`,
  );
  return rows.map((r) => ({ table: r.table, bytes: Number(r.bytes) }));
}

export async function median(fn: () => Promise<unknown>, runs = RUNS): Promise<number> {
  await fn(); // warm-up: plan caches, buffers
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    await fn();
    times.push(performance.now() - t);
  }
  return times.sort((a, b) => a - b)[Math.floor(times.length / 2)]!;
}

const mid = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const kb = (bytes: number, items: number) => bytes / items / 1024;
const sizeName = (n: number) => (n >= 1e6 ? `${n / 1e6}M` : `${n / 1e3}k`);

function printTable(results: SizeResult[]): void {
  const rows: [string, ...string[]][] = [
    ["status snapshot (dashboard, `mlops status`)", ...results.map((r) => `${r.snapshotMs.toFixed(1)} ms`), "≤ 100 ms"],
    ["  … with the history retention deletes still there", ...results.map((r) => `${r.snapshotBeforeRetentionMs.toFixed(1)} ms`), ""],
    ["freezing 10 000 new items (+1 % relabelled), end to end", ...results.map((r) => `${(mid(r.freezes.map((f) => f.ms)) / 1000).toFixed(2)} s`), "≤ 5 s"],
    ["  peak RSS of the freezing process", ...results.map((r) => `${(Math.max(...r.freezes.map((f) => f.peakRssBytes)) / 2 ** 20).toFixed(0)} MB`), "≤ 300 MB"],
    ["  items in the versions frozen", ...results.map((r) => `${r.freezes[0]!.items}–${r.freezes[r.freezes.length - 1]!.items}`), ""],
    ["first freeze after the upgrade (rebuilt from the database)", ...results.map((r) => `${(r.firstFreeze.ms / 1000).toFixed(1)} s, ${(r.firstFreeze.peakRssBytes / 2 ** 20).toFixed(0)} MB`), "once"],
    ...(results[0]?.queries ?? []).map((q, i): [string, ...string[]] => [`per upload: ${q.name}`, ...results.map((r) => `${r.queries[i]!.ms.toFixed(2)} ms`), "≤ 2 ms"]),
    ["local dispatcher idle() / start()", ...results.map((r) => `${r.idleMs.toFixed(2)} / ${r.startMs.toFixed(2)} ms`), "≤ 5 ms"],
    ["  idle() with the history retention deletes still there", ...results.map((r) => `${r.idleBeforeRetentionMs.toFixed(2)} ms`), ""],
    ["storage per item, retention applied", ...results.map((r) => `${kb(r.bytesAfter, r.items).toFixed(2)} KB`), "≤ 6 KB, flat"],
    ["storage per item, nothing deleted", ...results.map((r) => `${kb(r.bytesBefore, r.items).toFixed(2)} KB`), ""],
    ["retention deletes (batched, as reconcile runs it)", ...results.map((r) => `${Math.round(r.retention.rows / r.retention.seconds)} rows/s`), ""],
    ["fill time (set-based SQL)", ...results.map((r) => `${r.fillSeconds.toFixed(0)} s`), ""],
  ];
  const header: [string, ...string[]] = ["step", ...results.map((r) => `${sizeName(r.items)} (${r.versions} versions)`), "target"];
  const widths = header.map((_, i) => Math.max(...[header, ...rows].map((r) => (r[i] ?? "").length)));
  const line = (r: string[]) => `| ${r.map((c, i) => c.padEnd(widths[i]!)).join(" | ")} |`;
  console.log(`\n${line(header)}\n|${widths.map((w) => "-".repeat(w + 2)).join("|")}|\n${rows.map(line).join("\n")}`);
  for (const r of results) {
    console.log(`\nlargest tables at ${sizeName(r.items)}, retention applied (bytes per item):`);
    console.log(r.tablesAfter.slice(0, 8).map((t) => `  ${t.table.padEnd(24)} ${(t.bytes / r.items).toFixed(0).padStart(6)} B  ${(t.bytes / 2 ** 20).toFixed(0)} MiB`).join("\n"));
  }
}

function resultsOf(r: SizeResult): BenchResult[] {
  const at = sizeName(r.items);
  const freezeMs = mid(r.freezes.map((f) => f.ms));
  const rss = Math.max(...r.freezes.map((f) => f.peakRssBytes)) / 2 ** 20;
  const worstQuery = r.queries.filter((q) => !q.name.startsWith("(")).reduce((a, b) => (b.ms > a.ms ? b : a));
  const perItemKb = kb(r.bytesAfter, r.items);
  return [
    { name: `scale ${at}: status snapshot`, value: round(r.snapshotMs), unit: "ms", target: "≤ 100 ms", pass: r.snapshotMs <= 100 },
    { name: `scale ${at}: freeze of 10k new items`, value: round(freezeMs / 1000), unit: "s", target: "≤ 5 s", pass: freezeMs <= 5000 },
    { name: `scale ${at}: freeze peak RSS`, value: Math.round(rss), unit: "MB", target: "≤ 300 MB", pass: rss <= 300 },
    { name: `scale ${at}: slowest per-upload query`, value: round(worstQuery.ms), unit: "ms", target: "≤ 2 ms", pass: worstQuery.ms <= 2, note: worstQuery.name },
    { name: `scale ${at}: dispatcher idle check`, value: round(r.idleMs), unit: "ms", target: "≤ 5 ms", pass: r.idleMs <= 5 },
    { name: `scale ${at}: storage per item`, value: round(perItemKb), unit: "KB", target: "≤ 6 KB", pass: perItemKb <= 6 },
  ];
}

const round = (v: number) => Math.round(v * 100) / 100;
