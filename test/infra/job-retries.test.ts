import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { GPU_TASK_TIMEOUT_MAX_SECONDS, JOB_MAX_RETRIES } from "../../shared/messages/jobs.ts";

const jobsTf = readFileSync(join(import.meta.dirname, "..", "..", "infra", "jobs.tf"), "utf8");

/** The body of `resource "google_cloud_run_v2_job" "<name>"`, up to the next resource. */
function jobBlock(name: string): string {
  const start = jobsTf.indexOf(`resource "google_cloud_run_v2_job" "${name}"`);
  if (start === -1) throw new Error(`no Cloud Run job ${name} in infra/jobs.tf`);
  const next = jobsTf.indexOf("\nresource ", start + 1);
  return jobsTf.slice(start, next === -1 ? undefined : next);
}

describe("Cloud Run job settings the code relies on", () => {
  for (const job of ["train", "evaluate"] as const) {
    it(`${job}: task retries as JOB_MAX_RETRIES says, and a task timeout within the GPU cap`, () => {
      const block = jobBlock(job);
      expect(Number(/\bmax_retries\s*=\s*(\d+)/.exec(block)?.[1])).toBe(JOB_MAX_RETRIES[job]);
      const timeout = Number(/\btimeout\s*=\s*"(\d+)s"/.exec(block)?.[1]);
      expect(timeout).toBeGreaterThan(0);
      expect(timeout).toBeLessThanOrEqual(GPU_TASK_TIMEOUT_MAX_SECONDS);
    });
  }
});
