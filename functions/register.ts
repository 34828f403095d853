/**
 * register — `item.normalised` (push). Registers every item waiting for registration with the annotation
 * backend in one batch.
 * Thin by design: decode the delivery, run the use case, acknowledge or throw for a retry
 * (see shared/runtime/function-handler.ts).
 */
import * as ff from "@google-cloud/functions-framework";
import { consumerFunction } from "../shared/runtime/gcp.ts";

// No image stack: this function never loads sharp, geotiff or onnxruntime.
ff.cloudEvent("register", consumerFunction("register"));
