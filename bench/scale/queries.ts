import type pg from "pg";
import { latestAnnotation, processedLabelRevisions } from "../../shared/db/queries/annotations.ts";
import {
  claimContent, claimItemsForRegistration, claimTitle, findAcceptedDuplicate, findItemForLabel, freshAcceptedStats, getItem, getItemBySource, insertItemIfAbsent,
  releaseRegistrationClaim, transitionItem,
} from "../../shared/db/queries/items.ts";
import { claimInbox, enqueueOutbox } from "../../shared/db/queries/messaging.ts";
import { buildEnvelope } from "../../shared/messages/build.ts";
import { LocalDeliveriesPublisher } from "../../shared/runtime/local/deliveries.ts";
import type { Db, Queryable } from "../../shared/ports.ts";

interface Sample {
  id: string;
  product_name: string;
  backend_ref: string;
  content_sha256: string;
  source_name: string;
  source_generation: string;
}

/**
 * The statements one upload runs on its way through the loop (ingest, register, poll, threshold,
 * the local dispatcher), each timed through the product's own query function: median of `runs`
 * after a warm-up, each run on another item. Each runs in a transaction, as the use cases run
 * them, and the time is the statement's: the commit (a WAL flush, the disk's latency, paid once per
 * transaction however many statements it holds) is measured once, on its own.
 */
export async function perUploadQueries(db: Db, client: pg.ClientBase, runs: number): Promise<{ name: string; ms: number }[]> {
  const { rows: samples } = await client.query<Sample>(
    `SELECT id, product_name, backend_ref, content_sha256, source_name, source_generation FROM items
     WHERE state = 'in_dataset' AND id > 'it_8' ORDER BY id LIMIT $1`, [runs + 1]);
  const { rows: labels } = await client.query<{ item_id: string; backend: string; label_id: string; edited_at: Date }>(
    `SELECT item_id, backend, label_id, edited_at FROM annotations WHERE item_id = ANY($1::text[])`, [samples.map((s) => s.id)]);
  const tag = Math.random().toString(36).slice(2, 8);
  const publisher = new LocalDeliveriesPublisher(db);
  const steps: [string, (k: number, s: Sample, db: Queryable) => Promise<unknown>][] = [
    ["ingest: insertItemIfAbsent (new upload)", (k, _s, db) => insertItemIfAbsent(db, { id: `it_bench_${tag}_${k}`, bucket: "archive", name: `bench/${tag}/${k}.zip`, generation: "1", size: 1, productName: `bench_${tag}_${k}` })],
    ["ingest: getItemBySource (redelivery)", (_k, s, db) => getItemBySource(db, "archive", s.source_name, s.source_generation)],
    ["ingest: transitionItem seen → normalised", (k, _s, db) => transitionItem(db, `it_bench_${tag}_${k}`, ["seen"], "normalised", { product_name: `bench_${tag}_${k}` }, "normalised")],
    ["ingest: claimContent (one live item per SHA-256)", (k, _s, db) => claimContent(db, `${tag}${String(k).padStart(8, "0")}`.padEnd(64, "0"), `it_bench_${tag}_${k}`)],
    ["ingest: claimTitle (unique folder and title)", (k, _s, db) => claimTitle(db, `it_bench_${tag}_${k}`, [`bench_${tag}_${k}`])],
    ["ingest: claimInbox", (k, _s, db) => claimInbox(db, "ingest", `msg_bench_${tag}_${k}`)],
    ["ingest: enqueueOutbox", (k, _s, db) => enqueueOutbox(db, buildEnvelope("item.normalised", { itemId: `it_bench_${tag}_${k}` }, { id: `msg_out_${tag}_${k}`, occurredAt: new Date() }), "item-normalised", { sent: true })],
    ["dispatcher: publishWithin (delivery rows)", (k, _s, db) => publisher.publishWithin(db, [buildEnvelope("item.normalised", { itemId: `it_bench_${tag}_${k}` }, { id: `msg_dl_${tag}_${k}`, occurredAt: new Date() })])],
    ["register: claimItemsForRegistration, per item claimed", async (k, _s, db) => {
      const t = performance.now();
      const claimed = await claimItemsForRegistration(db, `tok_${tag}_${k}`, 1000, 60);
      const perItem = (performance.now() - t) / Math.max(1, claimed.length);
      await releaseRegistrationClaim(db, `tok_${tag}_${k}`, claimed.map((i) => i.id));
      return { perItem };
    }],
    ["poll: processedLabelRevisions", (k, _s, db) => processedLabelRevisions(db, labels[k]!.backend, [{ labelId: labels[k]!.label_id, editedAt: labels[k]!.edited_at.toISOString() }])],
    ["poll: getItem", (_k, s, db) => getItem(db, s.id)],
    ["poll: findItemForLabel by backend ref", (_k, s, db) => findItemForLabel(db, { backendRef: s.backend_ref, title: null })],
    ["poll: findItemForLabel by title", (_k, s, db) => findItemForLabel(db, { backendRef: null, title: s.product_name })],
    ["poll: latestAnnotation", (_k, s, db) => latestAnnotation(db, s.id)],
    ["poll: findAcceptedDuplicate", (_k, s, db) => findAcceptedDuplicate(db, s.id, s.content_sha256)],
    ["threshold: freshAcceptedStats", (_k, _s, db) => freshAcceptedStats(db)],
  ];
  const out: { name: string; ms: number }[] = [];
  for (const [name, fn] of steps) {
    const times: number[] = [];
    for (let k = 0; k <= runs; k++) {
      const ms = await db.transaction(async (tx) => {
        const t = performance.now();
        const result = await fn(k, samples[k]!, tx);
        // A batch statement reports its time per item.
        return (result as { perItem?: number } | null)?.perItem ?? performance.now() - t;
      });
      if (k > 0) times.push(ms); // k = 0 warms up
    }
    out.push({ name, ms: median(times) });
  }
  const commits: number[] = [];
  for (let k = 0; k <= runs; k++) {
    const t = performance.now();
    await db.transaction((tx) => claimInbox(tx, "bench", `msg_commit_${tag}_${k}`));
    const total = performance.now() - t;
    if (k > 0) commits.push(total - out.find((o) => o.name === "ingest: claimInbox")!.ms);
  }
  out.push({ name: "(a commit on this machine: WAL flush, once per transaction)", ms: median(commits) });
  return out;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
