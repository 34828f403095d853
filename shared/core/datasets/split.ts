import { sha256Hex } from "../json.ts";

/**
 * The split of a sample comes from a stable hash of its item's split key (`items.split_key`: the
 * product name, inherited by later generations of the same object, and for items older than the
 * key the product name or id they were split by before), so an evaluation sample never moves into
 * training as the dataset grows, and a re-upload lands in the split of the upload it replaces.
 */
export function splitOf(sampleKey: string, evalPercent: number): "train" | "eval" {
  const bucket = parseInt(sha256Hex(`split:${sampleKey}`).slice(0, 8), 16) % 100;
  return bucket < evalPercent ? "eval" : "train";
}
