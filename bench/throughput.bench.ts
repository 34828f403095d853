import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { startLocalRuntime } from "../shared/runtime/local.ts";
import { makeDemoProduct } from "../shared/adapters/demo/products.ts";
import type { BenchResult, BenchSuite } from "./types.ts";

const UPLOADS = 200;
const TARGET_PER_SECOND = 50;

/**
 * Local-runtime throughput from upload to `registered`: 200 small product zips dropped into the
 * archive folder at once; the clock runs from the first write until every item is registered
 * (watcher → ingest/normalise → outbox → register in batches), on the embedded PGlite.
 */
export const throughputBench: BenchSuite = async () => {
  const workspace = mkdtempSync(join(tmpdir(), "mlops-bench-"));
  const runtime = await startLocalRuntime({
    serve: false,
    timers: false,
    say: () => undefined,
    env: { ...process.env, DATABASE_URL: undefined, MLOPS_WORKSPACE: workspace, LOG_LEVEL: "error" },
  });
  try {
    const zips = Array.from({ length: UPLOADS }, (_, i) =>
      makeDemoProduct({ seed: 5000 + i, width: 64, height: 64, name: `bench-${String(i).padStart(4, "0")}` }),
    );
    const started = performance.now();
    await Promise.all(zips.map((p) => runtime.store.put(`gs://archive/bench/${p.name}.zip`, p.zip)));
    runtime.watcher.kick();
    let registered = 0;
    while (registered < UPLOADS) {
      await new Promise((r) => setTimeout(r, 20));
      registered = (await runtime.deps.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM items WHERE state = 'registered'`)).rows[0]!.n;
      if (performance.now() - started > 300_000) break;
    }
    const seconds = (performance.now() - started) / 1000;
    const calls = (await runtime.deps.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM outbox WHERE type = 'items.registered'`)).rows[0]!.n;
    const rate = registered / seconds;
    const phases = (await runtime.deps.db.query<{ to_state: string; first: Date; last: Date }>(
      `SELECT to_state, min(at) AS first, max(at) AS last FROM item_transitions GROUP BY to_state`,
    )).rows;
    if (process.env.BENCH_VERBOSE) {
      const t0 = Date.now() - (performance.now() - started);
      for (const p of phases) console.error(p.to_state, ((p.first.getTime() - t0) / 1000).toFixed(2), ((p.last.getTime() - t0) / 1000).toFixed(2));
    }
    const results: BenchResult[] = [
      {
        name: `local runtime: upload → registered (${UPLOADS} products, 64×64×4)`,
        value: Number(rate.toFixed(1)),
        unit: "items/s",
        target: `≥ ${TARGET_PER_SECOND} items/s`,
        pass: registered === UPLOADS && rate >= TARGET_PER_SECOND,
        note: `${registered}/${UPLOADS} in ${seconds.toFixed(2)} s, ${calls} registration batches`,
      },
    ];
    return results;
  } finally {
    await runtime.stop();
    rmSync(workspace, { recursive: true, force: true });
  }
};

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  for (const r of await throughputBench()) console.log(JSON.stringify(r));
}
