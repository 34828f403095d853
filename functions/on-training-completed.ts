/**
 * on-training-completed — `training.completed` / `training.failed` (published by the train job). Registers the model
 * and launches the evaluation job.
 * Thin by design: decode the delivery, run the use case, acknowledge or throw for a retry
 * (see shared/runtime/function-handler.ts).
 */
import * as ff from "@google-cloud/functions-framework";
import { consumerFunction } from "../shared/runtime/gcp.ts";

// No image stack: this function never loads sharp, geotiff or onnxruntime.
ff.cloudEvent("on-training-completed", consumerFunction("on-training-completed"));
