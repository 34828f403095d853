/**
 * prelabel — `items.registered`, `model.promoted`, `reconcile.tick` (push). Predicts each newly
 * registered item with the model behind PRELABEL_ALIAS, sends the mask to the annotation backend as
 * a pre-label with the item's labelling priority, and backfills items registered before a model.
 * Thin by design: decode the delivery, run the use case, acknowledge or throw for a retry
 * (see shared/runtime/function-handler.ts).
 */
import * as ff from "@google-cloud/functions-framework";
import { consumerFunction } from "../shared/runtime/gcp.ts";

// sharp decodes the renderings and encodes the mask; onnxruntime runs the model (both on first use).
ff.cloudEvent("prelabel", consumerFunction("prelabel", {
  codec: async () => (await import("../shared/adapters/imaging/codec.ts")).sharpCodec,
  predictor: async () => (await import("../shared/serving/item-predictor.ts")).createItemPredictor,
}));
