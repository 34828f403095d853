import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { createDashboardHandler, dashboardPages } from "../../../shared/dashboard/http.ts";
import * as queries from "../../../shared/db/queries/pages.ts";
import { claimPrelabels, finishPrelabel } from "../../../shared/db/queries/prelabels.ts";
import { readStatusSnapshot } from "../../../shared/db/queries/status.ts";
import { createTestDeps, type TestDeps } from "../../helpers/deps.ts";
import { testDbKind } from "../../helpers/db.ts";

let t: TestDeps;
let server: Server | null = null;
afterEach(async () => {
  if (server) await new Promise<void>((r) => server!.close(() => r()));
  server = null;
  await t?.close();
});

async function serve(): Promise<string> {
  const handler = createDashboardHandler({ getSnapshot: () => readStatusSnapshot(t.db), pages: dashboardPages(t.db, queries) });
  server = createServer((req, res) => void handler(req, res));
  await new Promise<void>((r) => server!.listen(0, "127.0.0.1", r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** `n` registered items with done pre-labels; priorities repeat so ties are ordered by item id. */
async function seedQueue(n: number): Promise<Map<string, number>> {
  const priorities = new Map<string, number>();
  const ids = Array.from({ length: n }, (_, i) => `it_${String(i).padStart(3, "0")}`);
  await t.db.query(`INSERT INTO items (id, source_bucket, source_name, source_generation, state, title) SELECT id, 'archive', id || '.zip', '1', 'registered', id FROM unnest($1::text[]) AS id`, [ids]);
  await t.db.transaction(async (tx) => {
    await claimPrelabels(tx, ids, { alias: "staging", token: "tok", leaseSeconds: 60, retryFailedBelow: 0 });
    for (const [i, id] of ids.entries()) {
      const priority = ((i * 37) % 23) / 23;
      await finishPrelabel(tx, id, "tok", { modelId: "mdl_x", maskUri: `gs://annotation/prelabels/${id}/mdl_x.png`, priority, components: { uncertainty: priority, boundary: 0.1, novelty: null }, reason: `uncertainty ${priority.toFixed(3)}×0.6` });
      priorities.set(id, priority);
    }
  });
  return priorities;
}

describe(`dashboard annotation queue (${testDbKind})`, () => {
  it("lists queued items in priority order with their reasons, in keyset pages that cover each item once", async () => {
    t = await createTestDeps();
    const priorities = await seedQueue(60);
    const url = await serve();
    const seen: { itemId: string; priority: number }[] = [];
    let next: { priority: number; itemId: string } | null = null;
    let pages = 0;
    do {
      const res = await fetch(`${url}/api/queue${next ? `?after=${encodeURIComponent(`${next.priority}~${next.itemId}`)}` : ""}`);
      expect(res.status).toBe(200);
      const page = (await res.json()) as { entries: { itemId: string; priority: number; reason: string }[]; next: { priority: number; itemId: string } | null; total: number };
      expect(page.total).toBe(60);
      seen.push(...page.entries);
      next = page.next;
      pages++;
    } while (next);
    expect(pages).toBe(2);
    expect(seen.map((e) => e.itemId).sort()).toEqual([...priorities.keys()].sort());
    const expected = [...priorities].sort(([a, pa], [b, pb]) => pb - pa || (a < b ? 1 : -1)).map(([id]) => id);
    expect(seen.map((e) => e.itemId)).toEqual(expected);

    const html = await (await fetch(`${url}/queue`)).text();
    expect(html).toContain("60 pre-labelled item(s) waiting for a label");
    const order = [...html.matchAll(/href="\/items\/(it_\d+)"/g)].map((m) => m[1]);
    expect(order).toEqual(expected.slice(0, 50));
    expect(html).toMatch(/uncertainty 0\.\d{3}×0\.6/);
    expect(html).toMatch(/href="\/queue\?after=[^"]+&amp;from=51"/);
    expect((await fetch(`${url}/queue?after=nonsense`)).status).toBe(400);
  });

  it("drops an item from the queue when it leaves `registered` (its label arrived)", async () => {
    t = await createTestDeps();
    await seedQueue(3);
    await t.db.query(`UPDATE items SET state = 'annotated' WHERE id = 'it_001'`);
    const page = await queries.annotationQueuePage(t.db, { limit: 10 });
    expect(page.entries.map((e) => e.itemId).sort()).toEqual(["it_000", "it_002"]);
    expect(page.total).toBe(2);
    // A relabel request (back to registered) queues it again.
    await t.db.query(`UPDATE items SET state = 'registered' WHERE id = 'it_001'`);
    expect((await queries.annotationQueuePage(t.db, { limit: 10 })).total).toBe(3);
  });
});
