import type { Prediction } from "../../../shared/core/serving/predict.ts";

/**
 * Class shares over every valid pixel of a batch, without keeping the masks: each prediction's
 * fractions weighted by its valid pixel count (nodata pixels count for no class).
 */
export class ClassPixelTally {
  private readonly pixels = new Map<string, number>();
  private valid = 0;

  add(prediction: Pick<Prediction, "classFractions" | "validPixels">): void {
    this.valid += prediction.validPixels;
    for (const [name, share] of Object.entries(prediction.classFractions)) {
      this.pixels.set(name, (this.pixels.get(name) ?? 0) + Math.round(share * prediction.validPixels));
    }
  }

  fractions(): Record<string, number> {
    return Object.fromEntries([...this.pixels].map(([name, n]) => [name, this.valid > 0 ? n / this.valid : 0]));
  }
}
