import type { ItemPredictor, Logger, ObjectStore, Queryable } from "../ports.ts";
import { Predictor } from "./predictor.ts";

export interface ItemPredictorDeps {
  db: Queryable;
  store: ObjectStore;
  log: Logger;
  tileSize: number;
  /** Execution providers in order of preference; the CPU alone when absent. */
  executionProviders?: readonly string[];
}

/**
 * The predictor pre-labelling uses: the serving Predictor (alias lookups per call, one load per
 * model, swaps without dropping work), with models loaded WITHOUT the fused argmax, so the logits
 * come back and the softmax's uncertainty can be measured. It predicts stored renderings, never
 * uploads: the normaliser is not needed and refuses to load.
 */
export function createItemPredictor(deps: ItemPredictorDeps): ItemPredictor & { close(): Promise<void> } {
  const refuse = <T>(): Promise<T> => Promise.reject(new Error("the pre-label predictor predicts stored renderings, not uploads"));
  const predictor = new Predictor({
    db: deps.db,
    store: deps.store,
    log: deps.log,
    normaliser: refuse,
    codec: refuse,
    loadModel: async (options) => (await import("../adapters/onnx/runtime.ts")).loadModel({ ...options, fuseArgmax: false }),
    normaliseOptions: { rgbBands: [1, 2, 3], nirBand: null, stretchPercentiles: null, nodataValue: null },
    maxRequestBytes: 0,
    tileSize: deps.tileSize,
    ...(deps.executionProviders ? { executionProviders: deps.executionProviders } : {}),
  });
  return {
    predictImages: (alias, images, nodata) => predictor.predictImages(alias, images, nodata),
    close: () => predictor.close(),
  };
}
