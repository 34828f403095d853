import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig, redactConfig } from "../../../shared/config/load.ts";
import { DEFAULT_ONTOLOGY, NORMALISE_LIMIT_DEFAULTS } from "../../../shared/config/schema.ts";

describe("loadConfig", () => {
  it("runs on embedded defaults with an empty environment", () => {
    const c = loadConfig({});
    expect(c).toMatchObject({
      runtime: "local",
      workspace: ".mlops",
      buckets: { archive: "archive", annotation: "annotation", datasets: "datasets", models: "models" },
      normalise: { rgbBands: [3, 2, 1], nirBand: 4, stretchPercentiles: [2, 98], nodataValue: null },
      annotation: { backend: "local", ontology: DEFAULT_ONTOLOGY, task: "segmentation", registerBatchSize: 1000 },
      threshold: { line: "default", n: 100, m: 20, tHours: 24, evalSplitPercent: 20 },
    });
    expect(c.policy.primary_metric).toMatchObject({ name: "mIoU", greater_is_better: true });
  });

  it.each([
    [{ BAND_RGB: "4,3,2", BAND_NIR: "none", STRETCH_PERCENTILES: "none" }, { rgbBands: [4, 3, 2], nirBand: null, stretchPercentiles: null }],
    [{ BAND_NIR: "8", STRETCH_PERCENTILES: " 1 , 99.5 ", NODATA_VALUE: "-9999" }, { nirBand: 8, stretchPercentiles: [1, 99.5], nodataValue: -9999 }],
  ])("parses normalisation settings %j", (env, expected) => {
    expect(loadConfig(env).normalise).toMatchObject(expected);
  });

  it("reads the pre-label settings: alias (none turns it off), backfill size and priority weights", () => {
    expect(loadConfig({}).prelabel).toEqual({ alias: "staging", backfillPerTick: 20, maxAttempts: 3, weights: { uncertainty: 0.6, boundary: 0.25, novelty: 0.15 } });
    expect(loadConfig({ PRELABEL_ALIAS: "none", PRIORITY_WEIGHTS: '{"uncertainty":1}' }).prelabel).toMatchObject({ alias: null, weights: { uncertainty: 1, boundary: 0, novelty: 0 } });
    expect(() => loadConfig({ PRIORITY_WEIGHTS: '{"uncertainty":0,"boundary":0}' })).toThrow(/PRIORITY_WEIGHTS.*at least one weight must be positive/);
    expect(() => loadConfig({ PRIORITY_WEIGHTS: '{"uncertainty":-1}' })).toThrow(/PRIORITY_WEIGHTS/);
    expect(() => loadConfig({ PRIORITY_WEIGHTS: '{"entropy":1}' })).toThrow(/PRIORITY_WEIGHTS/);
    expect(() => loadConfig({ PRELABEL_ALIAS: "no such/alias" })).toThrow(/PRELABEL_ALIAS/);
  });

  it("defaults ONTOLOGY to the seed project's classes, Fill first", () => {
    expect(loadConfig({}).annotation.ontology).toEqual(["Fill", "Clear", "Cloud", "Thin_Cloud", "Cloud_Shadow"]);
  });

  it("reads ONTOLOGY as an object of Encord object names → class ids, or as a list (index = id)", () => {
    const byName = JSON.stringify({ Cloud: 2, Fill: 0, Cloud_Shadow: 4, Clear: 1, Thin_Cloud: 3 });
    expect(loadConfig({ ONTOLOGY: byName }).annotation.ontology).toEqual(["Fill", "Clear", "Cloud", "Thin_Cloud", "Cloud_Shadow"]);
    expect(loadConfig({ ONTOLOGY: '["background","car"]' }).annotation.ontology).toEqual(["background", "car"]);
  });

  it.each([
    [{ Fill: 0, Clear: 2 }, /ONTOLOGY: class ids must be 0…n−1.*got 0, 2/],
    [{ Fill: 0, Clear: 0 }, /ONTOLOGY: class ids must be 0…n−1.*got 0, 0/],
    [{ Fill: 0 }, /ONTOLOGY: class ids must be 0…n−1 \(at least two classes\)/],
    [{ Fill: -1, Clear: 0 }, /ONTOLOGY/],
  ])("refuses ONTOLOGY %j, saying why", (ontology, reason) => {
    expect(() => loadConfig({ ONTOLOGY: JSON.stringify(ontology) })).toThrow(reason);
  });

  it("reads the normaliser's limits and single-value policy, with defaults that match the normaliser's", () => {
    expect(loadConfig({}).normalise).toMatchObject({ limits: NORMALISE_LIMIT_DEFAULTS, singleValueImages: "warn" });
    const c = loadConfig({ MAX_INFLATED_BYTES: "1048576", MAX_RASTER_PIXELS: "1000000", MAX_RASTER_BANDS: "16", MAX_DECODE_BYTES: "67108864", SINGLE_VALUE_IMAGES: "fail" });
    expect(c.normalise).toMatchObject({
      limits: { maxInflatedBytes: 1048576, maxRasterPixels: 1_000_000, maxRasterBands: 16, maxDecodeBytes: 67108864 },
      singleValueImages: "fail",
    });
    expect(() => loadConfig({ SINGLE_VALUE_IMAGES: "maybe", MAX_RASTER_BANDS: "0" })).toThrow(/SINGLE_VALUE_IMAGES[\s\S]*MAX_RASTER_BANDS|MAX_RASTER_BANDS[\s\S]*SINGLE_VALUE_IMAGES/);
  });

  it("treats empty strings as unset instead of plausible values", () => {
    expect(loadConfig({ DATABASE_URL: "", THRESHOLD_N: "" }).threshold.n).toBe(100);
  });

  it("reports every problem at once, each naming its variable", () => {
    let error: ConfigError | undefined;
    try {
      loadConfig({ BAND_RGB: "3,2", THRESHOLD_N: "zero", ONTOLOGY: "[not json", PROMOTION_POLICY: '{"prod":"sometimes"}', MLOPS_RUNTIME: "gcp" });
    } catch (err) {
      error = err as ConfigError;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const text = error!.issues.join("\n");
    expect(text).toMatch(/BAND_RGB: exactly 3 band numbers/);
    expect(text).toMatch(/THRESHOLD_N/);
    expect(text).toMatch(/ONTOLOGY: not valid JSON/);
    expect(text).toMatch(/PROMOTION_POLICY\.prod/);
    expect(text).toMatch(/GOOGLE_CLOUD_PROJECT: required when MLOPS_RUNTIME=gcp/);
    expect(text).toMatch(/REGION: required when MLOPS_RUNTIME=gcp/);
    expect(error!.issues.length).toBeGreaterThanOrEqual(6);
  });

  it("caps TRAIN_TIMEOUT_SECONDS at the one-hour GPU task limit", () => {
    expect(loadConfig({ TRAIN_TIMEOUT_SECONDS: "3600" }).training.timeoutSeconds).toBe(3600);
    expect(() => loadConfig({ TRAIN_TIMEOUT_SECONDS: "7200" })).toThrow(/TRAIN_TIMEOUT_SECONDS/);
  });

  it("requires the Encord settings only for the encord backend", () => {
    expect(() => loadConfig({ ANNOTATION_BACKEND: "encord" })).toThrow(/ENCORD_SSH_KEY_FILE[\s\S]*ENCORD_INTEGRATION[\s\S]*ENCORD_DATASET_HASH[\s\S]*ENCORD_PROJECT_HASH/);
    const c = loadConfig({ ANNOTATION_BACKEND: "encord", ENCORD_SSH_KEY: "k", ENCORD_INTEGRATION: "gcs", ENCORD_DATASET_HASH: "d", ENCORD_PROJECT_HASH: "p", ENCORD_DOMAIN: "https://api.us.encord.com/" });
    expect(c.encord.domain).toBe("https://api.us.encord.com");
  });

  it("requires the Label Studio URL and key only for the labelstudio backend, and redacts the key and the webhook secret", () => {
    expect(() => loadConfig({ ANNOTATION_BACKEND: "labelstudio" })).toThrow(/LABEL_STUDIO_URL: required[\s\S]*LABEL_STUDIO_API_KEY: required/);
    expect(() => loadConfig({ LABEL_STUDIO_WEBHOOK_SECRET: "short" })).toThrow(/LABEL_STUDIO_WEBHOOK_SECRET: at least 16/);
    expect(() => loadConfig({ LABEL_STUDIO_WEBHOOK_HEADER: "X Bad" })).toThrow(/LABEL_STUDIO_WEBHOOK_HEADER/);
    const c = loadConfig({ ANNOTATION_BACKEND: "labelstudio", LABEL_STUDIO_URL: "https://ls.example.com/ls/", LABEL_STUDIO_API_KEY: "tok-123", LABEL_STUDIO_WEBHOOK_SECRET: "0123456789abcdef-secret" });
    expect(c.labelStudio).toEqual({ url: "https://ls.example.com/ls", apiKey: "tok-123", project: "mlops-loop", imageUrlPrefix: undefined });
    expect(c.labelStudioWebhook.header).toBe("X-Mlops-Webhook-Secret");
    expect(JSON.stringify(redactConfig(c))).not.toMatch(/tok-123|0123456789abcdef-secret/);
  });

  it("refuses M above N", () => {
    expect(() => loadConfig({ THRESHOLD_N: "5", THRESHOLD_M: "6" })).toThrow(/THRESHOLD_M: must not exceed THRESHOLD_N/);
  });

  it("redacts secrets for printing", () => {
    const c = redactConfig(loadConfig({ DATABASE_URL: "postgres://app:hunter2@db:5432/x", SLACK_BOT_TOKEN: "xoxb-1", ENCORD_SSH_KEY: "-----BEGIN" }));
    const text = JSON.stringify(c);
    expect(text).not.toContain("hunter2");
    expect(text).not.toContain("xoxb-1");
    expect(text).not.toContain("BEGIN");
    expect(c.db.url).toBe("postgres://app:***@db:5432/x");
  });
});
