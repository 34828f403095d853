import { mkdtempSync, rmSync, writeFileSync, mkdirSync, existsSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { ArchiveWatcher } from "../../../../shared/runtime/local/watcher.ts";
import { SpoolIngestor } from "../../../../shared/runtime/local/spool.ts";
import { SpoolPublisher } from "../../../../shared/adapters/messaging/spool.ts";
import { LocalObjectStore } from "../../../../shared/adapters/store/local.ts";
import { silentLogger } from "../../../../shared/adapters/basics.ts";
import type { Db } from "../../../../shared/ports.ts";
import { createTestDb } from "../../../helpers/db.ts";
import { unknownArchiveObjects } from "../../../../shared/db/queries/archive.ts";
import { MemoryPublisher } from "../../../helpers/deps.ts";
import { envelope } from "../../../helpers/fixtures.ts";

describe("archive watcher", () => {
  let dir: string;
  let watcher: ArchiveWatcher | null = null;
  afterEach(() => {
    watcher?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("announces each settled file once per generation, with the storage event id", async () => {
    dir = mkdtempSync(join(tmpdir(), "watch-"));
    const store = new LocalObjectStore(dir);
    const publisher = new MemoryPublisher();
    const info = await store.put("gs://archive/in/a.zip", new Uint8Array([1, 2]));
    mkdirSync(join(dir, "archive"), { recursive: true });
    writeFileSync(join(dir, "archive", ".hidden"), "x");
    writeFileSync(join(dir, "archive", "b.zip.part"), "x");
    watcher = new ArchiveWatcher({ dir: join(dir, "archive"), bucket: "archive", publisher, log: silentLogger, settleMs: 0, intervalMs: 60_000 });
    await watcher.start();
    expect(publisher.messages.map((m) => [m.id, m.data])).toEqual([
      [`gcs:archive/in/a.zip#${info.generation}`, { bucket: "archive", name: "in/a.zip", generation: info.generation, size: "2" }],
    ]);
    await watcher.scan();
    expect(publisher.messages).toHaveLength(1);
    // A new generation of the same name is a new event.
    await new Promise((r) => setTimeout(r, 5));
    const next = await store.put("gs://archive/in/a.zip", new Uint8Array([3]));
    await watcher.scan();
    expect(publisher.messages.map((m) => m.id)).toEqual([`gcs:archive/in/a.zip#${info.generation}`, `gcs:archive/in/a.zip#${next.generation}`]);
  });

  it("after a restart announces only files no item was made from (delivery rows are gone after retention)", async () => {
    dir = mkdtempSync(join(tmpdir(), "watch-"));
    const store = new LocalObjectStore(dir);
    const known = await store.put("gs://archive/old.zip", new Uint8Array([1]));
    const fresh = await store.put("gs://archive/new.zip", new Uint8Array([2]));
    const db = await createTestDb();
    try {
      await db.query(`INSERT INTO items (id, source_bucket, source_name, source_generation) VALUES ('it_old', 'archive', 'old.zip', $1)`, [known.generation]);
      const publisher = new MemoryPublisher();
      watcher = new ArchiveWatcher({
        dir: join(dir, "archive"), bucket: "archive", publisher, log: silentLogger, settleMs: 0, intervalMs: 60_000,
        unknownOnly: (files) => unknownArchiveObjects(db, "archive", files),
      });
      await watcher.start();
      expect(publisher.messages.map((m) => m.id)).toEqual([`gcs:archive/new.zip#${fresh.generation}`]);
    } finally {
      await db.close();
    }
  });

  it("waits until a file stops changing before announcing it", async () => {
    dir = mkdtempSync(join(tmpdir(), "watch-"));
    mkdirSync(join(dir, "archive"));
    const publisher = new MemoryPublisher();
    watcher = new ArchiveWatcher({ dir: join(dir, "archive"), bucket: "archive", publisher, log: silentLogger, settleMs: 10_000, intervalMs: 60_000 });
    await watcher.start();
    writeFileSync(join(dir, "archive", "growing.zip"), "partial");
    await watcher.scan();
    expect(publisher.messages).toHaveLength(0);
  });
});

describe("spool ingestor", () => {
  let dir: string;
  let db: Db;
  afterEach(async () => {
    await db?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("moves spooled messages into the delivery system and quarantines garbage", async () => {
    dir = mkdtempSync(join(tmpdir(), "spool-"));
    db = await createTestDb();
    const msg = envelope("command", { name: "poll", actor: "me" });
    await new SpoolPublisher(dir).publish(msg);
    writeFileSync(join(dir, "spool", "garbage.json"), "{not json");
    const publisher = new MemoryPublisher();
    const ingestor = new SpoolIngestor({ workspace: dir, publisher, db, log: silentLogger, intervalMs: 60_000 });
    await ingestor.start();
    ingestor.stop();
    expect(publisher.messages).toEqual([msg]);
    expect(readdirSync(join(dir, "spool")).filter((f) => f.endsWith(".json"))).toEqual([]);
    expect(existsSync(join(dir, "spool", "bad", "garbage.json"))).toBe(true);
    const dead = await db.query<{ consumer: string; reason: string }>(`SELECT consumer, reason FROM dead_letters`);
    expect(dead.rows[0]).toMatchObject({ consumer: "spool", reason: expect.stringContaining("garbage.json is not a message") });
  });
});
