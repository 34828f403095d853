import { join } from "node:path";
import { loadConfig, type Config } from "../config/load.ts";
import { isJobName, sectionsOf } from "../deployables.ts";
import { randomIds, systemClock } from "../adapters/basics.ts";
import { createLogger } from "../adapters/log/pino.ts";
import { SpoolPublisher } from "../adapters/messaging/spool.ts";
import { LocalObjectStore } from "../adapters/store/local.ts";
import type { Clock, IdGenerator, ImageCodec, Logger, ObjectStore, Publisher } from "../ports.ts";

/**
 * What a job entrypoint (train, evaluate) may use. Jobs never touch the database: they read their
 * inputs from the object store, write their outputs there, and announce the result with a message.
 * That keeps them the same on Cloud Run (GCS + Pub/Sub) and as local child processes (folders +
 * the runtime's spool).
 */
export interface JobDeps {
  config: Config;
  store: ObjectStore;
  publisher: Publisher;
  codec: () => Promise<ImageCodec>;
  clock: Clock;
  ids: IdGenerator;
  log: Logger;
}

export async function createJobDeps(env: Record<string, string | undefined> = process.env, jobName = "job"): Promise<JobDeps> {
  // A registered job validates only the config sections it declares (shared/deployables.ts).
  const config = loadConfig(env, isJobName(jobName) ? { sections: sectionsOf(jobName, "local") } : {});
  const log = createLogger({ level: config.logLevel, base: { job: jobName } });
  const codec = async () => (await import("../adapters/imaging/codec.ts")).sharpCodec;
  if (config.runtime === "gcp") {
    const gcp = await import("./gcp-job.ts");
    return { config, log, codec, clock: systemClock, ids: randomIds, ...(await gcp.createGcpJobAdapters(config)) };
  }
  return {
    config,
    log,
    codec,
    clock: systemClock,
    ids: randomIds,
    store: new LocalObjectStore(join(config.workspace, "buckets")),
    publisher: new SpoolPublisher(config.workspace),
  };
}
