import { describe, expect, it } from "vitest";
import { createTrainingState, fit, learningRateAt, type FitOptions, type TrainingSet } from "../../../../shared/core/training/fit.ts";
import { predict, type MlpShape } from "../../../../shared/core/training/mlp.ts";
import { SeededRng } from "../../../../shared/core/training/rng.ts";
import { parseCheckpoint, serialiseCheckpoint } from "../../../../shared/core/training/checkpoint.ts";
import { channelStats, standardise } from "../../../../shared/core/training/sampling.ts";

/** Points around a per-class centre in 4-D, like pixels of distinct surfaces. */
function clusters(centres: number[][], perClass: number, sigma: number, seed: number): TrainingSet {
  const rng = new SeededRng(seed);
  const count = centres.length * perClass;
  const x = new Float64Array(count * 4);
  const y = new Uint8Array(count);
  for (let r = 0; r < count; r++) {
    const c = r % centres.length;
    y[r] = c;
    for (let k = 0; k < 4; k++) x[r * 4 + k] = centres[c]![k]! + rng.normal() * sigma;
  }
  return { x, y, count };
}

/** XOR of two channels: no linear model separates it, one hidden layer does. */
function xor(count: number, seed: number): TrainingSet {
  const rng = new SeededRng(seed);
  const x = new Float64Array(count * 4);
  const y = new Uint8Array(count);
  for (let r = 0; r < count; r++) {
    const a = rng.next();
    const b = rng.next();
    x.set([a, b, rng.next(), rng.next()], r * 4);
    y[r] = (a > 0.5) !== (b > 0.5) ? 1 : 0;
  }
  return { x, y, count };
}

function accuracy(shape: MlpShape, weights: Float64Array, set: TrainingSet): number {
  const predicted = predict(shape, weights, set.x, set.count);
  let ok = 0;
  for (let r = 0; r < set.count; r++) if (predicted[r] === set.y[r]) ok++;
  return ok / set.count;
}

const CENTRES = [
  [0.06, 0.07, 0.04, 0.02], // water: dark, no NIR
  [0.05, 0.08, 0.05, 0.35], // vegetation: NIR ≫ red
  [0.15, 0.19, 0.22, 0.27], // soil
  [0.78, 0.78, 0.76, 0.72], // cloud: bright and flat
];

describe("fit", () => {
  it("learns a 4-channel spectral problem to high accuracy on fresh samples", async () => {
    const train = clusters(CENTRES, 400, 0.02, 1);
    const test = clusters(CENTRES, 200, 0.02, 2);
    const stats = channelStats(train, 4);
    standardise(train, 4, stats);
    standardise(test, 4, stats);
    const shape = { inputs: 4, hidden: 16, classes: 4 };
    const state = createTrainingState(shape, 42);
    await fit(state, train, { epochs: 15, batchSize: 64, learningRate: 0.01 });
    expect(accuracy(shape, state.weights, test)).toBeGreaterThan(0.98);
    expect(state.losses).toHaveLength(15);
    expect(state.losses.at(-1)!).toBeLessThan(state.losses[0]! / 4);
  });

  it("needs and uses its hidden layer (XOR)", async () => {
    const shape = { inputs: 4, hidden: 16, classes: 2 };
    const state = createTrainingState(shape, 3);
    await fit(state, xor(4000, 5), { epochs: 40, batchSize: 64, learningRate: 0.02 });
    expect(accuracy(shape, state.weights, xor(2000, 6))).toBeGreaterThan(0.9);
  });

  it("resumes from a checkpoint and ends identical to an uninterrupted run", async () => {
    const set = clusters(CENTRES, 100, 0.05, 9);
    const shape = { inputs: 4, hidden: 8, classes: 4 };
    const options: FitOptions = { epochs: 6, batchSize: 32, learningRate: 0.01 };
    const normalisation = { mean: [0, 0, 0, 0], std: [1, 1, 1, 1] };

    const uninterrupted = await fit(createTrainingState(shape, 11), set, options);

    // Interrupted after epoch 3: the last checkpoint written is all that survives.
    let saved = "";
    const first = createTrainingState(shape, 11);
    const interrupted = fit(first, set, options, (state) => {
      saved = serialiseCheckpoint({ fingerprint: "f", state, normalisation });
      if (state.epoch === 3) throw new Error("SIGTERM");
    });
    await expect(interrupted).rejects.toThrow("SIGTERM");
    const restored = parseCheckpoint(saved);
    expect(restored.state.epoch).toBe(3);
    const resumed = await fit(restored.state, set, options);

    expect(resumed.epoch).toBe(6);
    expect(Array.from(resumed.weights)).toEqual(Array.from(uninterrupted.weights));
    expect(resumed.losses).toEqual(uninterrupted.losses);
    expect(resumed.rngState).toBe(uninterrupted.rngState);
    // And a different seed really is a different run.
    const other = await fit(createTrainingState(shape, 12), set, options);
    expect(Array.from(other.weights)).not.toEqual(Array.from(uninterrupted.weights));
  });

  it("decays the learning rate from full to the floor by the last epoch", () => {
    const options = { epochs: 11, batchSize: 1, learningRate: 0.1, finalLearningRateFraction: 0.1 };
    expect(learningRateAt(0, options)).toBeCloseTo(0.1, 12);
    // Halfway the cosine term is 0.5: 0.1 · (0.1 + 0.9 · 0.5)
    expect(learningRateAt(5, options)).toBeCloseTo(0.055, 12);
    expect(learningRateAt(10, options)).toBeCloseTo(0.01, 12);
  });
});
