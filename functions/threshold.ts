/**
 * threshold — `annotations.accepted` and `threshold.tick`. Freezes a dataset version and launches the
 * training job when enough fresh samples are waiting.
 * Thin by design: decode the delivery, run the use case, acknowledge or throw for a retry
 * (see shared/runtime/function-handler.ts).
 */
import * as ff from "@google-cloud/functions-framework";
import { consumerFunction } from "../shared/runtime/gcp.ts";

// Freezing a version exports mask PNGs, so threshold bundles sharp (loaded on first use).
ff.cloudEvent("threshold", consumerFunction("threshold", { codec: async () => (await import("../shared/adapters/imaging/codec.ts")).sharpCodec }));
