import * as z from "zod";
import { PromotionPolicySchema } from "../core/promotion/policy-schema.ts";
import { ALL_SECTIONS, type ConfigSection } from "./sections.ts";
import { DEFAULT_PRIORITY_WEIGHTS } from "../core/prelabel/priority.ts";

/** `PRIORITY_WEIGHTS`: `{"uncertainty":0.6,"boundary":0.25,"novelty":0.15}`, non-negative, not all 0. */
const PriorityWeightsSchema = z
  .strictObject({ uncertainty: z.number().min(0).default(0), boundary: z.number().min(0).default(0), novelty: z.number().min(0).default(0) })
  .refine((w) => w.uncertainty + w.boundary + w.novelty > 0, "at least one weight must be positive");

/**
 * Configuration of every deployable, read from the environment by `loadConfig(env)`. Defaults are
 * the embedded local runtime's; the `gcp` runtime requires its project, region and job names.
 * All issues are reported at once. Every variable belongs to one section (./sections.ts): a new
 * variable must be listed there too.
 */

const bool = z
  .enum(["true", "false", "1", "0", "yes", "no"])
  .transform((v) => v === "true" || v === "1" || v === "yes");

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
const num = (min: number, max: number) => z.coerce.number().min(min).max(max);

/** "3,2,1" → [3,2,1] */
const bandList = (len: number) =>
  z
    .string()
    .regex(/^\s*\d+(\s*,\s*\d+)*\s*$/, "a comma-separated list of 1-based band numbers")
    .transform((s) => s.split(",").map((v) => Number(v.trim())))
    .refine((a) => a.length === len && a.every((b) => b >= 1), `exactly ${len} band numbers, each ≥ 1`);

const jsonOf = <T extends z.ZodType>(schema: T) =>
  z.string().transform((s, ctx) => {
    try {
      return JSON.parse(s) as unknown;
    } catch (e) {
      ctx.addIssue({ code: "custom", message: `not valid JSON (${(e as Error).message})` });
      return z.NEVER;
    }
  }).pipe(schema);

/**
 * The seed project's classes (its Encord bitmask objects), in class-id order. `Fill` (id 0) is the
 * no-data fill class: nodata pixels are Fill or unlabelled; land and water are both `Clear`.
 */
export const DEFAULT_ONTOLOGY = ["Fill", "Clear", "Cloud", "Thin_Cloud", "Cloud_Shadow"];

/**
 * `ONTOLOGY`: Encord object names → class ids, as a JSON object (`{"Fill":0,"Clear":1,…}`), or a
 * JSON list of names whose index is the id. Either way ids run 0…n−1, each used once; the result
 * is the list of names in id order.
 */
const ontologyNames = z.unknown().transform((value, ctx): string[] => {
  const fail = (message: string) => {
    ctx.addIssue({ code: "custom", message });
    return z.NEVER;
  };
  if (Array.isArray(value)) {
    const list = z.array(z.string().min(1)).min(2).safeParse(value);
    return list.success ? list.data : fail("a list of at least two class names");
  }
  const byName = z.record(z.string().min(1), z.number().int().min(0)).safeParse(value);
  if (!byName.success) return fail('an object of Encord object names → class ids ({"Fill":0,"Clear":1,…}), or a list of names');
  const entries = Object.entries(byName.data).sort(([, a], [, b]) => a - b);
  const ids = entries.map(([, id]) => id);
  if (entries.length < 2 || ids.some((id, index) => id !== index)) {
    return fail(`class ids must be 0…n−1 (at least two classes), each used once; got ${ids.join(", ") || "none"}`);
  }
  return entries.map(([name]) => name);
});

/**
 * What one upload may cost the normaliser (`MAX_INFLATED_BYTES`, `MAX_RASTER_PIXELS`,
 * `MAX_RASTER_BANDS`, `MAX_DECODE_BYTES`). Together they keep a function's peak RSS under 1 GiB for
 * any input, hostile or at the limits (measured by `npm run bench -- safety`): the inflated entry
 * and the decode are the two large allocations, and the runtime itself holds ~150 MB.
 */
export const NORMALISE_LIMIT_DEFAULTS = {
  maxInflatedBytes: 320 * 1024 ** 2,
  maxRasterPixels: 2 ** 27,
  maxRasterBands: 64,
  maxDecodeBytes: 480 * 1024 ** 2,
} as const;

export const EnvSchema = z
  .object({
    MLOPS_RUNTIME: z.enum(["local", "gcp"]).default("local"),
    /** Local workspace folder: PGlite data, buckets, inbox, logs. */
    MLOPS_WORKSPACE: z.string().min(1).default(".mlops"),
    LOG_LEVEL: z.enum(["debug", "info", "warn", "error"]).default("info"),

    // Database: DATABASE_URL (any runtime) or Cloud SQL (gcp); PGlite in the workspace otherwise.
    // zod's url() takes `localhost:5432/db` as a URL with the scheme `localhost:`: ask for the scheme.
    DATABASE_URL: z.string().regex(/^postgres(ql)?:\/\/\S+$/, "a postgres:// or postgresql:// connection URL").optional(),
    CLOUD_SQL_INSTANCE: z.string().regex(/^[^:]+:[^:]+:[^:]+$/, "project:region:instance").optional(),
    DB_USER: z.string().optional(),
    DB_PASSWORD: z.string().optional(),
    DB_NAME: z.string().default("mlops"),
    DB_IAM_AUTH: bool.default(false),
    DB_POOL_MAX: int(1, 100).default(5),
    /** How the Cloud SQL connector reaches the instance (PRIVATE needs VPC egress). */
    CLOUD_SQL_IP_TYPE: z.enum(["PUBLIC", "PRIVATE", "PSC"]).default("PUBLIC"),

    // Buckets
    BUCKET_ARCHIVE: z.string().min(1).default("archive"),
    BUCKET_ANNOTATION: z.string().min(1).default("annotation"),
    BUCKET_DATASETS: z.string().min(1).default("datasets"),
    BUCKET_MODELS: z.string().min(1).default("models"),
    /** Folder inside the annotation bucket where normalised items land. */
    ANNOTATION_FOLDER: z.string().default("items"),

    // Normalisation
    BAND_RGB: bandList(3).default([3, 2, 1]),
    BAND_NIR: z.union([z.literal("none").transform(() => null), int(1, 64)]).default(4),
    STRETCH_PERCENTILES: z
      .union([
        z.literal("none").transform(() => null),
        z
          .string()
          .regex(/^\s*[\d.]+\s*,\s*[\d.]+\s*$/, 'two percentiles such as "2,98", or "none"')
          .transform((s) => s.split(",").map(Number) as [number, number])
          .refine(([lo, hi]) => lo >= 0 && hi <= 100 && lo < hi, "0 ≤ low < high ≤ 100"),
      ])
      .default([2, 98]),
    NODATA_VALUE: z.coerce.number().optional(),
    MAX_UPLOAD_BYTES: int(1, 2 ** 40).default(2 * 1024 ** 3),
    /** An upload with the same bytes as a live item ends `duplicate` instead of becoming a second task. */
    DEDUPLICATE_CONTENT: bool.default(true),
    MAX_INFLATED_BYTES: int(1024, 2 ** 40).default(NORMALISE_LIMIT_DEFAULTS.maxInflatedBytes),
    MAX_RASTER_PIXELS: int(1, 2 ** 40).default(NORMALISE_LIMIT_DEFAULTS.maxRasterPixels),
    MAX_RASTER_BANDS: int(1, 65_535).default(NORMALISE_LIMIT_DEFAULTS.maxRasterBands),
    MAX_DECODE_BYTES: int(1024, 2 ** 40).default(NORMALISE_LIMIT_DEFAULTS.maxDecodeBytes),
    /** An image whose valid pixels hold one value: `warn` (normalised, with a warning) or `fail`. */
    SINGLE_VALUE_IMAGES: z.enum(["warn", "fail"]).default("warn"),

    // Annotation
    ANNOTATION_BACKEND: z.enum(["local", "encord", "labelstudio"]).default("local"),
    /** Encord object name → class id (or a list, index = id). Nodata pixels may only be the fill class (see ontology.ts). */
    ONTOLOGY: jsonOf(ontologyNames).default(DEFAULT_ONTOLOGY),
    TASK: z.enum(["segmentation", "detection", "classification"]).default("segmentation"),
    REGISTER_BATCH_SIZE: int(1, 1000).default(1000),
    /** An upload normalising for less than this holds registration back, so a burst goes in one batch. */
    REGISTER_BATCH_WINDOW_SECONDS: num(0, 3600).default(60),
    ENCORD_DOMAIN: z.string().url().default("https://api.encord.com"),
    ENCORD_SSH_KEY_FILE: z.string().optional(),
    ENCORD_SSH_KEY: z.string().optional(),
    ENCORD_INTEGRATION: z.string().optional(),
    ENCORD_FOLDER: z.string().default("mlops-loop"),
    ENCORD_DATASET_HASH: z.string().optional(),
    ENCORD_PROJECT_HASH: z.string().optional(),
    ENCORD_COMPLETE_STAGE: z.string().default("Complete"),
    /** Label Studio's base URL (`https://ls.example.com`, or `…/ls` when served under a sub-path). */
    LABEL_STUDIO_URL: z.string().url().optional(),
    /** A legacy API token (Account & Settings → Access Token), sent as `Authorization: Token <key>`. */
    LABEL_STUDIO_API_KEY: z.string().optional(),
    /** The project: its numeric id, or a title (created with the generated labeling config if absent). */
    LABEL_STUDIO_PROJECT: z.string().min(1).default("mlops-loop"),
    /**
     * Unset: tasks carry `gs://bucket/name` URIs, which a GCS source storage connection of the project
     * resolves. Set: tasks carry `<prefix><bucket>/<name>` (the local dashboard serves `…/objects/`).
     */
    LABEL_STUDIO_IMAGE_URL_PREFIX: z.string().url().optional(),
    /** The shared secret Label Studio's webhook sends in LABEL_STUDIO_WEBHOOK_HEADER. */
    LABEL_STUDIO_WEBHOOK_SECRET: z.string().min(16, "at least 16 characters").optional(),
    LABEL_STUDIO_WEBHOOK_HEADER: z.string().regex(/^[a-zA-Z0-9-_]+$/, "a header name Label Studio accepts ([a-zA-Z0-9-_]+)").default("X-Mlops-Webhook-Secret"),

    // Threshold and datasets
    DATASET_LINE: z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/).default("default"),
    THRESHOLD_N: int(1, 1_000_000).default(100),
    THRESHOLD_M: int(1, 1_000_000).default(20),
    THRESHOLD_T_HOURS: num(0, 24 * 365).default(24),
    EVAL_SPLIT_PERCENT: int(1, 90).default(20),

    // Training and evaluation
    TRAINER_COMMAND: z.string().optional(),
    TRAIN_PARAMS: jsonOf(z.record(z.string(), z.unknown())).default({}),
    // Per task attempt; Cloud Run stops a GPU task after an hour at most, so longer runs resume from
    // their checkpoints in the next attempt (GPU_TASK_TIMEOUT_MAX_SECONDS, shared/messages/jobs.ts).
    TRAIN_TIMEOUT_SECONDS: int(60, 3600).default(3600),
    TRAIN_MAX_ATTEMPTS: int(1, 20).default(3),
    BASE_MODEL_URI: z.string().optional(),
    BENCHMARK_DATASET_URI: z.string().optional(),
    PROMOTION_POLICY: jsonOf(PromotionPolicySchema).optional(),

    // Delivery
    MAX_EVENT_AGE_SECONDS: int(60, 7 * 24 * 3600).default(24 * 3600),
    MAX_DELIVERY_ATTEMPTS: int(1, 100).default(8),
    STUCK_AFTER_SECONDS: int(10, 7 * 24 * 3600).default(900),
    /** Retries (with doubling back-off) of an item stuck in `seen`/`normalised` before it fails. */
    STUCK_MAX_ATTEMPTS: int(1, 100).default(8),

    // Retention (README "What is kept, and for how long"): deleted in batches by reconcile.
    RETENTION_INBOX_MARGIN_HOURS: num(0, 24 * 365).default(24),
    RETENTION_SENT_OUTBOX_HOURS: num(0, 24 * 365).default(24),
    RETENTION_FINISHED_DELIVERIES_HOURS: num(0, 24 * 365).default(24),
    RETENTION_DEAD_LETTERS_DAYS: num(0, 3650).default(30),
    RETENTION_NOTIFICATIONS_DAYS: num(0, 3650).default(30),
    RETENTION_SLACK_THREADS_DAYS: num(0, 3650).default(30),
    RETENTION_TRANSITIONS_DAYS: num(0, 3650).default(30),
    /** Drift check results and the statistics of predicted images (the drift window needs only recent ones). */
    RETENTION_DRIFT_DAYS: num(0, 3650).default(7),
    RETENTION_BATCH_SIZE: int(1, 100_000).default(1000),
    RETENTION_MAX_BATCHES: int(1, 10_000).default(20),

    // Notifications
    SLACK_BOT_TOKEN: z.string().optional(),
    SLACK_CHANNEL: z.string().optional(),
    DASHBOARD_URL: z.string().url().optional(),
    /** Verifies requests from Slack's interactivity (Approve/Reject buttons) to `slack-actions`. */
    SLACK_SIGNING_SECRET: z.string().min(1).optional(),

    // Serving (`POST /v1/models/{alias}:predict`) and input drift
    /** Largest request body or `uri` object a prediction accepts (413 above it). */
    PREDICT_MAX_BYTES: int(1024, 2 ** 34).default(256 * 1024 ** 2),
    /** Edge of the square tiles a fully convolutional model sees while serving. */
    PREDICT_TILE_SIZE: int(32, 8192).default(1024),
    /** Most recent images (ingested or predicted, outside the reference) compared with the reference. */
    DRIFT_WINDOW_IMAGES: int(5, 100_000).default(30),
    /** Fewest recent images before drift is judged at all. */
    DRIFT_MIN_IMAGES: int(2, 100_000).default(10),
    /** A feature drifts when PSI ≥ this (Evidently's `psi` stat test default, 0.1)... */
    DRIFT_PSI_THRESHOLD: num(0, 100).default(0.1),
    /** ...and its two-sample KS p-value < this (Evidently's `ks` stat test default, 0.05). */
    DRIFT_KS_PVALUE: num(0, 1).default(0.05),
    /** Share of drifted features at which the input counts as drifted (Evidently's dataset drift default, 0.5). */
    DRIFT_SHARE: num(0, 1).default(0.5),
    /** Least seconds between two drift checks (each reconcile run asks). */
    DRIFT_CHECK_SECONDS: int(0, 86_400).default(60),
    /** The alias whose model is the drift reference (staging when it holds no model). */
    DRIFT_ALIAS: z.string().min(1).default("prod"),

    // Pre-labels and labelling priority (shared/core/usecases/prelabel.ts)
    /** The alias whose model pre-labels newly registered items; `none` turns pre-labelling off. */
    PRELABEL_ALIAS: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/, "an alias name, or none").default("staging"),
    /** Registered items without a pre-label that one backfill run (each reconcile tick) predicts. */
    PRELABEL_BACKFILL_PER_TICK: int(0, 10_000).default(20),
    /** Tries per item before a failed pre-label is left alone (the item stays registered without one). */
    PRELABEL_MAX_ATTEMPTS: int(1, 100).default(3),
    /** Weights of the priority's components (shared/core/prelabel/priority.ts); missing keys are 0. */
    PRIORITY_WEIGHTS: jsonOf(PriorityWeightsSchema).default(DEFAULT_PRIORITY_WEIGHTS),

    // Local runtime
    PORT: int(0, 65535).default(8080),
    POLL_INTERVAL_SECONDS: num(0.2, 86_400).default(5),
    RECONCILE_INTERVAL_SECONDS: num(1, 86_400).default(30),
    LOCAL_CONCURRENCY: int(1, 64).default(8),
    /** Crash testing only: failpoints at which the process kills itself (see shared/core/failpoints.ts). */
    MLOPS_FAILPOINTS: z.string().optional(),

    // GCP
    GOOGLE_CLOUD_PROJECT: z.string().optional(),
    REGION: z.string().optional(),
    TRAIN_JOB: z.string().default("train"),
    EVALUATE_JOB: z.string().default("evaluate"),
    PREDICT_JOB: z.string().default("predict"),
    TOPIC_PREFIX: z.string().default(""),
  });

/**
 * Rules across variables. They read the raw strings, so they are reported together with the
 * per-variable problems (a zod refinement would only run once every field parsed).
 */
export function crossFieldIssues(env: Readonly<Record<string, string | undefined>>, sections: ReadonlySet<ConfigSection> = new Set(ALL_SECTIONS)): string[] {
  const issues: string[] = [];
  const has = (key: string) => typeof env[key] === "string" && env[key] !== "";
  // Each rule belongs to a section and applies only where that section is loaded.
  if (sections.has("gcp") && env.MLOPS_RUNTIME === "gcp") {
    for (const key of ["GOOGLE_CLOUD_PROJECT", "REGION"]) if (!has(key)) issues.push(`${key}: required when MLOPS_RUNTIME=gcp`);
  }
  if (sections.has("encord") && env.ANNOTATION_BACKEND === "encord") {
    if (!has("ENCORD_SSH_KEY_FILE") && !has("ENCORD_SSH_KEY")) {
      issues.push("ENCORD_SSH_KEY_FILE: set ENCORD_SSH_KEY_FILE (a path) or ENCORD_SSH_KEY (the key) when ANNOTATION_BACKEND=encord");
    }
    for (const key of ["ENCORD_INTEGRATION", "ENCORD_DATASET_HASH", "ENCORD_PROJECT_HASH"]) {
      if (!has(key)) issues.push(`${key}: required when ANNOTATION_BACKEND=encord`);
    }
  }
  if (sections.has("labelstudio") && env.ANNOTATION_BACKEND === "labelstudio") {
    for (const key of ["LABEL_STUDIO_URL", "LABEL_STUDIO_API_KEY"]) {
      if (!has(key)) issues.push(`${key}: required when ANNOTATION_BACKEND=labelstudio`);
    }
  }
  const n = Number(env.THRESHOLD_N ?? 100);
  const m = Number(env.THRESHOLD_M ?? 20);
  if (sections.has("threshold") && Number.isFinite(n) && Number.isFinite(m) && m > n) issues.push("THRESHOLD_M: must not exceed THRESHOLD_N");
  return issues;
}

export type Env = z.infer<typeof EnvSchema>;
