import type { Config } from "../config/load.ts";
import type { ObjectStore, Publisher } from "../ports.ts";

/**
 * GCS + Pub/Sub for jobs on Cloud Run (train, evaluate). Jobs never touch the database; they read
 * inputs from GCS, write outputs there and announce the result on Pub/Sub. Loaded lazily by
 * `createJobDeps`, so the local runtime never imports the Google SDKs.
 */
export async function createGcpJobAdapters(config: Config): Promise<{ store: ObjectStore; publisher: Publisher }> {
  const [{ GcsObjectStore }, { PubSubPublisher }] = await Promise.all([
    import("../adapters/gcp/gcs.ts"),
    import("../adapters/gcp/pubsub.ts"),
  ]);
  const publisher = new PubSubPublisher({
    ...(config.gcp.project ? { projectId: config.gcp.project } : {}),
    topicPrefix: config.gcp.topicPrefix,
    // A job publishes one result message at its very end: send it at once, no batching window.
    batching: { maxMessages: 1, maxMilliseconds: 10 },
  });
  return { store: new GcsObjectStore(), publisher };
}
