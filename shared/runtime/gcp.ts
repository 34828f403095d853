import type { Config } from "../config/load.ts";
import type { ConsumerName } from "../messages/topics.ts";
import type { AnnotationBackend, Deps, ImageCodec, ItemPredictor, Logger, Normaliser, Notifier } from "../ports.ts";
import type { ItemPredictorDeps } from "../serving/item-predictor.ts";

/**
 * Composition root of the `gcp` runtime: Cloud SQL, GCS, Pub/Sub, Cloud Run jobs, Slack.
 *
 * Cold starts matter (every function imports this file), so this module imports nothing but
 * types: config parsing (zod), the delivery handler and each SDK adapter are loaded with `import()`
 * on the first request, not at import. The image stack (sharp, geotiff) and the annotation backends
 * are behind loaders called only by the use cases that need them; a function names the heavy
 * loaders it needs (`HeavyLoaders`), so the bundler leaves the rest out of its bundle entirely.
 */

export interface HeavyLoaders {
  normaliser?: () => Promise<Normaliser>;
  codec?: () => Promise<ImageCodec>;
  /** Pre-labelling's model runner (onnxruntime-node), built from the function's own deps. */
  predictor?: () => Promise<(deps: ItemPredictorDeps) => ItemPredictor>;
}

export interface GcpDepsOptions {
  /**
   * The function name, stamped on every log line. A function in shared/deployables.ts loads only
   * the config sections its entry declares.
   */
  service?: string;
  /** Apply pending migrations on cold start (functions do; the advisory lock serialises them). */
  migrate?: boolean;
}

export type DepsProvider = () => Promise<Deps>;

/** Builds the GCP Deps from an environment (pass `process.env` at the edge). */
export async function createGcpDeps(env: Record<string, string | undefined>, heavy: HeavyLoaders = {}, options: GcpDepsOptions = {}): Promise<Deps> {
  const [{ resolveSecretReferences }, { loadConfig, configSections }, registry] = await Promise.all([
    import("../adapters/gcp/secrets.ts"),
    import("../config/load.ts"),
    import("../deployables.ts"),
  ]);
  const service = options.service ?? env.FUNCTION_TARGET ?? env.K_SERVICE ?? "mlops";
  const resolved = await resolveSecretReferences(env);
  // A registered function validates only the config sections it declares (shared/deployables.ts):
  // Terraform gives it exactly those variables and secrets, nothing more.
  const sections = registry.isFunctionName(service) || registry.isServiceName(service)
    ? registry.sectionsOf(service, registry.backendOf(resolved))
    : undefined;
  const config = loadConfig(resolved, sections ? { sections } : {});
  const { project, region } = requireGcp(config);

  const [{ createLogger }, { randomIds, systemClock }, gcs, pubsub, run, sql] = await Promise.all([
    import("../adapters/log/pino.ts"),
    import("../adapters/basics.ts"),
    import("../adapters/gcp/gcs.ts"),
    import("../adapters/gcp/pubsub.ts"),
    import("../adapters/gcp/cloud-run.ts"),
    import("../adapters/gcp/cloud-sql.ts"),
  ]);
  const log = createLogger({ level: config.logLevel, base: { service } });
  const db = await sql.createCloudSqlDb(config);
  if (options.migrate ?? true) {
    const [{ migrate }, { loadMigrations }] = await Promise.all([import("../db/migrate.ts"), import("../db/migrations.ts")]);
    try {
      const applied = await migrate(db, loadMigrations());
      if (applied.length) log.info("database migrated", { applied });
    } catch (err) {
      await db.close().catch(() => undefined); // the next request builds a fresh pool
      throw err;
    }
  }

  const store = new gcs.GcsObjectStore();
  const publisher = new pubsub.PubSubPublisher({ projectId: project, topicPrefix: config.gcp.topicPrefix });
  const jobs = new run.CloudRunJobRunner({
    project, region, jobNames: { train: config.gcp.trainJob, evaluate: config.gcp.evaluateJob, predict: config.gcp.predictJob },
    // Named in the fix of a refused launch; infra/iam.tf gives each function the account fn-<name>.
    principal: `serviceAccount:fn-${service}@${project}.iam.gserviceaccount.com`,
  });
  // The dashboard posts no notifications and loads no Slack settings.
  const notifier = configSections(config).has("slack") ? await createNotifier(config, db, log) : logNotifier(log);
  const clock = systemClock;

  let backend: Promise<AnnotationBackend> | undefined;
  const loadBackend = async (): Promise<AnnotationBackend> => {
    if (config.annotation.backend === "labelstudio") {
      const { createLabelStudioBackend } = await import("../adapters/labelstudio/backend.ts");
      return createLabelStudioBackend(config, { log, clock: clock });
    }
    if (config.annotation.backend === "encord") {
      const { createEncordBackend } = await import("../adapters/encord/backend.ts");
      return createEncordBackend(config, { log, clock });
    }
    const { createInboxBackend } = await import("../adapters/annotation/inbox-backend.ts");
    return createInboxBackend({ store, config, log });
  };

  return {
    config,
    db,
    store,
    publisher,
    backend: () => {
      backend ??= loadBackend().catch((err: unknown) => {
        backend = undefined; // a failed load (bad key, network) is retried on the next call
        throw err;
      });
      return backend;
    },
    jobs,
    notifier,
    normaliser: once(heavy.normaliser ?? unavailable("normaliser", service)),
    codec: once(heavy.codec ?? unavailable("image codec", service)),
    ...(heavy.predictor ? { predictor: once(async () => (await heavy.predictor!())({ db, store, log, tileSize: config.serving.tileSize })) } : {}),
    clock,
    ids: randomIds,
    log,
  };
}

function requireGcp(config: Config): { project: string; region: string } {
  const { project, region } = config.gcp;
  if (!project || !region) throw new Error("GOOGLE_CLOUD_PROJECT and REGION must be set for the gcp runtime");
  return { project, region };
}

async function createNotifier(config: Config, db: Deps["db"], log: Logger): Promise<Notifier> {
  if (config.slack.token && config.slack.channel) {
    const { SlackNotifier, dbThreadStore } = await import("../adapters/gcp/slack.ts");
    return new SlackNotifier({ token: config.slack.token, channel: config.slack.channel, threads: dbThreadStore(db), log, dashboardUrl: config.dashboardUrl });
  }
  return logNotifier(log);
}

/** Without Slack, notifications are log lines (the use case already records them in the db). */
export function logNotifier(log: Logger): Notifier {
  return {
    async post(n) {
      // Not `severity`: that key is the log entry's own level in Cloud Logging.
      const fields = { notification: n.severity, threadKey: n.threadKey, text: n.text, links: n.links };
      if (n.severity === "alert") log.error(n.title, fields);
      else if (n.severity === "warning") log.warn(n.title, fields);
      else log.info(n.title, fields);
    },
  };
}

function unavailable<T>(what: string, service: string): () => Promise<T> {
  return () => Promise.reject(new Error(`the ${what} is not bundled with function ${service}: add its loader in functions/${service}.ts`));
}

function once<T>(load: () => Promise<T>): () => Promise<T> {
  let value: Promise<T> | undefined;
  return () => {
    value ??= load().catch((err: unknown) => {
      value = undefined;
      throw err;
    });
    return value;
  };
}

// ---------------------------------------------------------------------------------------------
// Per-cold-start memo, and the injection point tests use.

let injected: Deps | null = null;

/**
 * Replaces the deps every provider returns (tests run the real functions against a test database
 * and fakes this way). Pass null to go back to building real ones.
 */
export function overrideDeps(deps: Deps | null): void {
  injected = deps;
}

/**
 * A provider of the process's Deps, built from `process.env` on the first call and reused for the
 * instance's lifetime. A failed build (Cloud SQL unreachable) is not cached, so the next request
 * tries again.
 */
export function gcpDeps(heavy: HeavyLoaders = {}, options: GcpDepsOptions = {}): DepsProvider {
  let built: Promise<Deps> | undefined;
  return () => {
    if (injected) return Promise.resolve(injected);
    built ??= createGcpDeps(process.env, heavy, options).catch((err: unknown) => {
      built = undefined;
      throw err;
    });
    return built;
  };
}

/**
 * The CloudEvent handler a consumer function registers: `ff.cloudEvent(name, consumerFunction(name))`.
 * The decoding and delivery code (zod, the use cases) loads with the first event, so importing the
 * function costs only the framework.
 */
export function consumerFunction(consumer: ConsumerName, heavy: HeavyLoaders = {}): (event: unknown) => Promise<void> {
  const deps = gcpDeps(heavy, { service: consumer });
  let handler: Promise<(event: unknown) => Promise<void>> | undefined;
  return async (event: unknown) => {
    handler ??= import("./function-handler.ts").then((m) => m.consumerHandler(consumer, deps));
    return (await handler)(event);
  };
}
