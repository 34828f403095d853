import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { mkdir } from "node:fs/promises";
import { join, resolve } from "node:path";
import { createWriteStream } from "node:fs";
import { loadConfig, type Config } from "../config/load.ts";
import { buildEnvelope } from "../messages/build.ts";
import type { MessageType } from "../messages/topics.ts";
import { createPgDb } from "../adapters/db/pg.ts";
import { createPgliteDb } from "../adapters/db/pglite.ts";
import { randomIds, systemClock } from "../adapters/basics.ts";
import { createLogger } from "../adapters/log/pino.ts";
import { LocalObjectStore } from "../adapters/store/local.ts";
import { migrate } from "../db/migrate.ts";
import { loadMigrations } from "../db/migrations.ts";
import { listFailures, readStatusSnapshot } from "../db/queries/status.ts";
import { unknownArchiveObjects } from "../db/queries/archive.ts";
import { releaseLeasesOfDeadProcesses } from "../db/queries/leases.ts";
import type { AnnotationBackend, Db, Deps, ItemPredictor, Logger, Notifier } from "../ports.ts";
import { ArchiveWatcher } from "./local/watcher.ts";
import { LocalDeliveriesPublisher, LocalDispatcher } from "./local/deliveries.ts";
import { LocalJobRunner } from "./local/job-runner.ts";
import { ConsoleFileNotifier, FanoutNotifier } from "./local/notifier.ts";
import { SpoolIngestor } from "./local/spool.ts";
import { armFailpoints } from "./failpoints.ts";
import type { ServingStack } from "../serving/create.ts";

/** Opens the local database: Postgres when DATABASE_URL is set, else PGlite in the workspace. */
export async function openLocalDb(config: Config): Promise<Db> {
  const db = config.db.url
    ? createPgDb({ connectionString: config.db.url, max: config.db.poolMax })
    : await createPgliteDb(join(config.workspace, "pgdata"));
  await migrate(db, loadMigrations());
  return db;
}

export interface LocalRuntimeOptions {
  env?: Record<string, string | undefined>;
  /** Serve the dashboard (default true). Port 0 picks a free one. */
  serve?: boolean;
  /** Lines for people (progress, notifications) go here; JSON logs go to the workspace log file. */
  say?: (line: string) => void;
  /** Start timers (poll, reconcile, threshold ticks). Tests drive ticks themselves. */
  timers?: boolean;
  /** An already migrated database to use instead of the workspace's (tests isolate themselves so). */
  db?: Db;
}

export interface LocalRuntime {
  config: Config;
  deps: Deps;
  store: LocalObjectStore;
  publisher: LocalDeliveriesPublisher;
  dispatcher: LocalDispatcher;
  jobs: LocalJobRunner;
  watcher: ArchiveWatcher;
  spool: SpoolIngestor;
  url: string | null;
  /** The model server mounted on the dashboard port (`/v1/models/{alias}:predict`, `/metrics`). */
  serving: ServingStack;
  /** Publishes a message as a producer outside any use case would (ticks, tests). */
  publish<T extends MessageType>(type: T, data: unknown, id?: string): Promise<void>;
  stop(): Promise<void>;
}

/**
 * The embedded runtime: the same use cases, SQL, message schemas and job entrypoints as the cloud,
 * with PGlite (or Postgres), folders as buckets, an in-process outbox dispatcher with retry and
 * dead-lettering, a watcher on the archive folder, child processes as jobs, and the dashboard.
 */
export async function startLocalRuntime(options: LocalRuntimeOptions = {}): Promise<LocalRuntime> {
  const env = { ...(options.env ?? process.env) };
  const config = loadConfig(env);
  config.workspace = resolve(config.workspace);
  await mkdir(join(config.workspace, "logs"), { recursive: true });
  armFailpoints(config.failpoints, config.workspace);
  const say = options.say ?? ((line: string) => process.stderr.write(`${line}\n`));
  const log = createLogger({ level: config.logLevel, base: { runtime: "local" }, destination: createWriteStream(join(config.workspace, "logs", "runtime.jsonl"), { flags: "a" }) as never });

  const db = options.db ?? (await openLocalDb(config));
  const released = await releaseLeasesOfDeadProcesses(db);
  if (released.cursors + released.items + released.launches + released.prelabels > 0) log.warn("released leases left by a previous process", released);
  const store = new LocalObjectStore(join(config.workspace, "buckets"));
  const publisher = new LocalDeliveriesPublisher(db);
  const jobs = new LocalJobRunner({
    workspace: config.workspace,
    log,
    // The jobs read the same configuration, with the workspace made absolute.
    env: { ...stringEnv(env), MLOPS_RUNTIME: "local", MLOPS_WORKSPACE: config.workspace },
  });
  // Console links open in the browser: under DASHBOARD_URL, else under this runtime's own dashboard.
  let url: string | null = null;
  const notifier = await buildNotifier(config, say, log, db, () => config.dashboardUrl ?? url);
  let backend: Promise<AnnotationBackend> | null = null;
  // Pre-labelling's own model sessions (logits, not the serving routes' fused argmax), on first use.
  let itemPredictor: Promise<ItemPredictor & { close(): Promise<void> }> | null = null;
  const deps: Deps = {
    config,
    db,
    store,
    publisher,
    jobs,
    notifier,
    clock: systemClock,
    ids: randomIds,
    log,
    backend: () => (backend ??= loadBackend(config, store, log)),
    normaliser: async () => (await import("../adapters/imaging/normaliser.ts")).createNormaliser(),
    codec: async () => (await import("../adapters/imaging/codec.ts")).sharpCodec,
    predictor: () => (itemPredictor ??= import("../serving/item-predictor.ts").then((m) => m.createItemPredictor({ db, store, log, tileSize: config.serving.tileSize }))),
  };

  // The model server shares the dashboard port; its metrics also count this dispatcher's deliveries.
  const { createServingStack } = await import("../serving/create.ts");
  const serving = await createServingStack({ config, db, store, log, normaliser: deps.normaliser, codec: deps.codec, executionProviders: env.ONNX_EXECUTION_PROVIDERS });
  const dispatcher = new LocalDispatcher(deps, publisher, {
    concurrency: config.local.concurrency,
    maxAttempts: config.delivery.maxAttempts,
    onOutcome: (consumer, outcome) => {
      serving.metrics.countDelivery(consumer, outcome);
      // A promotion or a manual alias command may have moved an alias: load its new model now,
      // so the first request after the move does not wait for it (requests look the alias up anyway).
      if (outcome === "delivered" && (consumer === "promote" || consumer === "command")) {
        for (const { alias } of serving.predictor.loadedModels()) {
          void serving.predictor.refresh(alias).catch((err: unknown) => log.warn("could not preload the promoted model", { alias, error: String(err) }));
        }
      }
    },
  });
  const watcher = new ArchiveWatcher({
    dir: join(config.workspace, "buckets", config.buckets.archive), bucket: config.buckets.archive, publisher, log,
    unknownOnly: (files) => unknownArchiveObjects(db, config.buckets.archive, files),
  });
  const spool = new SpoolIngestor({ workspace: config.workspace, publisher, db, log });

  const publish = async <T extends MessageType>(type: T, data: unknown, id?: string) => {
    await publisher.publish(buildEnvelope(type, data as never, { id: id ?? randomIds.next("msg"), occurredAt: new Date() }));
  };

  await dispatcher.start();
  await spool.start();
  await watcher.start();

  const timers: NodeJS.Timeout[] = [];
  if (options.timers !== false) {
    const every = (seconds: number, fn: () => Promise<void>) => {
      const t = setInterval(() => void fn().catch((err: unknown) => log.warn("timer failed", { error: String(err) })), seconds * 1000);
      timers.push(t);
    };
    every(config.local.pollIntervalSeconds, () => publish("poll.tick", { reason: "schedule" }));
    every(config.local.reconcileIntervalSeconds, () => publish("reconcile.tick", { reason: "schedule" }));
    every(Math.max(30, config.local.reconcileIntervalSeconds), () => publish("threshold.tick", { reason: "schedule" }));
    await publish("reconcile.tick", { reason: "startup" });
  }

  let server: Server | null = null;
  if (options.serve !== false) {
    const { createDashboardHandler, dashboardPages } = await import("../dashboard/http.ts");
    const handler = createDashboardHandler({
      title: "mlops-loop (local)",
      logger: log,
      routes: serving.routes,
      getSnapshot: () => readStatusSnapshot(db),
      listFailures: (o) => listFailures(db, o),
      pages: dashboardPages(db, await import("../db/queries/pages.ts")),
      readObject: async (uri) => {
        const info = await store.head(uri);
        return info ? { body: await store.get(uri), ...(info.contentType ? { contentType: info.contentType } : {}) } : null;
      },
    });
    server = createServer((req, res) => {
      // Label Studio's webhook, as the labelstudio-webhook function takes it in the cloud.
      if (req.url?.split("?")[0] === "/labelstudio-webhook") return void labelStudioWebhook(req, res, deps);
      void handler(req, res);
    });
    url = await listen(server, config.local.port);
  }

  return {
    config, deps, store, publisher, dispatcher, jobs, watcher, spool, url, serving,
    publish,
    async stop() {
      for (const t of timers) clearInterval(t);
      watcher.stop();
      spool.stop();
      await dispatcher.stop();
      await jobs.stopAll();
      await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
      server?.closeAllConnections?.();
      await serving.predictor.close();
      if (itemPredictor) await (await itemPredictor).close();
      await db.close();
    },
  };
}

async function loadBackend(config: Config, store: LocalObjectStore, log: Logger): Promise<AnnotationBackend> {
  if (config.annotation.backend === "labelstudio") {
    const { createLabelStudioBackend } = await import("../adapters/labelstudio/backend.ts");
    return createLabelStudioBackend(config, { log, clock: systemClock });
  }
  if (config.annotation.backend === "encord") {
    const { createEncordBackend } = await import("../adapters/encord/backend.ts");
    return createEncordBackend(config, { log, clock: systemClock });
  }
  const { createInboxBackend } = await import("../adapters/annotation/inbox-backend.ts");
  return createInboxBackend({ store, config, log });
}

async function labelStudioWebhook(req: IncomingMessage, res: ServerResponse, deps: Deps): Promise<void> {
  req.resume(); // the body is not trusted (nor needed): drain it
  try {
    const { handleLabelStudioWebhook } = await import("../adapters/labelstudio/webhook.ts");
    const out = await handleLabelStudioWebhook({ method: req.method ?? "GET", header: (name) => [req.headers[name.toLowerCase()]].flat()[0] }, deps);
    res.writeHead(out.status, { "content-type": "application/json" }).end(JSON.stringify(out.body));
  } catch (err) {
    deps.log.error("labelstudio-webhook failed", { error: String(err) });
    if (!res.headersSent) res.writeHead(503).end();
  }
}

async function buildNotifier(config: Config, say: (line: string) => void, log: Logger, db: Db, dashboardUrl: () => string | null): Promise<Notifier> {
  const local = new ConsoleFileNotifier({ file: join(config.workspace, "notifications.log"), write: say, dashboardUrl });
  if (!config.slack.token || !config.slack.channel) return local;
  const { SlackNotifier, dbThreadStore } = await import("../adapters/gcp/slack.ts");
  return new FanoutNotifier([local, new SlackNotifier({ token: config.slack.token, channel: config.slack.channel, threads: dbThreadStore(db), log, dashboardUrl: config.dashboardUrl })]);
}

function listen(server: Server, port: number): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    const tryPort = (p: number, attemptsLeft: number) => {
      server.once("error", (err: NodeJS.ErrnoException) => {
        if (err.code === "EADDRINUSE" && attemptsLeft > 0 && p !== 0) tryPort(p + 1, attemptsLeft - 1);
        else reject(err);
      });
      server.listen(p, "127.0.0.1", () => {
        const address = server.address();
        resolvePromise(`http://127.0.0.1:${typeof address === "object" && address ? address.port : p}/`);
      });
    };
    tryPort(port, 20);
  });
}

function stringEnv(env: Record<string, string | undefined>): Record<string, string> {
  return Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => typeof e[1] === "string"));
}
