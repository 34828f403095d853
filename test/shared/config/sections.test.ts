import { describe, expect, it } from "vitest";
import { configSections, loadConfig, redactConfig } from "../../../shared/config/load.ts";
import { EnvSchema } from "../../../shared/config/schema.ts";
import { ALL_SECTIONS, CONFIG_SECTIONS, resolveSections, sectionOfConfigKey } from "../../../shared/config/sections.ts";
import { BACKENDS, FUNCTION_NAMES, JOB_NAMES, envOf, sectionsOf } from "../../../shared/deployables.ts";

/** A complete, valid gcp environment (what Terraform can set, plus secrets). */
const FULL_ENV: Record<string, string> = {
  MLOPS_RUNTIME: "gcp",
  GOOGLE_CLOUD_PROJECT: "p",
  REGION: "europe-west4",
  CLOUD_SQL_INSTANCE: "p:europe-west4:mlops",
  DB_USER: "mlops",
  DB_NAME: "mlops",
  DB_POOL_MAX: "2",
  DB_PASSWORD: "pw",
  BUCKET_ARCHIVE: "a",
  BUCKET_ANNOTATION: "b",
  BUCKET_DATASETS: "c",
  BUCKET_MODELS: "d",
  TRAIN_JOB: "train",
  EVALUATE_JOB: "evaluate",
  LOG_LEVEL: "info",
  ENCORD_SSH_KEY: "-----BEGIN OPENSSH PRIVATE KEY-----",
  ENCORD_INTEGRATION: "i",
  ENCORD_DATASET_HASH: "d",
  ENCORD_PROJECT_HASH: "p",
  LABEL_STUDIO_URL: "https://ls.example.com",
  LABEL_STUDIO_API_KEY: "ls-key",
  LABEL_STUDIO_WEBHOOK_SECRET: "a-webhook-secret-of-length",
  SLACK_BOT_TOKEN: "xoxb",
  SLACK_CHANNEL: "#c",
  THRESHOLD_N: "10",
  THRESHOLD_M: "5",
};

const only = (env: Record<string, string>, keys: readonly string[]) => Object.fromEntries(Object.entries(env).filter(([k]) => keys.includes(k)));

describe("config sections", () => {
  it("put every variable of EnvSchema in exactly one section", () => {
    const owners = new Map<string, string[]>();
    for (const [section, spec] of Object.entries(CONFIG_SECTIONS)) for (const key of spec.env) owners.set(key, [...(owners.get(key) ?? []), section]);
    for (const key of Object.keys(EnvSchema.shape)) expect(owners.get(key), `${key}: add it to one section in shared/config/sections.ts`).toHaveLength(1);
    expect([...owners.keys()].filter((k) => !(k in EnvSchema.shape))).toEqual([]);
  });

  it("put every top-level Config key in exactly one section", () => {
    const keys = Object.keys(loadConfig({}));
    for (const key of keys) expect(ALL_SECTIONS.filter((s) => (CONFIG_SECTIONS[s].config as readonly string[]).includes(key)), key).toHaveLength(1);
    expect(ALL_SECTIONS.flatMap((s) => [...CONFIG_SECTIONS[s].config]).sort()).toEqual([...keys].sort());
    expect(sectionOfConfigKey("encord")).toBe("encord");
  });

  it("always loads core, and what a section requires", () => {
    expect([...resolveSections(["encord"])]).toEqual(["core", "annotation", "encord"]);
    expect(resolveSections(undefined).size).toBe(ALL_SECTIONS.length);
  });

  it("validates only the loaded sections, and cross-field rules only where their section is loaded", () => {
    const env = { MLOPS_RUNTIME: "gcp", GOOGLE_CLOUD_PROJECT: "p", REGION: "r", ANNOTATION_BACKEND: "encord", THRESHOLD_N: "zero", THRESHOLD_M: "7", BAND_RGB: "9" };
    expect(() => loadConfig(env)).toThrow(/THRESHOLD_N[\s\S]*BAND_RGB|BAND_RGB[\s\S]*THRESHOLD_N/);
    const c = loadConfig(env, { sections: ["gcp", "db", "delivery"] });
    expect(c.gcp.project).toBe("p");
    expect(() => loadConfig(env, { sections: ["gcp", "threshold"] })).toThrow(/THRESHOLD_N/);
    // The Encord settings are required only where the encord section is loaded.
    expect(() => loadConfig(env, { sections: ["gcp", "annotation"] })).not.toThrow();
    expect(() => loadConfig(env, { sections: ["gcp", "encord"] })).toThrow(/ENCORD_SSH_KEY_FILE[\s\S]*ENCORD_INTEGRATION/);
    // gcp's rule: project and region, once the gcp section is loaded.
    expect(() => loadConfig({ MLOPS_RUNTIME: "gcp" }, { sections: ["db"] })).not.toThrow();
    expect(() => loadConfig({ MLOPS_RUNTIME: "gcp" }, { sections: ["gcp"] })).toThrow(/GOOGLE_CLOUD_PROJECT: required/);
  });

  it("makes a section that was not loaded throw when read, naming the section and the registry", () => {
    const c = loadConfig(FULL_ENV, { sections: ["gcp", "db"] });
    expect(c.db.user).toBe("mlops");
    expect(() => c.threshold).toThrow(/config\.threshold belongs to config section "threshold", which this deployable does not load: declare it in shared\/deployables\.ts/);
    expect(() => c.annotationFolder).toThrow(/section "buckets"/);
    expect([...configSections(c)]).toEqual(["core", "gcp", "db"]);
    expect(Object.keys(c).sort()).toEqual(["db", "failpoints", "gcp", "logLevel", "runtime", "workspace"]);
    const redacted = redactConfig(c);
    expect(JSON.stringify(redacted)).not.toContain("pw");
    expect(JSON.stringify(redactConfig(loadConfig(FULL_ENV)))).not.toMatch(/xoxb|BEGIN OPENSSH|"pw"|ls-key|a-webhook-secret/);
  });

  it.each(BACKENDS)("loads every function's and job's config from exactly the variables its sections name (%s backend)", (backend) => {
    const env = { ...FULL_ENV, ANNOTATION_BACKEND: backend };
    for (const name of [...FUNCTION_NAMES, ...JOB_NAMES]) {
      const sections = sectionsOf(name, backend);
      const config = loadConfig(only(env, envOf(name, backend)), { sections });
      expect([...configSections(config)], name).toEqual(sections);
      if (sections.includes("db")) expect(config.db.password, name).toBe("pw");
    }
    // What broke cold starts: with Encord on, a function without the key failed loading everything.
    if (backend === "encord") {
      const ingestEnv = only(env, envOf("ingest", backend));
      expect(ingestEnv.ENCORD_SSH_KEY).toBeUndefined();
      expect(() => loadConfig({ ...ingestEnv, ANNOTATION_BACKEND: "encord" })).toThrow(/ENCORD_SSH_KEY/);
      expect(() => loadConfig({ ...ingestEnv, ANNOTATION_BACKEND: "encord" }, { sections: sectionsOf("ingest", backend) })).not.toThrow();
    }
  });
});
