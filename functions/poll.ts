/**
 * poll — `poll.tick` (Cloud Scheduler, the `poll` command). Fetches finished labels, converts and
 * quality-checks them, accepts or rejects each sample.
 * Thin by design: decode the delivery, run the use case, acknowledge or throw for a retry
 * (see shared/runtime/function-handler.ts).
 */
import * as ff from "@google-cloud/functions-framework";
import { consumerFunction } from "../shared/runtime/gcp.ts";

// Quality checks decode the nodata mask PNG, so poll bundles sharp (loaded on first use).
ff.cloudEvent("poll", consumerFunction("poll", { codec: async () => (await import("../shared/adapters/imaging/codec.ts")).sharpCodec }));
