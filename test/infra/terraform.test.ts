import { spawnSync } from "node:child_process";
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { SUBSCRIPTIONS, TOPICS, topicFor, type MessageType } from "../../shared/messages/topics.ts";

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

/** `name = [ "a", "b" ]` inside a locals block (one list literal). */
function localList(source: string, name: string): string[] {
  const m = new RegExp(`\\n\\s*${name}\\s*=\\s*\\[([^\\]]*)\\]`).exec(source);
  if (!m) throw new Error(`local ${name} not found`);
  return [...m[1]!.matchAll(/"([^"]+)"/g)].map((x) => x[1]!);
}

/** `name = { "k" = ["a"] … }`: a map of string lists. */
function localMapOfLists(source: string, name: string): Record<string, string[]> {
  const m = new RegExp(`\\n\\s*${name}\\s*=\\s*\\{([\\s\\S]*?)\\n\\s*\\}`).exec(source);
  if (!m) throw new Error(`local ${name} not found`);
  const out: Record<string, string[]> = {};
  for (const line of m[1]!.matchAll(/"([^"]+)"\s*=\s*\[([^\]]*)\]/g)) out[line[1]!] = [...line[2]!.matchAll(/"([^"]+)"/g)].map((x) => x[1]!);
  return out;
}

describe("terraform", () => {
  it("is formatted (terraform fmt -check -recursive)", () => {
    const result = spawnSync("terraform", ["-chdir=infra", "fmt", "-check", "-recursive"], { cwd: ROOT, encoding: "utf8", timeout: 60_000 });
    if (result.error) throw new Error(`terraform CLI not runnable (${result.error.message}); install terraform ≥ 1.6 — Cloud Build copies it from hashicorp/terraform`);
    expect(result.stdout.trim(), "files terraform fmt would rewrite").toBe("");
    expect(result.status).toBe(0);
  });

  it("declares a function of the same name (and entry point) for every functions/*.ts, which registers that name", () => {
    const functions = tsNames("functions");
    expect(functions).toEqual(["command", "dashboard", "ingest", "on-training-completed", "poll", "promote", "reconcile", "register", "threshold"]);
    for (const name of functions) {
      const resource = block("google_cloudfunctions2_function", name);
      expect(resource, `google_cloudfunctions2_function "${name}"`).not.toBeNull();
      expect(resource).toContain(`name     = "${name}"`);
      expect(resource).toContain(`entry_point     = "${name}"`);
      expect(resource).toContain(`runtime         = "nodejs22"`);
      expect(resource).toContain(`object = google_storage_bucket_object.function_source["${name}"].name`);
      const source = readFileSync(join(ROOT, "functions", `${name}.ts`), "utf8");
      const registrations = [...source.matchAll(/ff\.(cloudEvent|http)\("([^"]+)"/g)].map((m) => m[2]);
      expect(registrations, `functions/${name}.ts registers exactly "${name}"`).toEqual([name]);
    }
  });

  it("declares a GPU Cloud Run job for every job entrypoint in functions/jobs/*.ts", () => {
    const jobs = tsNames("functions/jobs");
    expect(jobs.length).toBeGreaterThan(0);
    for (const name of jobs) {
      const resource = block("google_cloud_run_v2_job", name);
      expect(resource, `google_cloud_run_v2_job "${name}"`).not.toBeNull();
      expect(resource).toContain(`name                = "${name}"`);
      expect(resource).toContain(`accelerator = "nvidia-l4"`);
      expect(resource).toContain("gpu_zonal_redundancy_disabled = true");
      expect(resource).toContain(`timeout                       = "3600s"`);
      expect(resource).toMatch(/"nvidia\.com\/gpu" = "1"/);
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
    const allowed = ["roles/cloudsql.client", "roles/eventarc.eventReceiver", "roles/pubsub.publisher", "roles/logging.logWriter", "roles/artifactregistry.writer"];
    for (const role of [...projectRoles, ...listed]) expect(allowed, `project-level ${role}`).toContain(role);
    // The one project-level grant to our own function identities is conditioned on the instance.
    expect(block("google_project_iam_member", "cloudsql_client")).toMatch(/condition \{[\s\S]*resource\.name ==/);
  });

  it("has a topic for every topic in TOPICS and a push subscription per consumer topic (SUBSCRIPTIONS)", () => {
    expect([...localList(tf["main.tf"]!, "topics")].sort()).toEqual([...TOPICS].sort());
    const consumers = localMapOfLists(tf["main.tf"]!, "consumers");
    const expected = Object.fromEntries(
      Object.entries(SUBSCRIPTIONS).map(([consumer, types]) => [consumer, [...new Set((types as readonly MessageType[]).map(topicFor))].sort()]),
    );
    expect(Object.fromEntries(Object.entries(consumers).map(([k, v]) => [k, [...v].sort()]))).toEqual(expected);
    const push = block("google_pubsub_subscription", "push")!;
    expect(push).toContain("oidc_token");
    expect(push).toContain("dead_letter_policy");
    expect(push).toContain("/projects/${var.project}/topics/${each.value.topic}");
  });

  it("triggers ingest from GCS finalize on the archive bucket with retries", () => {
    const ingest = block("google_cloudfunctions2_function", "ingest")!;
    expect(ingest).toContain(`event_type            = "google.cloud.storage.object.v1.finalized"`);
    expect(ingest).toContain(`retry_policy          = "RETRY_POLICY_RETRY"`);
    expect(ingest).toContain(`value     = google_storage_bucket.data["archive"].name`);
  });

  it("schedules the poll, threshold and reconcile ticks with their message types", () => {
    const ticks = tf["scheduler.tf"]!;
    for (const type of ["poll.tick", "threshold.tick", "reconcile.tick"] as const) {
      expect(ticks).toMatch(new RegExp(`"${topicFor(type)}"\\s+= \\{ type = "${type.replace(".", "\\.")}"`));
    }
  });
});
