import type { Config } from "../../config/load.ts";
import type { NormaliseOptions } from "../../ports.ts";

/** How ingest normalises an upload; serving and batch prediction use the same, so a model sees what annotators saw. */
export function ingestNormaliseOptions(config: Pick<Config, "normalise">): NormaliseOptions {
  const { rgbBands, nirBand, stretchPercentiles, nodataValue, singleValueImages, limits } = config.normalise;
  return { rgbBands, nirBand, stretchPercentiles, nodataValue, singleValueImages, limits };
}
