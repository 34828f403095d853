import { sha256Hex } from "../json.ts";

/**
 * The split of a sample comes from a stable hash of its name (the product name, which survives
 * re-uploads of the same product), so an evaluation sample never moves into training as the
 * dataset grows.
 */
export function splitOf(sampleKey: string, evalPercent: number): "train" | "eval" {
  const bucket = parseInt(sha256Hex(`split:${sampleKey}`).slice(0, 8), 16) % 100;
  return bucket < evalPercent ? "eval" : "train";
}
