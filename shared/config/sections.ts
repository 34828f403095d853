import type { Config } from "./load.ts";
import type { Env } from "./schema.ts";

/**
 * Configuration is split into sections so that each deployable validates only what it uses: a
 * function that never talks to Encord must not fail its cold start because the Encord key is not
 * in its environment. `loadConfig(env, { sections })` parses the variables of the named sections
 * (plus `core` and what they require); the Config keys of every other section throw when read, so
 * a use case reading a section its deployable did not declare fails loudly in tests.
 *
 * Every variable in `EnvSchema` belongs to exactly one section and every top-level Config key to
 * exactly one section (test/shared/config/sections.test.ts). A new variable goes into the section
 * of the Config group it fills; a secret also goes into that section's `secrets`, which Terraform
 * wires from Secret Manager instead of plain environment (see shared/deployables.ts).
 */
export const CONFIG_SECTIONS = {
  core: { env: ["MLOPS_RUNTIME", "MLOPS_WORKSPACE", "LOG_LEVEL", "MLOPS_FAILPOINTS"], config: ["runtime", "workspace", "logLevel", "failpoints"] },
  gcp: {
    env: ["GOOGLE_CLOUD_PROJECT", "REGION", "TRAIN_JOB", "EVALUATE_JOB", "PREDICT_JOB", "TOPIC_PREFIX"],
    config: ["gcp"],
  },
  db: {
    env: ["DATABASE_URL", "CLOUD_SQL_INSTANCE", "DB_USER", "DB_PASSWORD", "DB_NAME", "DB_IAM_AUTH", "DB_POOL_MAX", "CLOUD_SQL_IP_TYPE"],
    config: ["db"],
    secrets: ["DB_PASSWORD"],
  },
  buckets: {
    env: ["BUCKET_ARCHIVE", "BUCKET_ANNOTATION", "BUCKET_DATASETS", "BUCKET_MODELS", "ANNOTATION_FOLDER"],
    config: ["buckets", "annotationFolder"],
  },
  normalise: {
    env: ["BAND_RGB", "BAND_NIR", "STRETCH_PERCENTILES", "NODATA_VALUE", "MAX_UPLOAD_BYTES", "DEDUPLICATE_CONTENT", "MAX_INFLATED_BYTES", "MAX_RASTER_PIXELS", "MAX_RASTER_BANDS", "MAX_DECODE_BYTES", "SINGLE_VALUE_IMAGES"],
    config: ["normalise"],
  },
  annotation: {
    env: ["ANNOTATION_BACKEND", "ONTOLOGY", "TASK", "REGISTER_BATCH_SIZE", "REGISTER_BATCH_WINDOW_SECONDS"],
    config: ["annotation"],
  },
  encord: {
    env: ["ENCORD_DOMAIN", "ENCORD_SSH_KEY_FILE", "ENCORD_SSH_KEY", "ENCORD_INTEGRATION", "ENCORD_FOLDER", "ENCORD_DATASET_HASH", "ENCORD_PROJECT_HASH", "ENCORD_COMPLETE_STAGE"],
    config: ["encord"],
    secrets: ["ENCORD_SSH_KEY"],
    // Its rules read ANNOTATION_BACKEND.
    requires: ["annotation"],
  },
  labelstudio: {
    env: ["LABEL_STUDIO_URL", "LABEL_STUDIO_API_KEY", "LABEL_STUDIO_PROJECT", "LABEL_STUDIO_IMAGE_URL_PREFIX"],
    config: ["labelStudio"],
    secrets: ["LABEL_STUDIO_API_KEY"],
    // Its rules read ANNOTATION_BACKEND.
    requires: ["annotation"],
  },
  labelstudioWebhook: {
    env: ["LABEL_STUDIO_WEBHOOK_SECRET", "LABEL_STUDIO_WEBHOOK_HEADER"],
    config: ["labelStudioWebhook"],
    secrets: ["LABEL_STUDIO_WEBHOOK_SECRET"],
  },
  threshold: {
    env: ["DATASET_LINE", "THRESHOLD_N", "THRESHOLD_M", "THRESHOLD_T_HOURS", "EVAL_SPLIT_PERCENT"],
    config: ["threshold"],
  },
  training: {
    env: ["TRAINER_COMMAND", "TRAIN_PARAMS", "TRAIN_TIMEOUT_SECONDS", "TRAIN_MAX_ATTEMPTS", "BASE_MODEL_URI", "BENCHMARK_DATASET_URI"],
    config: ["training"],
  },
  policy: { env: ["PROMOTION_POLICY"], config: ["policy"] },
  delivery: { env: ["MAX_EVENT_AGE_SECONDS", "MAX_DELIVERY_ATTEMPTS", "STUCK_AFTER_SECONDS", "STUCK_MAX_ATTEMPTS"], config: ["delivery"] },
  retention: {
    env: ["RETENTION_INBOX_MARGIN_HOURS", "RETENTION_SENT_OUTBOX_HOURS", "RETENTION_FINISHED_DELIVERIES_HOURS", "RETENTION_DEAD_LETTERS_DAYS",
      "RETENTION_NOTIFICATIONS_DAYS", "RETENTION_SLACK_THREADS_DAYS", "RETENTION_TRANSITIONS_DAYS", "RETENTION_DRIFT_DAYS", "RETENTION_BATCH_SIZE", "RETENTION_MAX_BATCHES"],
    config: ["retention"],
  },
  slack: { env: ["SLACK_BOT_TOKEN", "SLACK_CHANNEL", "DASHBOARD_URL"], config: ["slack", "dashboardUrl"], secrets: ["SLACK_BOT_TOKEN"] },
  slackActions: { env: ["SLACK_SIGNING_SECRET"], config: ["slackActions"], secrets: ["SLACK_SIGNING_SECRET"] },
  serving: {
    env: ["PREDICT_MAX_BYTES", "PREDICT_TILE_SIZE", "DRIFT_WINDOW_IMAGES", "DRIFT_MIN_IMAGES", "DRIFT_PSI_THRESHOLD", "DRIFT_KS_PVALUE", "DRIFT_SHARE", "DRIFT_CHECK_SECONDS", "DRIFT_ALIAS"],
    config: ["serving"],
  },
  prelabel: { env: ["PRELABEL_ALIAS", "PRELABEL_BACKFILL_PER_TICK", "PRELABEL_MAX_ATTEMPTS", "PRIORITY_WEIGHTS"], config: ["prelabel"] },
  local: { env: ["PORT", "POLL_INTERVAL_SECONDS", "RECONCILE_INTERVAL_SECONDS", "LOCAL_CONCURRENCY"], config: ["local"] },
} as const satisfies Record<string, SectionSpec>;

interface SectionSpec {
  env: readonly (keyof Env)[];
  config: readonly (keyof Config)[];
  secrets?: readonly (keyof Env)[];
  requires?: readonly string[];
}

export type ConfigSection = keyof typeof CONFIG_SECTIONS;
export const ALL_SECTIONS = Object.keys(CONFIG_SECTIONS) as ConfigSection[];

function spec(section: ConfigSection): SectionSpec {
  return CONFIG_SECTIONS[section];
}

/** `core`, the named sections and what they require, in declaration order. */
export function resolveSections(sections: readonly ConfigSection[] | undefined): ReadonlySet<ConfigSection> {
  if (!sections) return new Set(ALL_SECTIONS);
  const out = new Set<ConfigSection>();
  const add = (s: ConfigSection) => {
    if (out.has(s)) return;
    out.add(s);
    for (const r of spec(s).requires ?? []) add(r as ConfigSection);
  };
  for (const s of ["core" as const, ...sections]) add(s);
  return new Set(ALL_SECTIONS.filter((s) => out.has(s)));
}

/** The environment variables the sections read, secrets included. */
export function sectionEnv(sections: Iterable<ConfigSection>): string[] {
  return [...sections].flatMap((s) => [...spec(s).env]);
}

/** The variables among `sectionEnv` that hold secrets (Secret Manager, never plain env). */
export function sectionSecrets(sections: Iterable<ConfigSection>): string[] {
  return [...sections].flatMap((s) => [...(spec(s).secrets ?? [])]);
}

export function sectionConfigKeys(section: ConfigSection): readonly (keyof Config)[] {
  return spec(section).config;
}

/** The section a top-level Config key belongs to. */
export function sectionOfConfigKey(key: string): ConfigSection | undefined {
  return ALL_SECTIONS.find((s) => (spec(s).config as readonly string[]).includes(key));
}
