/**
 * reconcile — `reconcile.tick` (Cloud Scheduler). Republishes outbox rows left unsent, settles job
 * executions that finished without reporting, resumes timed-out runs, nudges stuck items.
 * Thin by design: decode the delivery, run the use case, acknowledge or throw for a retry
 * (see shared/runtime/function-handler.ts).
 */
import * as ff from "@google-cloud/functions-framework";
import { consumerFunction } from "../shared/runtime/gcp.ts";

// No image stack: this function never loads sharp, geotiff or onnxruntime.
ff.cloudEvent("reconcile", consumerFunction("reconcile"));
