/**
 * infra/registry.tf evaluated by the real terraform CLI (its locals read only deployables.json and
 * two variables, so no provider is needed), and its results compared with the registry and the
 * message map: every topic a function or job may publish to is granted to its identity, every
 * subscription has its consumer and every consumed type a subscription, each function gets the
 * variables and secrets of exactly its config sections.
 */
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BACKENDS, FUNCTIONS, FUNCTION_NAMES, JOBS, JOB_NAMES, consumedBy, envOf, launchersOf, secretsOf, type Backend } from "../../shared/deployables.ts";
import { SUBSCRIPTIONS, TOPICS, topicFor, type MessageType } from "../../shared/messages/topics.ts";

const INFRA = join(import.meta.dirname, "..", "..", "infra");
let dir: string;

interface Evaluated {
  topics: string[];
  push_subscriptions: Record<string, { consumer: string; topic: string }>;
  topic_grants: Record<string, { principal: string; topic: string }>;
  bucket_grants: Record<string, { principal: string; bucket: string; role: string }>;
  prefix_grants: Record<string, { principal: string; bucket: string; prefix: string }>;
  launcher_grants: Record<string, { function: string; job: string }>;
  storage_triggers: Record<string, { bucket: string; event_type: string }>;
  function_env_keys: Record<string, string[]>;
  function_secret_keys: Record<string, string[]>;
  job_env_keys: Record<string, string[]>;
  service_env_keys: Record<string, string[]>;
  service_secret_keys: Record<string, string[]>;
}

function terraform(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync("terraform", [`-chdir=${dir}`, ...args], { encoding: "utf8", timeout: 120_000, env: { ...process.env, TF_IN_AUTOMATION: "1", CHECKPOINT_DISABLE: "1" } });
  if (result.error) throw new Error(`terraform CLI not runnable (${result.error.message}); install terraform ≥ 1.6`);
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

const evaluated: Partial<Record<Backend, Evaluated>> = {};

function evaluate(backend: Backend, loopSettings: Record<string, string> = {}): { status: number | null; stderr: string; outputs?: Evaluated } {
  const vars = [`-var=annotation_backend=${backend}`, `-var=loop_settings=${JSON.stringify(loopSettings)}`];
  const apply = terraform(["apply", "-auto-approve", "-input=false", "-no-color", ...vars]);
  if (apply.status !== 0) return { status: apply.status, stderr: apply.stderr };
  const out = terraform(["output", "-json", "-no-color"]);
  const raw = JSON.parse(out.stdout) as Record<string, { value: unknown }>;
  return { status: 0, stderr: "", outputs: Object.fromEntries(Object.entries(raw).map(([k, v]) => [k, v.value])) as unknown as Evaluated };
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "tf-registry-"));
  copyFileSync(join(INFRA, "registry.tf"), join(dir, "registry.tf"));
  copyFileSync(join(INFRA, "deployables.json"), join(dir, "deployables.json"));
  writeFileSync(
    join(dir, "harness.tf"),
    [
      `variable "annotation_backend" { type = string }`,
      `variable "loop_settings" { type = map(string) }`,
      ...["topics", "push_subscriptions", "topic_grants", "bucket_grants", "prefix_grants", "launcher_grants", "storage_triggers", "function_env_keys", "function_secret_keys", "job_env_keys", "service_env_keys", "service_secret_keys"].map(
        (name) => `output "${name}" { value = local.${name} }`,
      ),
    ].join("\n"),
  );
  const init = terraform(["init", "-input=false", "-no-color", "-backend=false"]);
  expect(init.status, init.stderr).toBe(0);
  for (const backend of BACKENDS) {
    const result = evaluate(backend);
    expect(result.status, result.stderr).toBe(0);
    evaluated[backend] = result.outputs!;
  }
}, 180_000);

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const topicsOf = (types: readonly MessageType[]) => [...new Set(types.map(topicFor))].sort();

describe("infra/registry.tf, evaluated", () => {
  it("creates every topic of the message map", () => {
    expect(evaluated.local!.topics.sort()).toEqual([...TOPICS].sort());
  });

  it("grants every function and job publisher on each topic it may publish to, and no other", () => {
    const grants = Object.values(evaluated.local!.topic_grants);
    for (const name of FUNCTION_NAMES) {
      const granted = grants.filter((g) => g.principal === `fn:${name}`).map((g) => g.topic).sort();
      expect(granted, `fn:${name}`).toEqual(topicsOf(FUNCTIONS[name].publishes));
    }
    for (const name of JOB_NAMES) {
      expect(grants.filter((g) => g.principal === `job:${name}`).map((g) => g.topic).sort(), `job:${name}`).toEqual(topicsOf(JOBS[name].publishes));
    }
    // The bug this registry fixes: a finished run nudges the threshold.
    expect(evaluated.local!.topic_grants["fn:on-training-completed:threshold-tick"]).toBeDefined();
  });

  it("gives every subscription its consumer and every consumed message type a subscription", () => {
    const subs = Object.entries(evaluated.local!.push_subscriptions);
    for (const [name, sub] of subs) {
      expect(name).toBe(`${sub.consumer}--${sub.topic}`);
      expect(FUNCTION_NAMES as string[]).toContain(sub.consumer);
      expect(consumedBy(sub.consumer as never).map(topicFor), name).toContain(sub.topic);
    }
    for (const [consumer, types] of Object.entries(SUBSCRIPTIONS)) {
      for (const type of types) expect(subs.map(([n]) => n), `${consumer} consumes ${type}`).toContain(`${consumer}--${topicFor(type)}`);
    }
  });

  it("lets exactly the launching functions run each job, and triggers ingest from the archive bucket", () => {
    const grants = Object.values(evaluated.local!.launcher_grants);
    for (const job of JOB_NAMES) expect(grants.filter((g) => g.job === job).map((g) => g.function).sort()).toEqual(launchersOf(job).sort());
    expect(evaluated.local!.storage_triggers).toEqual({ ingest: { bucket: "archive", event_type: "google.cloud.storage.object.v1.finalized" } });
  });

  it("grants each principal its registry bucket roles", () => {
    const grants = Object.values(evaluated.local!.bucket_grants);
    for (const name of FUNCTION_NAMES) {
      const expected = Object.entries(FUNCTIONS[name].buckets).map(([b, a]) => `${b}=${a === "admin" ? "roles/storage.objectAdmin" : "roles/storage.objectViewer"}`).sort();
      expect(grants.filter((g) => g.principal === `fn:${name}`).map((g) => `${g.bucket}=${g.role}`).sort(), name).toEqual(expected);
    }
    for (const name of JOB_NAMES) {
      const expected = Object.entries(JOBS[name].buckets).map(([b, a]) => `${b}=${a === "admin" ? "roles/storage.objectAdmin" : "roles/storage.objectViewer"}`).sort();
      expect(grants.filter((g) => g.principal === `job:${name}`).map((g) => `${g.bucket}=${g.role}`).sort(), name).toEqual(expected);
    }
    // The predict job reads the archive and the models, and writes only under models/predictions/.
    expect(grants.filter((g) => g.principal === "job:predict").map((g) => `${g.bucket}=${g.role}`).sort()).toEqual(["archive=roles/storage.objectViewer", "models=roles/storage.objectViewer"]);
    expect(Object.values(evaluated.local!.prefix_grants)).toEqual([{ principal: "job:predict", bucket: "models", prefix: "predictions/" }]);
    // The model server reads the models bucket and nothing else, and publishes nothing.
    expect(grants.filter((g) => g.principal === "svc:serve").map((g) => `${g.bucket}=${g.role}`)).toEqual(["models=roles/storage.objectViewer"]);
    expect(Object.values(evaluated.local!.topic_grants).filter((g) => g.principal.startsWith("svc:"))).toEqual([]);
    expect(evaluated.local!.service_secret_keys.serve).toEqual(["DB_PASSWORD"]);
    expect(evaluated.local!.service_env_keys.serve!.sort()).toEqual(envOf("serve", "local").filter((k) => k !== "DB_PASSWORD").sort());
  });

  it.each(BACKENDS)("gives each function the variables and secrets of exactly its sections (%s backend)", (backend) => {
    const out = evaluated[backend]!;
    for (const name of FUNCTION_NAMES) {
      const secrets = secretsOf(name, backend);
      expect(out.function_secret_keys[name]!.sort(), name).toEqual([...secrets].sort());
      expect(out.function_env_keys[name]!.sort(), name).toEqual(envOf(name, backend).filter((k) => !secrets.includes(k)).sort());
    }
    // The cold-start bug: with Encord, only the functions that talk to Encord get (and need) its key.
    const withKey = FUNCTION_NAMES.filter((n) => out.function_secret_keys[n]!.includes("ENCORD_SSH_KEY")).sort();
    expect(withKey).toEqual(backend === "encord" ? ["poll", "prelabel", "register"] : []);
    for (const name of JOB_NAMES) expect(out.job_env_keys[name]!.sort()).toEqual(envOf(name, backend).sort());
  });

  it("refuses loop_settings that no deployable reads", () => {
    const bad = evaluate("local", { THRESHOLD_N: "5", THRESHOLD_NN: "5" });
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toMatch(/loop_settings names variables no function, job or service reads: THRESHOLD_NN/);
    expect(evaluate("local", { THRESHOLD_N: "5", EVAL_TILE_SIZE: "512" }).status).toBe(0);
    // The example environment's settings all reach some deployable.
    const tfvars = readFileSync(join(INFRA, "envs", "dev.tfvars"), "utf8");
    const block = /loop_settings = \{([\s\S]*?)\n\}/.exec(tfvars)![1]!;
    const devSettings = Object.fromEntries([...block.matchAll(/^\s*([A-Z][A-Z0-9_]*)\s*=\s*"([^"]*)"/gm)].map((m) => [m[1]!, m[2]!]));
    expect(Object.keys(devSettings).length).toBeGreaterThan(0);
    const dev = evaluate("local", devSettings);
    expect(dev.status, dev.stderr).toBe(0);
  });
});
