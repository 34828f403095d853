/**
 * Runs a real function module (functions/<name>.ts) through the functions framework's HTTP stack
 * (`getTestServer` + `listen(0)` + fetch), with Deps injected through `overrideDeps`:
 * a migrated test database, the GCS fake behind the real GcsObjectStore, the Cloud Run fake behind
 * the real CloudRunJobRunner, the inbox annotation backend, and a publisher that records.
 */
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Storage } from "@google-cloud/storage";
import { expect, it } from "vitest";
import { getTestServer } from "@google-cloud/functions-framework/testing";
import { memoryLogger, randomIds, systemClock } from "../../shared/adapters/basics.ts";
import { GcsObjectStore } from "../../shared/adapters/gcp/gcs.ts";
import { CloudRunJobRunner } from "../../shared/adapters/gcp/cloud-run.ts";
import { createInboxBackend } from "../../shared/adapters/annotation/inbox-backend.ts";
import { loadConfig } from "../../shared/config/load.ts";
import { FUNCTIONS, backendOf, sectionsOf, type FunctionName } from "../../shared/deployables.ts";
import { TransientError } from "../../shared/errors.ts";
import type { Envelope } from "../../shared/messages/envelope.ts";
import type { Db, Deps, LogFields, Notification } from "../../shared/ports.ts";
import { overrideDeps } from "../../shared/runtime/gcp.ts";
import { startGcsFake, type GcsFake } from "../fakes/gcs-server.ts";
import { FakeCloudRun } from "../fakes/cloud-run.ts";
import { createTestDb } from "../helpers/db.ts";

export const PROJECT = "test-proj";

export const TEST_ENV: Record<string, string> = {
  MLOPS_RUNTIME: "gcp",
  GOOGLE_CLOUD_PROJECT: PROJECT,
  REGION: "europe-west4",
  CLOUD_SQL_INSTANCE: `${PROJECT}:europe-west4:mlops`,
  BUCKET_ARCHIVE: "archive",
  BUCKET_ANNOTATION: "annotation",
  BUCKET_DATASETS: "datasets",
  BUCKET_MODELS: "models",
  LOG_LEVEL: "debug",
};

export interface FunctionTest {
  url: string;
  deps: Deps;
  db: Db;
  gcs: GcsFake;
  cloudRun: FakeCloudRun;
  published: Envelope[];
  notifications: Notification[];
  logs: { level: string; message: string; fields: LogFields }[];
  /** Makes the next requests see a database that fails every call with a TransientError. */
  breakDatabase(): void;
  restoreDatabase(): void;
  close(): Promise<void>;
}

export async function startFunction(name: FunctionName, env: Record<string, string> = {}): Promise<FunctionTest> {
  // Only the sections the registry declares for this function: a use case reading another one
  // throws, so these tests catch a registry that is missing a section.
  const config = loadConfig({ ...TEST_ENV, ...env }, { sections: sectionsOf(name, backendOf(env)) });
  // Everything the function publishes must be in its registry entry (Terraform grants those topics).
  const allowed = new Set<string>(FUNCTIONS[name].publishes);
  const unexpected: string[] = [];
  const db = await createTestDb();
  const gcs = await startGcsFake();
  const store = new GcsObjectStore({
    storage: new Storage({ apiEndpoint: gcs.endpoint, projectId: PROJECT, retryOptions: { autoRetry: false } }),
  });
  const cloudRun = new FakeCloudRun();
  const log = memoryLogger();
  const published: Envelope[] = [];
  const notifications: Notification[] = [];
  const deps: Deps = {
    config,
    db,
    store,
    publisher: {
      async publish(e) {
        if (!allowed.has(e.type)) unexpected.push(e.type);
        published.push(e);
      },
    },
    backend: async () => createInboxBackend({ store, config, log }),
    jobs: new CloudRunJobRunner({ project: PROJECT, region: "europe-west4", jobNames: { train: "train", evaluate: "evaluate", predict: "predict" }, api: cloudRun }),
    notifier: {
      async post(n) {
        notifications.push(n);
      },
    },
    normaliser: async () => (await import("../../shared/adapters/imaging/normaliser.ts")).createNormaliser(),
    codec: async () => (await import("../../shared/adapters/imaging/codec.ts")).sharpCodec,
    clock: systemClock,
    ids: randomIds,
    log,
  };
  overrideDeps(deps);
  await import(`../../functions/${name}.ts`);
  const server: Server = getTestServer(name);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    url,
    deps,
    db,
    gcs,
    cloudRun,
    published,
    notifications,
    logs: log.entries,
    breakDatabase: () => overrideDeps({ ...deps, db: unavailableDb(db) }),
    restoreDatabase: () => overrideDeps(deps),
    async close() {
      overrideDeps(null);
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await gcs.close();
      await db.close();
      expect(unexpected, `${name} published types its registry entry (shared/deployables.ts) does not list`).toEqual([]);
    },
  };
}

/** A database that is down: every call fails the way the pg adapter reports a lost connection. */
function unavailableDb(db: Db): Db {
  const down = () => Promise.reject(new TransientError("database: connect ECONNREFUSED 10.0.0.3:5432"));
  return { kind: db.kind, query: down, exec: down, transaction: down, close: () => Promise.resolve() };
}

// ---------------------------------------------------------------------------------------------
// Deliveries, shaped as Eventarc and Pub/Sub send them.

export interface CloudEventSpec {
  id: string;
  type: string;
  source: string;
  subject?: string;
  time?: string;
  /** Extension attributes (e.g. `bucket`), sent as `ce-<name>` headers. */
  extensions?: Record<string, string>;
  data: unknown;
}

/** POSTs a binary-mode CloudEvent: context attributes in `ce-*` headers, data as the JSON body. */
export function postCloudEvent(url: string, ce: CloudEventSpec, path = "/"): Promise<Response> {
  const headers: Record<string, string> = {
    "content-type": "application/json",
    "ce-id": ce.id,
    "ce-specversion": "1.0",
    "ce-type": ce.type,
    "ce-source": ce.source,
  };
  if (ce.subject) headers["ce-subject"] = ce.subject;
  if (ce.time) headers["ce-time"] = ce.time;
  for (const [k, v] of Object.entries(ce.extensions ?? {})) headers[`ce-${k}`] = v;
  return fetch(`${url}${path}`, { method: "POST", headers, body: JSON.stringify(ce.data) });
}

/** Eventarc's GCS finalize event: StorageObjectData with its int64 fields as strings. */
export function gcsFinalized(object: { bucket: string; name: string; generation: string; size: string; contentType?: string; md5Hash?: string; crc32c?: string }, time: Date, eventId = "evt-gcs-1"): CloudEventSpec {
  return {
    id: eventId,
    type: "google.cloud.storage.object.v1.finalized",
    source: `//storage.googleapis.com/projects/_/buckets/${object.bucket}`,
    subject: `objects/${object.name}`,
    time: time.toISOString(),
    extensions: { bucket: object.bucket },
    data: {
      kind: "storage#object",
      id: `${object.bucket}/${object.name}/${object.generation}`,
      metageneration: "1",
      storageClass: "STANDARD",
      timeCreated: time.toISOString(),
      updated: time.toISOString(),
      ...object,
    },
  };
}

export interface PubsubMessageSpec {
  data?: unknown;
  /** Raw base64 to send instead of encoding `data` (malformed-message tests). */
  rawData?: string;
  attributes?: Record<string, string>;
  messageId: string;
  publishTime?: string;
}

function pubsubMessage(m: PubsubMessageSpec): Record<string, unknown> {
  const data = m.rawData ?? (m.data === undefined ? undefined : Buffer.from(JSON.stringify(m.data)).toString("base64"));
  return {
    ...(data !== undefined ? { data } : {}),
    attributes: m.attributes ?? {},
    messageId: m.messageId,
    message_id: m.messageId,
    publishTime: m.publishTime ?? new Date().toISOString(),
    publish_time: m.publishTime ?? new Date().toISOString(),
  };
}

/** The push body a Pub/Sub push subscription POSTs, to `/projects/<p>/topics/<t>` as Terraform configures. */
export function postPush(url: string, topic: string, m: PubsubMessageSpec): Promise<Response> {
  const body = { subscription: `projects/${PROJECT}/subscriptions/push--${topic}`, message: pubsubMessage(m) };
  return fetch(`${url}/projects/${PROJECT}/topics/${topic}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
}

/** An Eventarc Pub/Sub trigger's binary CloudEvent (`messagePublished`). */
export function postPubsubCloudEvent(url: string, topic: string, m: PubsubMessageSpec): Promise<Response> {
  return postCloudEvent(url, {
    id: m.messageId,
    type: "google.cloud.pubsub.topic.v1.messagePublished",
    source: `//pubsub.googleapis.com/projects/${PROJECT}/topics/${topic}`,
    time: m.publishTime ?? new Date().toISOString(),
    data: { message: pubsubMessage(m), subscription: `projects/${PROJECT}/subscriptions/eventarc-${topic}` },
  });
}

export async function deadLetters(db: Db): Promise<{ consumer: string; message_id: string | null; reason: string; payload: unknown }[]> {
  const { rows } = await db.query<{ consumer: string; message_id: string | null; reason: string; payload: unknown }>(
    `SELECT consumer, message_id, reason, payload FROM dead_letters ORDER BY id`,
  );
  return rows;
}

/** The outcome the handler logged for the last delivery (`delivery handled`). */
export function lastOutcome(test: FunctionTest): { status?: unknown; detail?: unknown; source?: unknown } | undefined {
  return [...test.logs].reverse().find((e) => e.message === "delivery handled")?.fields;
}

// ---------------------------------------------------------------------------------------------
// What every consumer function must do with bad and failing deliveries.

/**
 * Registers the delivery-semantics cases every consumer function shares: garbage is acknowledged
 * and recorded (no retry storm), a stale message is dead-lettered, a transient failure is a 500.
 * `valid` builds a well-formed envelope the consumer subscribes to.
 */
export function sharedDeliveryCases(name: string, topic: string, test: () => FunctionTest, valid: (id: string, occurredAt: Date) => Envelope): void {
  it("acknowledges a push whose data is not JSON and records it in dead_letters", async () => {
    const res = await postPush(test().url, topic, { messageId: `garbage-${name}`, rawData: Buffer.from("{not json").toString("base64"), attributes: { type: "command" } });
    expect(res.status).toBe(204);
    const rows = (await deadLetters(test().db)).filter((r) => r.message_id === `pubsub:garbage-${name}`);
    expect(rows).toHaveLength(1);
    expect(rows[0]!.consumer).toBe(name);
    expect(rows[0]!.reason).toMatch(/malformed message envelope/);
    expect(JSON.stringify(rows[0]!.payload)).toContain("message data is not JSON");
  });

  it("acknowledges a message whose data is not base64 (converted CloudEvent shape) and records it", async () => {
    const res = await postPubsubCloudEvent(test().url, topic, { messageId: `b64-${name}`, rawData: "%%%not-base64%%%" });
    expect(res.status).toBe(204);
    const rows = (await deadLetters(test().db)).filter((r) => r.message_id === `pubsub:b64-${name}`);
    expect(rows).toHaveLength(1);
  });

  it("dead-letters a message older than MAX_EVENT_AGE_SECONDS instead of processing it", async () => {
    const old = valid(`stale-${name}`, new Date(Date.now() - 3 * 24 * 3600 * 1000));
    const res = await postPubsubCloudEvent(test().url, topic, { messageId: `ps-stale-${name}`, data: old, attributes: { type: old.type } });
    expect(res.status).toBe(204);
    const rows = (await deadLetters(test().db)).filter((r) => r.message_id === old.id);
    expect(rows).toHaveLength(1);
    expect(rows[0]!.reason).toMatch(/older than MAX_EVENT_AGE_SECONDS=86400/);
  });

  it("answers 500 when the database is down, so Pub/Sub redelivers", async () => {
    const fresh = valid(`transient-${name}`, new Date());
    test().breakDatabase();
    try {
      const res = await postPush(test().url, topic, { messageId: `ps-transient-${name}`, data: fresh, attributes: { type: fresh.type } });
      expect(res.status).toBe(500);
      expect(res.headers.get("x-google-status")).toBe("error");
    } finally {
      test().restoreDatabase();
    }
    expect((await deadLetters(test().db)).filter((r) => r.message_id === fresh.id)).toHaveLength(0);
  });
}
