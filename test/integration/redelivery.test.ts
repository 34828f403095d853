import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { handleDelivery } from "../../shared/core/delivery.ts";
import { createPrng, type Prng } from "../../shared/core/demo/prng.ts";
import { objectUri } from "../../shared/core/uri.ts";
import { DemoDriver } from "../../shared/demo/driver.ts";
import type { ConsumerName } from "../../shared/messages/topics.ts";
import { startLocalRuntime, type LocalRuntime } from "../../shared/runtime/local.ts";
import type { AnnotationBackend } from "../../shared/ports.ts";
import { createTestDb, testDbKind } from "../helpers/db.ts";
import { checkLoopInvariants, type LoopCheck } from "../helpers/loop-invariants.ts";
import { makeCollisionUploads, type CollisionUpload } from "../../scripts/make-collision-uploads.ts";

/**
 * At-least-once delivery at its worst: the whole loop runs with every message delivered 10 times,
 * the copies shuffled across rounds (a copy may arrive long after later messages), 50 deliveries
 * at once — as Pub/Sub does with many function instances. The uploads include names that collide
 * (seven products that each hold `L1B.tif`, images whose names sanitise alike, one product under
 * two names). Afterwards nothing is duplicated (items, tasks, registrations, annotations, dataset
 * versions, runs, job launches, evaluations, decisions, alias moves) and nothing is lost.
 */
const PRODUCTS = 6;
const COPIES = 10;
const AT_ONCE = 50;

interface Copy {
  consumer: ConsumerName;
  envelope: unknown;
  due: number;
}

describe(`every message delivered ${COPIES} times, shuffled, ${AT_ONCE} at once (${testDbKind})`, () => {
  let workspace: string;
  let runtime: LocalRuntime;
  let uploads: CollisionUpload[];
  const registrations = new Map<string, number>();
  const launches = new Map<string, number>();
  let deliveries = 0;
  let check: LoopCheck;

  beforeAll(async () => {
    workspace = mkdtempSync(join(tmpdir(), "mlops-redelivery-"));
    runtime = await startLocalRuntime({
      db: await createTestDb(),
      serve: false,
      timers: false,
      say: () => undefined,
      env: {
        ...process.env,
        DATABASE_URL: undefined,
        MLOPS_WORKSPACE: workspace,
        LOG_LEVEL: "warn",
        THRESHOLD_N: String(PRODUCTS),
        THRESHOLD_M: String(PRODUCTS),
        EVAL_SPLIT_PERCENT: "40",
        REGISTER_BATCH_WINDOW_SECONDS: "0",
        TRAIN_PARAMS: JSON.stringify({ epochs: 4, samplesPerImage: 800 }),
        PROMOTION_POLICY: JSON.stringify({ min_eval_items: 1, primary_metric: { name: "mIoU", threshold: 0.05 } }),
      },
    });
    // The test is Pub/Sub from here on: the runtime's own dispatcher stays out of the way.
    await runtime.dispatcher.stop();
    countCalls(runtime, registrations, launches);

    uploads = await makeCollisionUploads();
    for (const u of uploads) await runtime.store.put(objectUri(runtime.config.buckets.archive, `uploads/${u.name}`), u.bytes);
    const demo = new DemoDriver(
      { ...runtime.deps, store: runtime.store, say: () => undefined },
      { products: PRODUCTS, size: 40, uploadIntervalMs: 10, badLabelShare: 0.3, labelDelayMs: [10, 50], corruptUploads: false, seed: 5 },
    );
    await demo.start();

    const rng = createPrng(20261203);
    const queue: Copy[] = [];
    // Rounds until everything has settled: no wall-clock deadline (a busy machine only makes it
    // slower); the hook timeout below is the hang guard. Once the loop looks settled, the ticks
    // stop and the copies still queued are delivered (ticks every third round would keep the queue
    // from ever emptying); if those change anything, the ticks resume.
    let draining = false;
    for (let round = 0; ; round++) {
      if (!draining && round % 3 === 0) {
        await runtime.publish("poll.tick", { reason: "schedule" });
        await runtime.publish("reconcile.tick", { reason: "schedule" });
      }
      for (const row of await takePending(runtime)) {
        for (let k = 0; k < COPIES; k++) queue.push({ ...row, due: round + rng.int(4) });
      }
      const due = shuffle(queue.filter((c) => c.due <= round), rng);
      queue.splice(0, queue.length, ...queue.filter((c) => c.due > round));
      for (let i = 0; i < due.length; i += AT_ONCE) {
        const batch = due.slice(i, i + AT_ONCE);
        const results = await Promise.allSettled(batch.map((c) => handleDelivery(c.consumer, c.envelope, runtime.deps)));
        deliveries += batch.length;
        // A transient failure is redelivered later, as Pub/Sub does.
        results.forEach((r, k) => r.status === "rejected" && queue.push({ ...batch[k]!, due: round + 1 + rng.int(3) }));
      }
      if (!draining) draining = await settled(runtime);
      else if (queue.length === 0) {
        if (await settled(runtime)) break;
        draining = false;
      }
      await new Promise((r) => setTimeout(r, 150));
    }
    demo.stop();
    check = await checkLoopInvariants(runtime.deps.db, runtime.store, runtime.config);
  }, 1_500_000);

  afterAll(async () => {
    await runtime?.stop();
    rmSync(workspace, { recursive: true, force: true });
  });

  it("reaches a promotion", async () => {
    const moves = await runtime.deps.db.query<{ alias: string }>(`SELECT alias FROM alias_moves`);
    expect(moves.rows).toEqual([{ alias: "staging" }]);
    expect(deliveries).toBeGreaterThan(COPIES * 20);
  });

  it("loses, duplicates and mixes up nothing", () => {
    expect(check.problems, JSON.stringify(check.counts)).toEqual([]);
    expect(check.counts.items).toBe(PRODUCTS + uploads.length);
  });

  it("registers every item with the backend once, and launches every job attempt once", async () => {
    expect([...registrations.entries()].filter(([, n]) => n !== 1)).toEqual([]);
    const registered = await runtime.deps.db.query<{ id: string }>(`SELECT id FROM items WHERE backend IS NOT NULL`);
    expect(new Set(registrations.keys())).toEqual(new Set(registered.rows.map((r) => r.id)));
    const attempts = await runtime.deps.db.query<{ id: string; attempt: number }>(`SELECT id, attempt FROM training_runs UNION ALL SELECT id, attempt FROM evaluations`);
    expect(Object.fromEntries(launches)).toEqual(Object.fromEntries(attempts.rows.map((r) => [r.id, r.attempt])));
  });

  it("gives every colliding upload its own item and images, and one duplicate for the repeated bytes", async () => {
    const items = await runtime.deps.db.query<{ source_name: string; state: string; width: number; height: number }>(
      `SELECT source_name, state, width, height FROM items WHERE source_name LIKE 'uploads/%'`);
    const byName = new Map(items.rows.map((r) => [r.source_name.slice("uploads/".length), r]));
    const live = new Map<string, string>();
    for (const u of uploads) {
      const item = byName.get(u.name);
      expect(item, u.name).toBeDefined();
      live.set(u.content, live.get(u.content) ?? u.name);
      if (item!.state === "duplicate") continue;
      expect(item, u.name).toMatchObject({ width: u.width, height: u.height, state: "registered" });
    }
    // Of the uploads sharing bytes, exactly one is live and the others are duplicates of it.
    const duplicates = items.rows.filter((r) => r.state === "duplicate");
    expect(duplicates).toHaveLength(uploads.length - live.size);
  });
});

/** Wraps the backend and job runner to count what they were asked to do, per item and per run. */
function countCalls(runtime: LocalRuntime, registrations: Map<string, number>, launches: Map<string, number>): void {
  const load = runtime.deps.backend;
  let wrapped: Promise<AnnotationBackend> | null = null;
  runtime.deps.backend = () =>
    (wrapped ??= load().then((backend) => ({
      ...backend,
      name: backend.name,
      register: async (requests) => {
        const results = await backend.register(requests);
        for (const r of results) if (r.ok) registrations.set(r.itemId, (registrations.get(r.itemId) ?? 0) + 1);
        return results;
      },
    })));
  const launch = runtime.jobs.launch.bind(runtime.jobs);
  runtime.jobs.launch = async (request) => {
    launches.set(request.runId, (launches.get(request.runId) ?? 0) + 1);
    return launch(request);
  };
}

/** What the runtime published since the last round, taken off its delivery table. */
async function takePending(runtime: LocalRuntime): Promise<{ consumer: ConsumerName; envelope: unknown }[]> {
  await runtime.spool.drain();
  const { rows } = await runtime.deps.db.query<{ consumer: ConsumerName; envelope: unknown }>(
    `UPDATE local_deliveries SET state = 'done', attempts = attempts + 1, updated_at = now() WHERE state = 'pending' RETURNING consumer, envelope`,
  );
  return rows;
}

async function settled(runtime: LocalRuntime): Promise<boolean> {
  if (runtime.jobs.runningCount() > 0) return false;
  const { rows } = await runtime.deps.db.query<{ moves: number; waiting: number; inflight: number }>(
    `SELECT (SELECT count(*)::int FROM alias_moves) AS moves,
            (SELECT count(*)::int FROM items WHERE state IN ('seen', 'normalised', 'annotated', 'accepted') OR (state = 'rejected' AND source_name LIKE 'demo/%')) AS waiting,
            (SELECT count(*)::int FROM training_runs WHERE state IN ('launching', 'running')) + (SELECT count(*)::int FROM evaluations WHERE state IN ('launching', 'running')) AS inflight`,
  );
  const s = rows[0]!;
  return s.moves > 0 && s.waiting === 0 && s.inflight === 0;
}

function shuffle<T>(items: T[], rng: Prng): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
  return items;
}
