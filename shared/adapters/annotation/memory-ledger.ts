import { randomUUID } from "node:crypto";
import type { RegistrationJobLedger, RegistrationJobRecord } from "../../ports.ts";

/**
 * A registration-job ledger in memory, for a backend used without the database (the CLI, tests of
 * the adapter alone). It resumes jobs within one process only; the register use case passes the
 * database ledger (shared/db/queries/registration-jobs.ts), which survives restarts.
 */
export function memoryRegistrationLedger(now: () => Date = () => new Date()): RegistrationJobLedger {
  const jobs = new Map<string, RegistrationJobRecord & { state: "claimed" | "started" }>();
  const holder = new Map<string, string>(); // item id → job id
  const close = (id: string) => {
    const job = jobs.get(id);
    if (!job) return;
    jobs.delete(id);
    for (const item of job.itemIds) if (holder.get(item) === id) holder.delete(item);
  };
  return {
    async open(itemIds) {
      const wanted = new Set(itemIds);
      return [...jobs.values()].filter((j) => j.itemIds.some((i) => wanted.has(i))).map(({ state: _state, ...record }) => record);
    },
    async claim(itemIds, detail, staleAfterSeconds) {
      const cutoff = now().getTime() - staleAfterSeconds * 1000;
      for (const job of [...jobs.values()]) if (job.state === "claimed" && Date.parse(job.claimedAt) < cutoff) close(job.id);
      const free = itemIds.filter((i) => !holder.has(i));
      if (free.length === 0) return null;
      const record = { id: `rjob_${randomUUID()}`, jobId: null, itemIds: free, detail, claimedAt: now().toISOString() };
      jobs.set(record.id, { ...record, state: "claimed" });
      for (const item of free) holder.set(item, record.id);
      return record;
    },
    async started(id, jobId) {
      const job = jobs.get(id);
      if (job?.state === "claimed") jobs.set(id, { ...job, jobId, state: "started" });
    },
    async settle(id) {
      close(id);
    },
    async abandon(id) {
      close(id);
    },
  };
}
