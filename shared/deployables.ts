import { resolveSections, sectionEnv, sectionSecrets, type ConfigSection } from "./config/sections.ts";
import { MESSAGE_TYPES, SUBSCRIPTIONS, type ConsumerName, type MessageType } from "./messages/topics.ts";

/**
 * The one registry of what gets deployed: every Cloud Function and every Cloud Run job, with its
 * trigger, the messages it publishes, the configuration sections (and so the environment and
 * secrets) it needs, its bucket access and its size. Messages consumed come from SUBSCRIPTIONS
 * (shared/messages/topics.ts), which the local dispatcher routes by.
 *
 * Derived from it: which config each function validates at cold start (shared/runtime/gcp.ts),
 * which heavy packages a bundle may reference (scripts/build.ts), and `infra/deployables.json`,
 * which Terraform reads for functions, jobs, push subscriptions, publisher grants, bucket roles,
 * job launch rights, environment and secret environment (`npm run deployables` writes it;
 * test/deployables/manifest.test.ts fails when it is stale).
 *
 * Pure data (./deployables-schema.ts validates it): importing it loads the message map, nothing else.
 */

/** The annotation backends; a function's sections may differ per backend. */
export const BACKENDS = ["local", "encord", "labelstudio"] as const;
export type Backend = (typeof BACKENDS)[number];

export const BUCKETS = ["archive", "annotation", "datasets", "models"] as const;
export type BucketName = (typeof BUCKETS)[number];

/** Object read, or read + create + overwrite (re-normalised images, checkpoints, reports). */
export type BucketAccess = "viewer" | "admin";

/** Lazily loaded parts of the image stack a function bundles (functions/<name>.ts passes them). */
export const HEAVY_LOADERS = { normaliser: ["sharp", "geotiff"], codec: ["sharp"], predictor: ["onnxruntime-node"] } as const;
export type HeavyLoader = keyof typeof HEAVY_LOADERS;

export type FunctionTrigger =
  /** Pub/Sub push subscriptions, one per topic of the message types it consumes. */
  | { kind: "push" }
  /** Also an Eventarc Cloud Storage trigger on a bucket (plus push on its topics). */
  | { kind: "storage"; bucket: BucketName; event: "google.cloud.storage.object.v1.finalized" }
  /** An authenticated HTTP function. */
  | { kind: "http" };

export interface FunctionSpec {
  trigger: FunctionTrigger;
  /** Message types its use cases emit (reconcile republishes any of them). */
  publishes: readonly MessageType[];
  /** Config sections validated at cold start (`core` is implied). */
  sections: readonly ConfigSection[];
  /** Extra sections per annotation backend (the backend's own settings and secrets). */
  backendSections?: Partial<Record<Backend, readonly ConfigSection[]>>;
  heavy: readonly HeavyLoader[];
  buckets: Partial<Record<BucketName, BucketAccess>>;
  /** Jobs it starts (run with overrides), reads and cancels. */
  launches: readonly JobName[];
  memory: string;
  cpu: string;
  timeoutSeconds: number;
  maxInstances: number;
  concurrency: number;
}

export interface JobSpec {
  publishes: readonly MessageType[];
  sections: readonly ConfigSection[];
  /** Variables the job reads outside loadConfig that may be set per environment (loop_settings). */
  extraEnv: readonly string[];
  buckets: Partial<Record<BucketName, BucketAccess>>;
  cpu: string;
  memory: string;
  gpu: { accelerator: "nvidia-l4"; count: number; zonalRedundancyDisabled: boolean } | null;
  timeoutSeconds: number;
  maxRetries: number;
  taskCount: number;
  parallelism: number;
  /**
   * Object create/overwrite under one prefix of a bucket and nowhere else in it (an IAM condition
   * on the object name; the buckets have uniform access). Reads of that bucket come from `buckets`.
   */
  writesUnder?: Partial<Record<BucketName, string>>;
}

/**
 * A Cloud Run service (HTTP, scaled on requests): the model server. CPU by default; Terraform's
 * `serve_gpu` variable puts it on an L4 (then at least 4 vCPU and 16 GiB, as jobs).
 */
export interface ServiceSpec {
  sections: readonly ConfigSection[];
  /** Variables it reads outside loadConfig (set per environment through loop_settings). */
  extraEnv: readonly string[];
  buckets: Partial<Record<BucketName, BucketAccess>>;
  cpu: string;
  memory: string;
  timeoutSeconds: number;
  minInstances: number;
  maxInstances: number;
  /** Requests one instance serves at once (onnxruntime runs them on its own threads). */
  concurrency: number;
}

/** Every consumer reads the delivery settings, the database, its project and may notify. */
const CONSUMER = ["gcp", "db", "delivery", "slack"] as const;

export const JOBS = {
  train: {
    publishes: ["training.completed", "training.failed"],
    sections: ["gcp", "buckets", "training"],
    extraEnv: [],
    buckets: { datasets: "viewer", models: "admin" },
    cpu: "4",
    memory: "16Gi",
    gpu: { accelerator: "nvidia-l4", count: 1, zonalRedundancyDisabled: true },
    timeoutSeconds: 3600,
    // A retried task resumes from the checkpoints after host maintenance, a timeout or an OOM kill
    // (GPU tasks are not live-migrated); reconcile takes over when these run out.
    maxRetries: 3,
    taskCount: 1,
    parallelism: 1,
  },
  evaluate: {
    publishes: ["evaluation.completed", "evaluation.failed"],
    sections: ["gcp", "buckets"],
    extraEnv: ["EVAL_BATCH_SIZE", "EVAL_TILE_SIZE"],
    buckets: { datasets: "viewer", models: "admin" },
    cpu: "4",
    memory: "16Gi",
    gpu: { accelerator: "nvidia-l4", count: 1, zonalRedundancyDisabled: true },
    timeoutSeconds: 3600,
    maxRetries: 2,
    taskCount: 1,
    parallelism: 1,
  },
  /**
   * Batch prediction over a prefix (`mlops command predict <alias> <prefix>`): reads the inputs
   * (the archive bucket; another bucket needs its own grant) and the model, writes masks and
   * summary.json under `predictions/` of the models bucket and nothing else. No database: the
   * launcher resolves the alias. CPU, like `serve` by default: one image at a time on onnxruntime.
   */
  predict: {
    publishes: ["prediction.completed", "prediction.failed"],
    sections: ["gcp", "buckets", "normalise", "serving"],
    extraEnv: ["ONNX_EXECUTION_PROVIDERS", "PREDICT_CONCURRENCY"],
    buckets: { archive: "viewer", models: "viewer" },
    writesUnder: { models: "predictions/" },
    cpu: "2",
    memory: "4Gi",
    gpu: null,
    timeoutSeconds: 3600,
    maxRetries: 2,
    taskCount: 1,
    parallelism: 1,
  },
} as const satisfies Record<string, JobSpec>;

export type JobName = keyof typeof JOBS;

export const FUNCTIONS = {
  ingest: {
    trigger: { kind: "storage", bucket: "archive", event: "google.cloud.storage.object.v1.finalized" },
    publishes: ["item.normalised", "item.duplicate", "item.failed"],
    sections: [...CONSUMER, "buckets", "normalise"],
    heavy: ["normaliser"],
    buckets: { archive: "viewer", annotation: "admin" },
    launches: [],
    // Sized by `npm run bench -- safety` (peak RSS of one upload through ingest in a fresh Node
    // process, Postgres): hostile uploads 165-180 MiB, a legitimate 4096² 4-band float32 product
    // zip 600 MiB, the worst upload the default limits accept 750 MiB (the runtime + at most
    // MAX_DECODE_BYTES). 1 GiB would leave ~25 % headroom for GC timing; 2 GiB leaves 2.7x. Raise
    // MAX_INFLATED_BYTES / MAX_DECODE_BYTES only together with this value.
    memory: "2Gi",
    cpu: "1",
    timeoutSeconds: 540,
    maxInstances: 20,
    concurrency: 1,
  },
  register: {
    trigger: { kind: "push" },
    publishes: ["items.registered", "item.failed"],
    sections: [...CONSUMER, "buckets", "annotation"],
    backendSections: { encord: ["encord"], labelstudio: ["labelstudio"] },
    heavy: [],
    // The inbox backend writes tasks/ into the annotation bucket.
    buckets: { annotation: "admin" },
    launches: [],
    memory: "512Mi",
    cpu: "1",
    timeoutSeconds: 540,
    maxInstances: 5,
    concurrency: 1,
  },
  poll: {
    trigger: { kind: "push" },
    publishes: ["annotations.accepted"],
    sections: [...CONSUMER, "buckets", "annotation"],
    backendSections: { encord: ["encord"], labelstudio: ["labelstudio"] },
    // Quality checks decode the nodata mask PNG.
    heavy: ["codec"],
    buckets: { annotation: "viewer" },
    launches: [],
    memory: "1Gi",
    cpu: "1",
    timeoutSeconds: 540,
    maxInstances: 2,
    concurrency: 1,
  },
  threshold: {
    trigger: { kind: "push" },
    publishes: ["dataset.version_created", "training.started", "threshold.tick"],
    sections: [...CONSUMER, "buckets", "annotation", "threshold", "training", "policy"],
    // Freezing a version exports mask PNGs.
    heavy: ["codec"],
    buckets: { annotation: "viewer", datasets: "admin" },
    launches: ["train"],
    memory: "1Gi",
    cpu: "1",
    timeoutSeconds: 540,
    maxInstances: 2,
    concurrency: 1,
  },
  "on-training-completed": {
    trigger: { kind: "push" },
    // threshold.tick: a finished run nudges the threshold for samples that arrived meanwhile.
    publishes: ["training.started", "threshold.tick"],
    sections: [...CONSUMER, "buckets", "training", "policy"],
    heavy: [],
    buckets: { models: "viewer" },
    launches: ["train", "evaluate"],
    memory: "512Mi",
    cpu: "1",
    timeoutSeconds: 540,
    maxInstances: 5,
    concurrency: 1,
  },
  promote: {
    trigger: { kind: "push" },
    publishes: ["model.promoted", "promotion.review_requested"],
    sections: [...CONSUMER, "policy"],
    heavy: [],
    buckets: { models: "viewer" },
    launches: [],
    memory: "512Mi",
    cpu: "1",
    timeoutSeconds: 540,
    maxInstances: 5,
    concurrency: 1,
  },
  command: {
    trigger: { kind: "push" },
    // `replay` re-publishes a dead-lettered message of any type on its own topic.
    publishes: MESSAGE_TYPES,
    sections: [...CONSUMER, "buckets", "policy"],
    heavy: [],
    // backfill lists the archive; a finished batch prediction's drift.json is read from models.
    buckets: { archive: "viewer", models: "viewer" },
    // predict: batch prediction over a prefix.
    launches: ["predict"],
    memory: "512Mi",
    cpu: "1",
    timeoutSeconds: 540,
    maxInstances: 5,
    concurrency: 1,
  },
  reconcile: {
    trigger: { kind: "push" },
    // Republishes whatever the outbox holds unsent, whoever emitted it.
    publishes: MESSAGE_TYPES,
    // serving: the input drift check (thresholds, window, reference alias).
    sections: [...CONSUMER, "buckets", "training", "policy", "retention", "serving"],
    heavy: [],
    buckets: { models: "viewer" },
    launches: ["train", "evaluate", "predict"],
    memory: "512Mi",
    cpu: "1",
    timeoutSeconds: 540,
    maxInstances: 1,
    concurrency: 1,
  },
  prelabel: {
    trigger: { kind: "push" },
    publishes: [],
    // serving: the tile size the model sees; prelabel: the alias, backfill size and priority weights.
    sections: [...CONSUMER, "buckets", "annotation", "serving", "prelabel"],
    backendSections: { encord: ["encord"], labelstudio: ["labelstudio"] },
    // Decodes the renderings and encodes the mask PNG; runs the model with onnxruntime.
    heavy: ["codec", "predictor"],
    // Reads the renderings and writes prelabels/ (and the inbox backend's task files); reads models.
    buckets: { annotation: "admin", models: "viewer" },
    launches: [],
    // As the serve service: a model session plus an image's logits.
    memory: "2Gi",
    cpu: "1",
    timeoutSeconds: 540,
    maxInstances: 3,
    concurrency: 1,
  },
  dashboard: {
    trigger: { kind: "http" },
    publishes: [],
    sections: ["gcp", "db"],
    heavy: [],
    buckets: { archive: "viewer", annotation: "viewer", datasets: "viewer", models: "viewer" },
    launches: [],
    memory: "512Mi",
    cpu: "1",
    timeoutSeconds: 60,
    maxInstances: 3,
    concurrency: 1,
  },
  "labelstudio-webhook": {
    // Label Studio cannot sign its webhooks nor obtain a Google identity token: the function checks
    // a shared secret header itself, and only nudges the poll (which re-reads everything it trusts).
    trigger: { kind: "http" },
    publishes: ["command"],
    // db: the gcp deps open the database on cold start (migrations), though nothing here reads it.
    sections: ["gcp", "db", "labelstudioWebhook"],
    heavy: [],
    buckets: {},
    launches: [],
    memory: "256Mi",
    cpu: "1",
    // Label Studio waits 1 s for a delivery (WEBHOOK_TIMEOUT) and drops it after; answer fast.
    timeoutSeconds: 30,
    maxInstances: 2,
    concurrency: 10,
  },

  /** Slack's interactivity endpoint (review buttons): signed requests only, publishes commands. */
  "slack-actions": {
    trigger: { kind: "http" },
    publishes: ["command"],
    sections: ["gcp", "db", "slackActions"],
    heavy: [],
    buckets: {},
    launches: [],
    memory: "512Mi",
    cpu: "1",
    timeoutSeconds: 30,
    maxInstances: 3,
    concurrency: 1,
  },
} as const satisfies Record<string, FunctionSpec>;

/**
 * Ticks Cloud Scheduler publishes (a bare payload with a `type` attribute), keyed by message type;
 * `schedule` names the cron in Terraform's `schedules` variable. The local runtime has its own timers.
 */
export const SCHEDULES = {
  "poll.tick": { schedule: "poll" },
  "threshold.tick": { schedule: "threshold" },
  "reconcile.tick": { schedule: "reconcile" },
} as const satisfies Partial<Record<MessageType, { schedule: string }>>;

export const SERVICES = {
  serve: {
    // Reads aliases and models from the database, the ONNX files from the models bucket; nothing else.
    sections: ["gcp", "db", "buckets", "normalise", "serving"],
    extraEnv: ["ONNX_EXECUTION_PROVIDERS"],
    buckets: { models: "viewer" },
    cpu: "2",
    memory: "4Gi",
    timeoutSeconds: 300,
    minInstances: 0,
    maxInstances: 5,
    concurrency: 8,
  },
} as const satisfies Record<string, ServiceSpec>;

export type ServiceName = keyof typeof SERVICES;
export const SERVICE_NAMES = Object.keys(SERVICES) as ServiceName[];

export type FunctionName = keyof typeof FUNCTIONS;
export const FUNCTION_NAMES = Object.keys(FUNCTIONS) as FunctionName[];
export const JOB_NAMES = Object.keys(JOBS) as JobName[];

// ---------------------------------------------------------------------------------------------
// Lookups.

export function isFunctionName(name: string): name is FunctionName {
  return Object.hasOwn(FUNCTIONS, name);
}

export function isJobName(name: string): name is JobName {
  return Object.hasOwn(JOBS, name);
}

export function isServiceName(name: string): name is ServiceName {
  return Object.hasOwn(SERVICES, name);
}

function spec(name: FunctionName | JobName | ServiceName): FunctionSpec | JobSpec | ServiceSpec {
  if (isServiceName(name)) return SERVICES[name];
  return isFunctionName(name) ? FUNCTIONS[name] : JOBS[name];
}

/** Message types a function receives (push subscriptions; ingest also gets storage events). */
export function consumedBy(name: FunctionName): readonly MessageType[] {
  return (SUBSCRIPTIONS as Record<string, readonly MessageType[]>)[name] ?? [];
}

export function isConsumer(name: FunctionName): name is FunctionName & ConsumerName {
  return consumedBy(name).length > 0;
}

/** The config sections a deployable loads with this annotation backend (resolved: `core` and requirements included). */
export function sectionsOf(name: FunctionName | JobName | ServiceName, backend: Backend): ConfigSection[] {
  const s = spec(name);
  const extra = "backendSections" in s ? (s.backendSections?.[backend] ?? []) : [];
  return [...resolveSections([...s.sections, ...extra])];
}

/** The backend named by a raw environment (`loadConfig` validates the value itself). */
export function backendOf(env: Record<string, string | undefined>): Backend {
  return env.ANNOTATION_BACKEND === "encord" || env.ANNOTATION_BACKEND === "labelstudio" ? env.ANNOTATION_BACKEND : "local";
}

/** Environment variables (plain and secret) a deployable may read with this backend. */
export function envOf(name: FunctionName | JobName | ServiceName, backend: Backend): string[] {
  const s = spec(name);
  return [...sectionEnv(sectionsOf(name, backend)), ...("extraEnv" in s ? s.extraEnv : [])];
}

/** The variables among `envOf` that are secrets. */
export function secretsOf(name: FunctionName | JobName | ServiceName, backend: Backend): string[] {
  return sectionSecrets(sectionsOf(name, backend));
}

/** Functions that start a job. */
export function launchersOf(job: JobName): FunctionName[] {
  return FUNCTION_NAMES.filter((f) => (FUNCTIONS[f].launches as readonly string[]).includes(job));
}
