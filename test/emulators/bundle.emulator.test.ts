/**
 * The deployable artefact, run the way Cloud Functions runs it: `npm run build`'s bundle for one
 * function, started by the functions-framework CLI (`--source=dist/functions/<name>`), configured
 * only through environment variables. Catches what the in-process tests cannot: a dependency that
 * breaks when bundled, migrations missing from the bundle, a registration name that differs from
 * the entry point.
 *
 * The `command` function receives a raw Pub/Sub push (a backfill command published by hand), lists
 * the archive in the GCS fake through the bundled storage client, and publishes object.finalized
 * envelopes to the Pub/Sub emulator through the bundled Pub/Sub client, against a real Postgres
 * schema it migrates itself on cold start.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { PubSub, type Message } from "@google-cloud/pubsub";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPgDb } from "../../shared/adapters/db/pg.ts";
import type { Db } from "../../shared/ports.ts";
import { buildAll } from "../../scripts/build.ts";
import { startGcsFake, type GcsFake } from "../fakes/gcs-server.ts";
import { freePort } from "../helpers/ports.ts";
import { gcloudAvailable, startPubsubEmulator, type PubsubEmulator } from "../helpers/pubsub-emulator.ts";

const ROOT = join(import.meta.dirname, "..", "..");
/** This process's own build folder: a test process beside this one may be building `dist/`. */
const OUT_ROOT = join(ROOT, "dist", `.test-${process.pid}`);
const PROJECT = "test-proj";
const DATABASE_URL = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";
const hasGcloud = gcloudAvailable();
if (!hasGcloud) console.warn("bundle.emulator.test: gcloud (and its Pub/Sub emulator) is not installed here; skipping");

let emulator: PubsubEmulator;
let gcs: GcsFake;
let admin: Db;
let schema: string;
let fn: ChildProcess;
let port: number;
let output = "";

describe.skipIf(!hasGcloud)("a built function bundle under the functions-framework CLI", () => {
  beforeAll(async () => {
    await buildAll({ only: ["command"], log: () => undefined, outRoot: OUT_ROOT });
    emulator = await startPubsubEmulator(PROJECT);
    gcs = await startGcsFake();
    schema = `bundle_${randomBytes(5).toString("hex")}`;
    admin = createPgDb({ connectionString: DATABASE_URL, max: 1 });
    await admin.exec(`CREATE SCHEMA ${schema}`);
    const url = new URL(DATABASE_URL);
    url.searchParams.set("options", `-c search_path=${schema}`);

    port = await freePort();
    fn = spawn(process.execPath, [join(ROOT, "node_modules/@google-cloud/functions-framework/build/src/main.js"), `--source=${join(OUT_ROOT, "functions", "command")}`, "--target=command", `--port=${port}`], {
      cwd: ROOT,
      env: {
        PATH: process.env.PATH ?? "",
        NODE_ENV: "production",
        MLOPS_RUNTIME: "gcp",
        GOOGLE_CLOUD_PROJECT: PROJECT,
        REGION: "europe-west4",
        DATABASE_URL: url.toString(),
        BUCKET_ARCHIVE: "archive",
        STORAGE_EMULATOR_HOST: gcs.endpoint,
        PUBSUB_EMULATOR_HOST: emulator.host,
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    fn.stdout?.on("data", (c: Buffer) => (output += c.toString()));
    fn.stderr?.on("data", (c: Buffer) => (output += c.toString()));
    // In production mode the framework prints no banner: wait until the port answers.
    const deadline = Date.now() + 60_000;
    for (;;) {
      if (fn.exitCode !== null || Date.now() > deadline) throw new Error(`function did not start:\n${output}`);
      const up = await fetch(`http://127.0.0.1:${port}/`).then(() => true, () => false);
      if (up) break;
      await new Promise((r) => setTimeout(r, 200));
    }
  });

  afterAll(async () => {
    fn?.kill("SIGTERM");
    await rm(OUT_ROOT, { recursive: true, force: true });
    await gcs?.close();
    await emulator?.stop();
    if (admin) {
      await admin.exec(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).catch(() => undefined);
      await admin.close();
    }
  });

  it("migrates, lists GCS and publishes to Pub/Sub from the bundle", async () => {
    gcs.putObject("archive", "2026/11/a.zip", "zip-a", "application/zip");
    gcs.putObject("archive", "2026/11/b.zip", "zip-b", "application/zip");
    const pubsub = new PubSub({ projectId: PROJECT, apiEndpoint: emulator.host });
    const [topic] = await pubsub.createTopic("object-finalized");
    const [subscription] = await topic.createSubscription("watch");
    const received: { type: string; data: { name: string; generation: string }; causationId?: string }[] = [];
    subscription.on("message", (m: Message) => {
      received.push(JSON.parse(m.data.toString("utf8")) as (typeof received)[number]);
      m.ack();
    });

    const push = {
      subscription: `projects/${PROJECT}/subscriptions/command--commands`,
      message: { data: Buffer.from(JSON.stringify({ name: "backfill", prefix: "2026/" })).toString("base64"), attributes: { type: "command" }, messageId: "77" },
    };
    const res = await fetch(`http://127.0.0.1:${port}/projects/${PROJECT}/topics/commands`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(push),
    });
    expect(res.status, output).toBe(204);

    const deadline = Date.now() + 30_000;
    while (received.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    await subscription.close();
    await pubsub.close();
    expect(received.map((e) => e.data.name).sort()).toEqual(["2026/11/a.zip", "2026/11/b.zip"]);
    expect(received.every((e) => e.type === "object.finalized" && e.causationId === "pubsub:77")).toBe(true);
    expect(received.find((e) => e.data.name === "2026/11/a.zip")?.data.generation).toBe(gcs.getObject("archive", "2026/11/a.zip")!.generation);

    // The bundle applied our migrations to the fresh schema on its cold start.
    const db = createPgDb({ connectionString: DATABASE_URL, schema, max: 1 });
    try {
      const { rows } = await db.query<{ id: string }>(`SELECT id FROM schema_migrations ORDER BY id`);
      expect(rows.map((r) => r.id)).toContain("0003_slack_threads");
      expect(rows.map((r) => r.id)).toContain("0001_init");
      const inbox = await db.query(`SELECT 1 FROM inbox WHERE consumer = 'command' AND message_id = 'pubsub:77'`);
      expect(inbox.rowCount).toBe(1);
    } finally {
      await db.close();
    }
    // Structured JSON log lines, no secrets: the database URL never appears in the output.
    expect(output).toMatch(/"severity":"INFO".*"message":"database migrated"/);
    expect(output).not.toContain(DATABASE_URL);
  });
});
