import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sharpCodec } from "../../shared/adapters/imaging/codec.ts";
import { INBOX_PREFIX } from "../../shared/adapters/annotation/inbox-backend.ts";
import { pollLabels } from "../../shared/core/usecases/poll.ts";
import { objectUri } from "../../shared/core/uri.ts";
import { createTestDeps, type TestDeps } from "../helpers/deps.ts";
import { testDbKind } from "../helpers/db.ts";
import { seedItem } from "../functions/seed.ts";
import { SIZE, type LabelCase } from "../../scripts/make-label-corpus.ts";

/**
 * The malformed-input corpus, label files (scripts/make-label-corpus.ts writes them): every case is
 * dropped into the folder inbox next to the others, one poll takes them all, and each ends as its
 * table says — accepted, rejected with its reason, or dead-lettered as matching no item — while a
 * broken file never stops the others.
 */
const CASES = JSON.parse(readFileSync(new URL("../fixtures/corpus/labels.json", import.meta.url), "utf8")) as LabelCase[];

describe(`malformed-input corpus: label files (${testDbKind})`, () => {
  let t: TestDeps;
  const ids = new Map<string, string>();

  beforeAll(async () => {
    t = await createTestDeps();
    const border = new Uint8Array(SIZE * SIZE).map((_, i) => (i % SIZE === 0 || i < SIZE || i % SIZE === SIZE - 1 || i >= SIZE * (SIZE - 1) ? 255 : 0));
    const nodataPng = await sharpCodec.encodePng({ width: SIZE, height: SIZE, channels: 1, data: border });
    for (const [k, c] of CASES.entries()) {
      if (!c.item) continue;
      const id = `it_label_${String(k).padStart(3, "0")}`;
      ids.set(c.id, id);
      await seedItem(t.db, { id, state: "registered", productName: c.item, width: SIZE, height: SIZE, backendRef: `tasks/${id}.json` });
      if (c.nodata) {
        const uri = objectUri(t.deps.config.buckets.annotation, `masks/nodata/${id}.png`);
        await t.store.put(uri, nodataPng);
        await t.db.query(`UPDATE items SET assets = assets || jsonb_build_object('nodata', jsonb_build_object('uri', $2::text, 'sha256', $3::text)), nodata_pixels = $4 WHERE id = $1`,
          [id, uri, "0".repeat(64), border.filter((v) => v === 255).length]);
      }
    }
    for (const c of CASES) {
      const file = readFileSync(new URL(`../fixtures/corpus/${c.file}`, import.meta.url));
      await t.store.put(objectUri(t.deps.config.buckets.annotation, `${INBOX_PREFIX}${c.item ?? c.id}.json`), file);
    }
    await pollLabels(null, t.deps);
  });

  afterAll(async () => t?.close());

  it("covers every label format the inbox takes", () => {
    expect(new Set(CASES.map((c) => c.format))).toEqual(new Set(["encord", "coco", "unknown"]));
    expect(CASES.filter((c) => c.expect.outcome !== "accepted").length).toBeGreaterThanOrEqual(10);
  });

  it.each(CASES.map((c) => [c.id, c] as const))("%s ends as the table says", async (_id, c) => {
    if (c.expect.outcome === "unmatched") {
      const dead = await t.db.query<{ reason: string }>(`SELECT reason FROM dead_letters WHERE consumer = 'poll'`);
      expect(dead.rows.some((r) => /matches no item/.test(r.reason)), c.why).toBe(true);
      return;
    }
    const id = ids.get(c.id)!;
    const item = await t.db.query<{ state: string }>(`SELECT state FROM items WHERE id = $1`, [id]);
    const annotation = await t.db.query<{ verdict: string; reasons: string[] }>(`SELECT verdict, reasons FROM annotations WHERE item_id = $1`, [id]);
    expect(annotation.rows, `${c.why}: one annotation`).toHaveLength(1);
    expect(item.rows[0]?.state, c.why).toBe(c.expect.outcome);
    expect(annotation.rows[0]?.verdict, `${c.why}: ${JSON.stringify(annotation.rows[0]?.reasons)}`).toBe(c.expect.outcome);
    if (c.expect.reason) expect(annotation.rows[0]!.reasons.join("; "), c.why).toContain(c.expect.reason);
  });
});
