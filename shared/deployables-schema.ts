import * as z from "zod";
import { ALL_SECTIONS, type ConfigSection } from "./config/sections.ts";
import { BACKENDS, BUCKETS, FUNCTIONS, JOBS, SERVICES, type JobName } from "./deployables.ts";
import { MESSAGE_TYPES, SUBSCRIPTIONS, type MessageType } from "./messages/topics.ts";

/**
 * The shape and the rules of the deployables registry (shared/deployables.ts). The functions trust
 * the literal; the manifest generator (scripts/deployables.ts) and the tests validate it.
 */

const Section = z.enum(ALL_SECTIONS as [ConfigSection, ...ConfigSection[]]);
const Message = z.enum(MESSAGE_TYPES as [MessageType, ...MessageType[]]);
const Job = z.enum(Object.keys(JOBS) as [JobName, ...JobName[]]);
const Bucket = z.enum(BUCKETS);
const Memory = z.string().regex(/^\d+(Mi|Gi)$/, "a size such as 512Mi or 2Gi");
const Buckets = z.partialRecord(Bucket, z.enum(["viewer", "admin"]));

const FunctionSpecSchema = z.strictObject({
  trigger: z.discriminatedUnion("kind", [
    z.strictObject({ kind: z.literal("push") }),
    z.strictObject({ kind: z.literal("storage"), bucket: Bucket, event: z.literal("google.cloud.storage.object.v1.finalized") }),
    z.strictObject({ kind: z.literal("http") }),
  ]),
  publishes: z.array(Message),
  sections: z.array(Section).refine((s) => new Set(s).size === s.length, "no duplicates"),
  backendSections: z.partialRecord(z.enum(BACKENDS), z.array(Section)).optional(),
  heavy: z.array(z.enum(["normaliser", "codec", "predictor"])),
  buckets: Buckets,
  launches: z.array(Job),
  memory: Memory,
  cpu: z.string().regex(/^\d+(\.\d+)?$/),
  // Event-driven gen2 functions time out at 540 s at most, HTTP ones at 3600 s.
  timeoutSeconds: z.number().int().min(1).max(3600),
  maxInstances: z.number().int().min(1),
  concurrency: z.number().int().min(1).max(1000),
});

const JobSpecSchema = z.strictObject({
  publishes: z.array(Message),
  sections: z.array(Section),
  extraEnv: z.array(z.string().regex(/^[A-Z][A-Z0-9_]*$/)),
  buckets: Buckets,
  cpu: z.string().regex(/^\d+$/),
  memory: Memory,
  gpu: z.strictObject({ accelerator: z.literal("nvidia-l4"), count: z.number().int().min(1).max(1), zonalRedundancyDisabled: z.boolean() }).nullable(),
  // GPU tasks are capped at one hour.
  timeoutSeconds: z.number().int().min(1).max(3600),
  maxRetries: z.number().int().min(0).max(10),
  taskCount: z.number().int().min(1),
  parallelism: z.number().int().min(1),
  writesUnder: z.partialRecord(Bucket, z.string().regex(/^[a-z0-9][a-z0-9_-]*\/$/, "a folder such as predictions/")).optional(),
});

const ServiceSpecSchema = z.strictObject({
  sections: z.array(Section).refine((s) => new Set(s).size === s.length, "no duplicates"),
  extraEnv: z.array(z.string().regex(/^[A-Z][A-Z0-9_]*$/)),
  buckets: Buckets,
  cpu: z.string().regex(/^\d+$/),
  memory: Memory,
  // Cloud Run request timeout is at most 3600 s.
  timeoutSeconds: z.number().int().min(1).max(3600),
  minInstances: z.number().int().min(0),
  maxInstances: z.number().int().min(1),
  concurrency: z.number().int().min(1).max(1000),
});

const Name = z.string().regex(/^[a-z][a-z0-9-]{0,61}[a-z0-9]$/);

export const RegistrySchema = z
  .strictObject({ functions: z.record(Name, FunctionSpecSchema), jobs: z.record(z.string(), JobSpecSchema), services: z.record(Name, ServiceSpecSchema) })
  .superRefine((r, ctx) => {
    for (const [name, fn] of Object.entries(r.functions)) {
      const consumes = (SUBSCRIPTIONS as Record<string, readonly string[]>)[name] ?? [];
      if (fn.trigger.kind === "http" && consumes.length > 0) ctx.addIssue({ code: "custom", message: `${name}: an HTTP function cannot consume messages` });
      if (fn.trigger.kind !== "http" && consumes.length === 0) ctx.addIssue({ code: "custom", message: `${name}: a consumer function without SUBSCRIPTIONS` });
      if (fn.trigger.kind !== "http" && fn.timeoutSeconds > 540) ctx.addIssue({ code: "custom", message: `${name}: event-driven functions time out at 540 s at most` });
    }
    for (const name of Object.keys(r.services)) {
      if (name in r.functions || name in r.jobs) ctx.addIssue({ code: "custom", message: `${name}: a service shares its name with a function or job` });
    }
    for (const consumer of Object.keys(SUBSCRIPTIONS)) {
      if (!(consumer in r.functions)) ctx.addIssue({ code: "custom", message: `SUBSCRIPTIONS names ${consumer}, which is not a function` });
    }
  });

export function validateRegistry(): void {
  RegistrySchema.parse({ functions: FUNCTIONS, jobs: JOBS, services: SERVICES });
}

