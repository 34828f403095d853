import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { GPU_TASK_TIMEOUT_MAX_SECONDS, JOB_MAX_RETRIES } from "../../shared/messages/jobs.ts";

const manifest = JSON.parse(readFileSync(join(import.meta.dirname, "..", "..", "infra", "deployables.json"), "utf8")) as {
  jobs: Record<string, { max_retries: number; timeout: string }>;
};
const jobsTf = readFileSync(join(import.meta.dirname, "..", "..", "infra", "jobs.tf"), "utf8");

describe("Cloud Run job settings the code relies on", () => {
  it("Terraform takes max_retries and the timeout from the registry", () => {
    expect(jobsTf).toMatch(/max_retries\s*=\s*each\.value\.max_retries/);
    expect(jobsTf).toMatch(/timeout\s*=\s*each\.value\.timeout/);
  });

  for (const job of ["train", "evaluate"] as const) {
    it(`${job}: task retries as the code expects, and a task timeout within the GPU cap`, () => {
      const entry = manifest.jobs[job]!;
      expect(entry.max_retries).toBe(JOB_MAX_RETRIES[job]);
      expect(JOB_MAX_RETRIES[job]).toBeGreaterThan(0);
      const timeout = Number(/^(\d+)s$/.exec(entry.timeout)?.[1]);
      expect(timeout).toBeGreaterThan(0);
      expect(timeout).toBeLessThanOrEqual(GPU_TASK_TIMEOUT_MAX_SECONDS);
    });
  }
});
