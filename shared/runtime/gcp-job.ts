import type { Config } from "../config/load.ts";
import type { ObjectStore, Publisher } from "../ports.ts";

/** GCS + Pub/Sub for jobs on Cloud Run. Filled in with the GCP adapters. */
export async function createGcpJobAdapters(config: Config): Promise<{ store: ObjectStore; publisher: Publisher }> {
  void config;
  throw new Error("GCP adapters are not wired yet");
}
