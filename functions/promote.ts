/**
 * promote — `evaluation.completed` / `evaluation.failed` (published by the evaluate job). Applies the
 * promotion policy: moves an alias or asks for review on Slack.
 * Thin by design: decode the delivery, run the use case, acknowledge or throw for a retry
 * (see shared/runtime/function-handler.ts).
 */
import * as ff from "@google-cloud/functions-framework";
import { consumerFunction } from "../shared/runtime/gcp.ts";

// No image stack: this function never loads sharp, geotiff or onnxruntime.
ff.cloudEvent("promote", consumerFunction("promote"));
