import { summariseIssues } from "../messages/build.ts";
import { DEFAULT_PROMOTION_POLICY, type PromotionPolicy } from "../core/promotion/policy-schema.ts";
import type { PriorityWeights } from "../core/prelabel/priority.ts";
import { EnvSchema, crossFieldIssues, type Env } from "./schema.ts";
import { ALL_SECTIONS, resolveSections, sectionConfigKeys, sectionEnv, type ConfigSection } from "./sections.ts";

export class ConfigError extends Error {
  override readonly name = "ConfigError";
  readonly issues: string[];
  constructor(issues: string[]) {
    super(`invalid configuration:\n  - ${issues.join("\n  - ")}`);
    this.issues = issues;
  }
}

/** The parsed configuration, grouped by concern. */
export interface Config {
  runtime: "local" | "gcp";
  workspace: string;
  logLevel: Env["LOG_LEVEL"];
  db: {
    url: string | undefined;
    cloudSqlInstance: string | undefined;
    user: string | undefined;
    password: string | undefined;
    name: string;
    iamAuth: boolean;
    poolMax: number;
    ipType: "PUBLIC" | "PRIVATE" | "PSC";
  };
  buckets: { archive: string; annotation: string; datasets: string; models: string };
  annotationFolder: string;
  normalise: {
    rgbBands: [number, number, number];
    nirBand: number | null;
    stretchPercentiles: [number, number] | null;
    nodataValue: number | null;
    maxUploadBytes: number;
    deduplicateContent: boolean;
    limits: { maxInflatedBytes: number; maxRasterPixels: number; maxRasterBands: number; maxDecodeBytes: number };
    singleValueImages: "warn" | "fail";
  };
  annotation: {
    backend: "local" | "encord" | "labelstudio";
    ontology: string[];
    task: "segmentation" | "detection" | "classification";
    registerBatchSize: number;
    registerBatchWindowSeconds: number;
  };
  encord: {
    domain: string;
    sshKeyFile: string | undefined;
    sshKey: string | undefined;
    integration: string | undefined;
    folder: string;
    datasetHash: string | undefined;
    projectHash: string | undefined;
    completeStage: string;
  };
  labelStudio: {
    /** Without a trailing slash. */
    url: string | undefined;
    apiKey: string | undefined;
    /** A numeric id or a title. */
    project: string;
    imageUrlPrefix: string | undefined;
  };
  labelStudioWebhook: { secret: string | undefined; header: string };
  threshold: { line: string; n: number; m: number; tHours: number; evalSplitPercent: number };
  training: {
    trainerCommand: string | undefined;
    params: Record<string, unknown>;
    timeoutSeconds: number;
    maxAttempts: number;
    baseModelUri: string | undefined;
    benchmarkDatasetUri: string | undefined;
  };
  policy: PromotionPolicy;
  delivery: { maxEventAgeSeconds: number; maxAttempts: number; stuckAfterSeconds: number; stuckMaxAttempts: number };
  /** How long operational rows are kept (seconds), and how much one reconcile run deletes. */
  retention: {
    inboxMarginSeconds: number;
    sentOutboxSeconds: number;
    finishedDeliveriesSeconds: number;
    deadLettersSeconds: number;
    notificationsSeconds: number;
    slackThreadsSeconds: number;
    transitionsSeconds: number;
    driftSeconds: number;
    batchSize: number;
    maxBatches: number;
  };
  slack: { token: string | undefined; channel: string | undefined };
  dashboardUrl: string | undefined;
  /** Slack interactivity: the app's signing secret (`slack-actions` refuses every request without it). */
  slackActions: { signingSecret: string | undefined };
  /** The `serve` routes and the input drift check. */
  serving: {
    maxRequestBytes: number;
    tileSize: number;
    drift: { windowImages: number; minImages: number; psiThreshold: number; ksPValue: number; driftShare: number; checkSeconds: number; alias: string };
  };
  /** Pre-labels from the model behind `alias` (null: off) and the labelling priority's weights. */
  prelabel: { alias: string | null; backfillPerTick: number; maxAttempts: number; weights: PriorityWeights };
  local: { port: number; pollIntervalSeconds: number; reconcileIntervalSeconds: number; concurrency: number };
  /** `MLOPS_FAILPOINTS`, for crash tests; unset in normal operation. */
  failpoints: string | undefined;
  gcp: { project: string | undefined; region: string | undefined; trainJob: string; evaluateJob: string; predictJob: string; topicPrefix: string };
}

export interface LoadConfigOptions {
  /**
   * Validate only these sections (plus `core` and what they require); the Config keys of the
   * others throw when read. Omitted: every section (the local runtime, the CLI, tests).
   */
  sections?: readonly ConfigSection[];
}

/**
 * Reads configuration from an environment (pass `process.env` at the edge, a literal in tests).
 * Throws a ConfigError that lists every problem, not just the first.
 */
export function loadConfig(env: Record<string, string | undefined>, options: LoadConfigOptions = {}): Config {
  const sections = resolveSections(options.sections);
  // Empty strings mean "unset": `FOO=` in a .env file should not become a plausible empty value.
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ""));
  // Variables of sections not loaded are not validated: they parse as their defaults, never read.
  const visibleKeys = new Set(sectionEnv(sections));
  const visible = options.sections ? Object.fromEntries(Object.entries(cleaned).filter(([k]) => visibleKeys.has(k))) : cleaned;
  const parsed = EnvSchema.safeParse(visible);
  const issues = [...(parsed.success ? [] : parsed.error.issues.map((i) => summariseIssues([i]))), ...crossFieldIssues(cleaned, sections)];
  if (!parsed.success || issues.length > 0) throw new ConfigError(issues);
  const e = parsed.data;
  return restrictToSections(buildConfig(e), sections);
}

function buildConfig(e: Env): Config {
  return {
    runtime: e.MLOPS_RUNTIME,
    workspace: e.MLOPS_WORKSPACE,
    logLevel: e.LOG_LEVEL,
    db: {
      url: e.DATABASE_URL,
      cloudSqlInstance: e.CLOUD_SQL_INSTANCE,
      user: e.DB_USER,
      password: e.DB_PASSWORD,
      name: e.DB_NAME,
      iamAuth: e.DB_IAM_AUTH,
      poolMax: e.DB_POOL_MAX,
      ipType: e.CLOUD_SQL_IP_TYPE,
    },
    buckets: { archive: e.BUCKET_ARCHIVE, annotation: e.BUCKET_ANNOTATION, datasets: e.BUCKET_DATASETS, models: e.BUCKET_MODELS },
    annotationFolder: e.ANNOTATION_FOLDER,
    normalise: {
      rgbBands: e.BAND_RGB as [number, number, number],
      nirBand: e.BAND_NIR,
      stretchPercentiles: e.STRETCH_PERCENTILES,
      nodataValue: e.NODATA_VALUE ?? null,
      maxUploadBytes: e.MAX_UPLOAD_BYTES,
      deduplicateContent: e.DEDUPLICATE_CONTENT,
      limits: {
        maxInflatedBytes: e.MAX_INFLATED_BYTES,
        maxRasterPixels: e.MAX_RASTER_PIXELS,
        maxRasterBands: e.MAX_RASTER_BANDS,
        maxDecodeBytes: e.MAX_DECODE_BYTES,
      },
      singleValueImages: e.SINGLE_VALUE_IMAGES,
    },
    annotation: {
      backend: e.ANNOTATION_BACKEND,
      ontology: e.ONTOLOGY,
      task: e.TASK,
      registerBatchSize: e.REGISTER_BATCH_SIZE,
      registerBatchWindowSeconds: e.REGISTER_BATCH_WINDOW_SECONDS,
    },
    encord: {
      domain: e.ENCORD_DOMAIN.replace(/\/+$/, ""),
      sshKeyFile: e.ENCORD_SSH_KEY_FILE,
      sshKey: e.ENCORD_SSH_KEY,
      integration: e.ENCORD_INTEGRATION,
      folder: e.ENCORD_FOLDER,
      datasetHash: e.ENCORD_DATASET_HASH,
      projectHash: e.ENCORD_PROJECT_HASH,
      completeStage: e.ENCORD_COMPLETE_STAGE,
    },
    labelStudio: {
      url: e.LABEL_STUDIO_URL?.replace(/\/+$/, ""),
      apiKey: e.LABEL_STUDIO_API_KEY,
      project: e.LABEL_STUDIO_PROJECT,
      imageUrlPrefix: e.LABEL_STUDIO_IMAGE_URL_PREFIX,
    },
    labelStudioWebhook: { secret: e.LABEL_STUDIO_WEBHOOK_SECRET, header: e.LABEL_STUDIO_WEBHOOK_HEADER },
    threshold: { line: e.DATASET_LINE, n: e.THRESHOLD_N, m: e.THRESHOLD_M, tHours: e.THRESHOLD_T_HOURS, evalSplitPercent: e.EVAL_SPLIT_PERCENT },
    training: {
      trainerCommand: e.TRAINER_COMMAND,
      params: e.TRAIN_PARAMS,
      timeoutSeconds: e.TRAIN_TIMEOUT_SECONDS,
      maxAttempts: e.TRAIN_MAX_ATTEMPTS,
      baseModelUri: e.BASE_MODEL_URI,
      benchmarkDatasetUri: e.BENCHMARK_DATASET_URI,
    },
    policy: e.PROMOTION_POLICY ?? DEFAULT_PROMOTION_POLICY,
    delivery: { maxEventAgeSeconds: e.MAX_EVENT_AGE_SECONDS, maxAttempts: e.MAX_DELIVERY_ATTEMPTS, stuckAfterSeconds: e.STUCK_AFTER_SECONDS, stuckMaxAttempts: e.STUCK_MAX_ATTEMPTS },
    retention: {
      inboxMarginSeconds: e.RETENTION_INBOX_MARGIN_HOURS * 3600,
      sentOutboxSeconds: e.RETENTION_SENT_OUTBOX_HOURS * 3600,
      finishedDeliveriesSeconds: e.RETENTION_FINISHED_DELIVERIES_HOURS * 3600,
      deadLettersSeconds: e.RETENTION_DEAD_LETTERS_DAYS * 86_400,
      notificationsSeconds: e.RETENTION_NOTIFICATIONS_DAYS * 86_400,
      slackThreadsSeconds: e.RETENTION_SLACK_THREADS_DAYS * 86_400,
      transitionsSeconds: e.RETENTION_TRANSITIONS_DAYS * 86_400,
      driftSeconds: e.RETENTION_DRIFT_DAYS * 86_400,
      batchSize: e.RETENTION_BATCH_SIZE,
      maxBatches: e.RETENTION_MAX_BATCHES,
    },
    slack: { token: e.SLACK_BOT_TOKEN, channel: e.SLACK_CHANNEL },
    dashboardUrl: e.DASHBOARD_URL,
    slackActions: { signingSecret: e.SLACK_SIGNING_SECRET },
    failpoints: e.MLOPS_FAILPOINTS,
    serving: {
      maxRequestBytes: e.PREDICT_MAX_BYTES,
      tileSize: e.PREDICT_TILE_SIZE,
      drift: { windowImages: e.DRIFT_WINDOW_IMAGES, minImages: e.DRIFT_MIN_IMAGES, psiThreshold: e.DRIFT_PSI_THRESHOLD, ksPValue: e.DRIFT_KS_PVALUE, driftShare: e.DRIFT_SHARE, checkSeconds: e.DRIFT_CHECK_SECONDS, alias: e.DRIFT_ALIAS },
    },
    prelabel: { alias: e.PRELABEL_ALIAS === "none" ? null : e.PRELABEL_ALIAS, backfillPerTick: e.PRELABEL_BACKFILL_PER_TICK, maxAttempts: e.PRELABEL_MAX_ATTEMPTS, weights: e.PRIORITY_WEIGHTS },
    local: { port: e.PORT, pollIntervalSeconds: e.POLL_INTERVAL_SECONDS, reconcileIntervalSeconds: e.RECONCILE_INTERVAL_SECONDS, concurrency: e.LOCAL_CONCURRENCY },
    gcp: { project: e.GOOGLE_CLOUD_PROJECT, region: e.REGION, trainJob: e.TRAIN_JOB, evaluateJob: e.EVALUATE_JOB, predictJob: e.PREDICT_JOB, topicPrefix: e.TOPIC_PREFIX },
  };
}

const loaded = new WeakMap<object, ReadonlySet<ConfigSection>>();

/** A Config whose keys outside `sections` throw when read (and are left out of spreads and JSON). */
function restrictToSections(config: Config, sections: ReadonlySet<ConfigSection>): Config {
  loaded.set(config, sections);
  for (const section of ALL_SECTIONS) {
    if (sections.has(section)) continue;
    for (const key of sectionConfigKeys(section)) {
      Object.defineProperty(config, key, {
        enumerable: false,
        configurable: true,
        get() {
          throw new Error(`config.${key} belongs to config section "${section}", which this deployable does not load: declare it in shared/deployables.ts`);
        },
      });
    }
  }
  return config;
}

/** The sections `config` was loaded with (every section for configs built any other way). */
export function configSections(config: Config): ReadonlySet<ConfigSection> {
  return loaded.get(config) ?? new Set(ALL_SECTIONS);
}

/** Config with secrets replaced, safe to log or print. */
export function redactConfig(config: Config): Config {
  const mask = (v: string | undefined) => (v === undefined ? undefined : "***");
  const has = configSections(config);
  return {
    ...config,
    ...(has.has("db") ? { db: { ...config.db, password: mask(config.db.password), url: config.db.url?.replace(/\/\/([^:@/]+):[^@/]*@/, "//$1:***@") } } : {}),
    ...(has.has("encord") ? { encord: { ...config.encord, sshKey: mask(config.encord.sshKey) } } : {}),
    ...(has.has("labelstudio") ? { labelStudio: { ...config.labelStudio, apiKey: mask(config.labelStudio.apiKey) } } : {}),
    ...(has.has("labelstudioWebhook") ? { labelStudioWebhook: { ...config.labelStudioWebhook, secret: mask(config.labelStudioWebhook.secret) } } : {}),
    ...(has.has("slack") ? { slack: { ...config.slack, token: mask(config.slack.token) } } : {}),
    ...(has.has("slackActions") ? { slackActions: { signingSecret: mask(config.slackActions.signingSecret) } } : {}),
  };
}
