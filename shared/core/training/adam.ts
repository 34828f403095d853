/**
 * Adam (Kingma & Ba 2015) with bias correction. The state is plain arrays and a step count, so a
 * checkpoint can store it and a resumed run continues with the same moments.
 */
export interface AdamState {
  step: number;
  m: Float64Array;
  v: Float64Array;
}

export interface AdamOptions {
  learningRate: number;
  beta1?: number;
  beta2?: number;
  epsilon?: number;
}

export function createAdamState(size: number): AdamState {
  return { step: 0, m: new Float64Array(size), v: new Float64Array(size) };
}

/** One update of `weights` in place from `grad`. */
export function adamStep(weights: Float64Array, grad: Float64Array, state: AdamState, options: AdamOptions): void {
  const beta1 = options.beta1 ?? 0.9;
  const beta2 = options.beta2 ?? 0.999;
  const epsilon = options.epsilon ?? 1e-8;
  state.step += 1;
  const c1 = 1 - beta1 ** state.step;
  const c2 = 1 - beta2 ** state.step;
  for (let k = 0; k < weights.length; k++) {
    const g = grad[k]!;
    const m = (state.m[k] = beta1 * state.m[k]! + (1 - beta1) * g);
    const v = (state.v[k] = beta2 * state.v[k]! + (1 - beta2) * g * g);
    weights[k]! -= (options.learningRate * (m / c1)) / (Math.sqrt(v / c2) + epsilon);
  }
}
