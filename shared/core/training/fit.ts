import { adamStep, createAdamState, type AdamState } from "./adam.ts";
import { initWeights, lossAndGradient, parameterCount, type MlpShape } from "./mlp.ts";
import { SeededRng, deriveSeed } from "./rng.ts";

/**
 * The training loop, as a state that advances one epoch at a time. Everything that influences the
 * next epoch (weights, Adam moments, the shuffling RNG, the epoch number) is in `TrainingState`,
 * so checkpoint → resume ends bit-identical to an uninterrupted run with the same seed.
 */
export interface TrainingSet {
  /** Standardised features, `count` rows of `inputs` values. */
  x: Float64Array;
  /** Class id per row. */
  y: Uint8Array;
  count: number;
}

export interface TrainingState {
  shape: MlpShape;
  /** Epochs completed so far. */
  epoch: number;
  weights: Float64Array;
  adam: AdamState;
  /** State of the RNG that shuffles each epoch's mini-batches. */
  rngState: number;
  /** Mean training loss of each completed epoch. */
  losses: number[];
}

export interface FitOptions {
  epochs: number;
  batchSize: number;
  learningRate: number;
  /** Cosine decay to this fraction of the learning rate by the last epoch (1 = constant). */
  finalLearningRateFraction?: number;
}

export function createTrainingState(shape: MlpShape, seed: number, initial?: Float64Array): TrainingState {
  const weights = initial ? Float64Array.from(initial) : initWeights(shape, new SeededRng(deriveSeed(seed, "init")));
  if (weights.length !== parameterCount(shape)) throw new Error(`initial weights: ${weights.length} values, shape needs ${parameterCount(shape)}`);
  return { shape, epoch: 0, weights, adam: createAdamState(weights.length), rngState: deriveSeed(seed, "shuffle"), losses: [] };
}

/** The learning rate of an epoch: a function of the epoch number only, so resuming cannot change it. */
export function learningRateAt(epoch: number, options: FitOptions): number {
  const floor = options.finalLearningRateFraction ?? 0.05;
  const progress = options.epochs <= 1 ? 0 : epoch / (options.epochs - 1);
  return options.learningRate * (floor + (1 - floor) * 0.5 * (1 + Math.cos(Math.PI * progress)));
}

/** Runs one epoch (shuffled mini-batches, one Adam step each) and returns its mean loss. */
export function runEpoch(state: TrainingState, set: TrainingSet, options: FitOptions): number {
  if (set.count === 0) throw new Error("no training samples");
  const rng = new SeededRng(state.rngState);
  const order = rng.shuffle(Int32Array.from({ length: set.count }, (_, k) => k));
  const grad = new Float64Array(state.weights.length);
  const learningRate = learningRateAt(state.epoch, options);
  let weighted = 0;
  for (let start = 0; start < set.count; start += options.batchSize) {
    const batch = order.subarray(start, Math.min(start + options.batchSize, set.count));
    const loss = lossAndGradient(state.shape, state.weights, set.x, set.y, batch, grad);
    adamStep(state.weights, grad, state.adam, { learningRate });
    weighted += loss * batch.length;
  }
  const mean = weighted / set.count;
  state.rngState = rng.state;
  state.epoch += 1;
  state.losses.push(mean);
  return mean;
}

/**
 * Trains until `options.epochs` epochs are complete (continuing from `state.epoch`), calling
 * `afterEpoch` once per epoch — where the trainer writes its checkpoint.
 */
export async function fit(
  state: TrainingState,
  set: TrainingSet,
  options: FitOptions,
  afterEpoch?: (state: TrainingState, loss: number) => Promise<void> | void,
): Promise<TrainingState> {
  while (state.epoch < options.epochs) {
    const loss = runEpoch(state, set, options);
    await afterEpoch?.(state, loss);
  }
  return state;
}
