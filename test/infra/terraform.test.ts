import { spawnSync } from "node:child_process";
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { FUNCTION_NAMES, JOBS, JOB_NAMES, SCHEDULES, type JobName } from "../../shared/deployables.ts";
import { SUBSCRIPTIONS } from "../../shared/messages/topics.ts";

const ROOT = join(import.meta.dirname, "..", "..");
const INFRA = join(ROOT, "infra");
const tfFiles = readdirSync(INFRA).filter((f) => f.endsWith(".tf"));
const tf = Object.fromEntries(tfFiles.map((f) => [f, readFileSync(join(INFRA, f), "utf8")]));
const allTf = Object.values(tf).join("\n");

/** The text of `resource "<type>" "<name>" { … }` (braces balance, `${…}` included). */
function block(type: string, name: string): string | null {
  const header = `resource "${type}" "${name}" {`;
  const start = allTf.indexOf(header);
  if (start === -1) return null;
  let depth = 0;
  for (let i = start + header.length - 1; i < allTf.length; i++) {
    if (allTf[i] === "{") depth++;
    else if (allTf[i] === "}" && --depth === 0) return allTf.slice(start, i + 1);
  }
  throw new Error(`unbalanced braces in ${header}`);
}

function tsNames(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true })
    .filter((d) => d.isFile() && d.name.endsWith(".ts"))
    .map((d) => d.name.slice(0, -3))
    .sort();
}

describe("terraform", () => {
  it("is formatted (terraform fmt -check -recursive)", () => {
    const result = spawnSync("terraform", ["-chdir=infra", "fmt", "-check", "-recursive"], { cwd: ROOT, encoding: "utf8", timeout: 60_000 });
    if (result.error) throw new Error(`terraform CLI not runnable (${result.error.message}); install terraform ≥ 1.6 — Cloud Build copies it from hashicorp/terraform`);
    expect(result.stdout.trim(), "files terraform fmt would rewrite").toBe("");
    expect(result.status).toBe(0);
  });

  it("deploys one function per registry entry, each from its own bundle under its own name", () => {
    const functions = tsNames("functions");
    expect(functions).toEqual([...FUNCTION_NAMES].sort());
    const resource = block("google_cloudfunctions2_function", "function")!;
    expect(resource).toContain("for_each = local.functions");
    expect(resource).toContain("name     = each.key");
    expect(resource).toContain("entry_point     = each.value.entry_point");
    expect(resource).toContain(`runtime         = "nodejs22"`);
    expect(resource).toContain("object = google_storage_bucket_object.function_source[each.key].name");
    for (const attribute of ["available_memory", "available_cpu", "timeout_seconds", "max_instance_count", "max_instance_request_concurrency"]) {
      expect(resource).toMatch(new RegExp(`${attribute}\\s+= each\\.value\\.${attribute}`));
    }
    expect(resource).toContain("environment_variables            = local.function_env[each.key]");
    expect(resource).toContain("for_each = local.function_secrets[each.key]");
    for (const name of functions) {
      const source = readFileSync(join(ROOT, "functions", `${name}.ts`), "utf8");
      const registrations = [...source.matchAll(/ff\.(cloudEvent|http)\("([^"]+)"/g)].map((m) => m[2]);
      expect(registrations, `functions/${name}.ts registers exactly "${name}"`).toEqual([name]);
    }
  });

  it("deploys one Cloud Run job per job entrypoint in functions/jobs/*.ts, sized by the registry (train and evaluate on an L4)", () => {
    const jobs = tsNames("functions/jobs");
    expect(jobs).toEqual([...JOB_NAMES].sort());
    const resource = block("google_cloud_run_v2_job", "job")!;
    expect(resource).toContain("for_each = local.jobs");
    expect(resource).toContain("timeout                       = each.value.timeout");
    expect(resource).toContain("max_retries                   = each.value.max_retries");
    expect(resource).toContain("gpu_zonal_redundancy_disabled = each.value.gpu == null ? null : each.value.gpu.zonal_redundancy_disabled");
    expect(resource).toContain("accelerator = node_selector.value.accelerator");
    expect(resource).toMatch(/"nvidia\.com\/gpu" = tostring\(each\.value\.gpu\.count\)/);
    expect(JOBS.train.gpu).not.toBeNull();
    expect(JOBS.evaluate.gpu).not.toBeNull();
    // Batch prediction runs on the CPU, like `serve` by default: no node selector, no GPU limit.
    expect(JOBS.predict.gpu).toBeNull();
    for (const name of jobs) {
      const job = JOBS[name as JobName];
      if (job.gpu === null) continue;
      expect(job.gpu).toEqual({ accelerator: "nvidia-l4", count: 1, zonalRedundancyDisabled: true });
      // GPU tasks are capped at one hour; an L4 needs at least 4 vCPU and 16 GiB.
      expect(job.timeoutSeconds).toBeLessThanOrEqual(3600);
      expect(Number(job.cpu)).toBeGreaterThanOrEqual(4);
      expect(Number(job.memory.replace(/Gi$/, ""))).toBeGreaterThanOrEqual(16);
    }
  });

  it("grants no basic or project-wide admin roles", () => {
    for (const forbidden of ["roles/owner", "roles/editor", "roles/storage.admin", "roles/iam.serviceAccountAdmin", "roles/run.admin"]) {
      expect(allTf.includes(`"${forbidden}"`), forbidden).toBe(false);
    }
    // Project-level grants are limited to roles that exist only at project level (or are conditioned).
    const projectRoles = [...allTf.matchAll(/resource "google_project_iam_member" "[^"]+" \{[\s\S]*?\n\}/g)].flatMap((m) =>
      [...m[0].matchAll(/role\s+=\s+"([^"]+)"/g)].map((r) => r[1]),
    );
    const listed = [...allTf.matchAll(/for_each = toset\(\[("roles\/[^\]]+)\]\)/g)].flatMap((m) => [...m[1]!.matchAll(/"([^"]+)"/g)].map((r) => r[1]));
    const allowed = ["roles/cloudsql.client", "roles/eventarc.eventReceiver", "roles/pubsub.publisher", "roles/logging.logWriter", "roles/artifactregistry.writer", "roles/storage.objectViewer"];
    for (const role of [...projectRoles, ...listed]) expect(allowed, `project-level ${role}`).toContain(role);
    // The one project-level grant to our own function identities is conditioned on the instance,
    // the builder's object read on Cloud Functions' staging bucket.
    expect(block("google_project_iam_member", "cloudsql_client")).toMatch(/condition \{[\s\S]*resource\.name ==/);
    expect(block("google_project_iam_member", "builder_gcf_sources")).toMatch(/condition \{[\s\S]*resource\.name\.startsWith/);
  });

  it("pushes each subscription, with OIDC and a dead-letter topic, to its consumer's URL", () => {
    const push = block("google_pubsub_subscription", "push")!;
    expect(push).toContain("for_each = local.push_subscriptions");
    expect(push).toContain("oidc_token");
    expect(push).toContain("dead_letter_policy");
    expect(push).toContain("/projects/${var.project}/topics/${each.value.topic}");
  });

  it("grants publisher, bucket and launch rights from the registry's grants (evaluated in registry.test.ts)", () => {
    const publisher = block("google_pubsub_topic_iam_member", "publisher")!;
    expect(publisher).toContain("for_each = local.topic_grants");
    expect(publisher).toContain(`role   = "roles/pubsub.publisher"`);
    expect(publisher).toContain("member = \"serviceAccount:${local.principal_email[each.value.principal]}\"");
    expect(block("google_storage_bucket_iam_member", "data")).toContain("for_each = local.bucket_grants");
    // The predict job's writes are held to its prefix by an IAM condition on the object name.
    const prefix = block("google_storage_bucket_iam_member", "prefix_writer")!;
    expect(prefix).toContain("for_each = local.prefix_grants");
    expect(prefix).toMatch(/condition \{[\s\S]*resource\.name\.startsWith\(\\"projects\/_\/buckets\/\$\{google_storage_bucket\.data\[each\.value\.bucket\]\.name\}\/objects\/\$\{each\.value\.prefix\}\\"\)/);
    expect(block("google_cloud_run_v2_job_iam_member", "launcher")).toContain("for_each = local.launcher_grants");
    expect(block("google_secret_manager_secret_iam_member", "function_secret_access")).toContain("for_each = local.secret_grants");
  });

  it("creates ingest's storage trigger only after the grants it needs", () => {
    const trigger = block("google_eventarc_trigger", "storage")!;
    expect(trigger).toContain("for_each = local.storage_triggers");
    expect(trigger).toMatch(/attribute = "type"\s+value     = each\.value\.event_type/);
    expect(trigger).toMatch(/attribute = "bucket"\s+value     = google_storage_bucket\.data\[each\.value\.bucket\]\.name/);
    expect(trigger).toContain("service = local.function_services[each.key]");
    for (const grant of ["google_project_iam_member.gcs_agent_publisher", "google_project_iam_member.eventarc_receiver", "google_cloud_run_service_iam_member.eventarc_invoker"]) {
      expect(trigger, grant).toContain(grant);
    }
    expect(block("google_cloud_run_service_iam_member", "eventarc_invoker")).toContain("for_each = local.storage_triggers");
    // A retry policy on an Eventarc trigger can only turn retries off (max_attempts = 1).
    expect(trigger).not.toContain("retry_policy");
  });

  it("lets the function builder read the sources Cloud Functions stages in gcf-v2-sources-<number>-<region>", () => {
    expect(block("google_storage_bucket_iam_member", "builder_sources")).toContain("google_storage_bucket.sources.name");
    const staged = block("google_project_iam_member", "builder_gcf_sources")!;
    expect(staged).toContain(`role    = "roles/storage.objectViewer"`);
    expect(staged).toContain("projects/_/buckets/gcf-v2-sources-${data.google_project.this.number}-${var.region}");
    const fn = block("google_cloudfunctions2_function", "function")!;
    for (const grant of ["google_project_iam_member.builder,", "google_project_iam_member.builder_gcf_sources", "google_storage_bucket_iam_member.builder_sources"]) {
      expect(fn, grant).toContain(grant);
    }
  });

  it("schedules the ticks of the registry's SCHEDULES, each on its own topic", () => {
    const tick = block("google_cloud_scheduler_job", "tick")!;
    expect(tick).toContain("for_each = local.deployables.schedules");
    expect(tick).toContain("attributes = { type = each.value.type }");
    for (const [type, s] of Object.entries(SCHEDULES)) {
      expect(Object.keys(SUBSCRIPTIONS).some((c) => (SUBSCRIPTIONS[c as keyof typeof SUBSCRIPTIONS] as readonly string[]).includes(type)), `${type} has a consumer`).toBe(true);
      expect(tf["variables.tf"]).toMatch(new RegExp(`${s.schedule}\\s+= optional\\(string`));
    }
  });

  it("deletes old job images (a KEEP policy alone never deletes, and dry run deletes nothing)", () => {
    const repo = block("google_artifact_registry_repository", "jobs")!;
    expect(repo).toContain("cleanup_policy_dry_run = false");
    expect(repo).toMatch(/action = "DELETE"\s+condition \{\s+tag_state  = "ANY"\s+older_than = "\d+d"/);
    expect(repo).toMatch(/action = "KEEP"\s+most_recent_versions \{\s+keep_count = \d+/);
  });

  it("requires a google provider with node_selector and gpu_zonal_redundancy_disabled on jobs, and locks versions that satisfy every constraint", () => {
    const constraints = Object.fromEntries(
      [...tf["versions.tf"]!.matchAll(/(\w+) = \{\s+source\s+= "hashicorp\/(\w+)"[\s\S]*?version = "([^"]+)"/g)].map((m) => [m[2]!, m[3]!]),
    );
    // 6.45.0 added node_selector, 6.47.0 gpu_zonal_redundancy_disabled to google_cloud_run_v2_job.
    expect(constraints.google).toBe(">= 6.47.0, < 8.0.0");
    const lock = readFileSync(join(INFRA, ".terraform.lock.hcl"), "utf8");
    for (const [provider, constraint] of Object.entries(constraints)) {
      const entry = new RegExp(`provider "registry\\.terraform\\.io/hashicorp/${provider}" \\{\\s+version\\s+= "([^"]+)"\\s+constraints = "([^"]+)"\\s+hashes = \\[([^\\]]+)\\]`).exec(lock);
      expect(entry, `${provider} is locked`).not.toBeNull();
      expect(entry![2], `${provider} lock records the constraint`).toBe(constraint);
      expect(satisfies(entry![1]!, constraint), `${provider} ${entry![1]} satisfies ${constraint}`).toBe(true);
      expect(entry![3]!.match(/"zh:[0-9a-f]{64}"/g)?.length, `${provider} has per-platform zip hashes`).toBeGreaterThan(5);
      expect(entry![3]).toMatch(/"h1:[A-Za-z0-9+/]{43}="/);
    }
  });
});

/** Terraform version constraints as used here: ">= a", "< b", "~> x.y" (comma-separated, all must hold). */
function satisfies(version: string, constraint: string): boolean {
  const v = version.split(".").map(Number);
  const cmp = (a: number[], b: number[]) => {
    for (let i = 0; i < 3; i++) if ((a[i] ?? 0) !== (b[i] ?? 0)) return (a[i] ?? 0) - (b[i] ?? 0);
    return 0;
  };
  return constraint.split(",").every((part) => {
    const m = /^\s*(>=|<=|>|<|~>|=)?\s*([\d.]+)\s*$/.exec(part);
    if (!m) throw new Error(`unsupported constraint ${part}`);
    const target = m[2]!.split(".").map(Number);
    switch (m[1]) {
      case ">=": return cmp(v, target) >= 0;
      case ">": return cmp(v, target) > 0;
      case "<=": return cmp(v, target) <= 0;
      case "<": return cmp(v, target) < 0;
      case "~>": {
        // ~> x.y allows x.y.z up to (not including) x+1; ~> x.y.z allows up to x.y+1.
        const upper = target.length === 2 ? [target[0]! + 1, 0, 0] : [target[0]!, target[1]! + 1, 0];
        return cmp(v, target) >= 0 && cmp(v, upper) < 0;
      }
      default: return cmp(v, target) === 0;
    }
  });
}
