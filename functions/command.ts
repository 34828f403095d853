/**
 * command — Manual commands on the `commands` topic (`mlops command …`, or `gcloud pubsub topics publish
 * commands --message='{"name":"poll"}' --attribute=type=command`).
 * Thin by design: decode the delivery, run the use case, acknowledge or throw for a retry
 * (see shared/runtime/function-handler.ts).
 */
import * as ff from "@google-cloud/functions-framework";
import { consumerFunction } from "../shared/runtime/gcp.ts";

// No image stack: this function never loads sharp, geotiff or onnxruntime.
ff.cloudEvent("command", consumerFunction("command"));
