import { describe, expect, it } from "vitest";
import { forward, initWeights, lossAndGradient, parameterCount, predict, viewsOf, type MlpShape } from "../../../../shared/core/training/mlp.ts";
import { adamStep, createAdamState } from "../../../../shared/core/training/adam.ts";
import { SeededRng } from "../../../../shared/core/training/rng.ts";

describe("mlp", () => {
  it("lays weights out as [w1, b1, w2, b2] and computes a hand-checked forward pass", () => {
    const shape: MlpShape = { inputs: 2, hidden: 2, classes: 2 };
    expect(parameterCount(shape)).toBe(4 + 2 + 4 + 2);
    // w1 = [[1, 0], [-1, 1]], b1 = [0, 0.5], w2 = [[1, 2], [0, -1]], b2 = [0.1, 0]
    const weights = new Float64Array([1, 0, -1, 1, 0, 0.5, 1, 2, 0, -1, 0.1, 0]);
    // x = (2, 1): h = relu(2, -2 + 1 + 0.5 = -0.5) = (2, 0); z = (2 + 0 + 0.1, 0 - 0 + 0) = (2.1, 0)
    // x = (0, 3): h = relu(0, 3.5) = (0, 3.5);  z = (0 + 7 + 0.1, -3.5) = (7.1, -3.5)
    const logits = forward(shape, weights, [2, 1, 0, 3], 2);
    expect(Array.from(logits)).toEqual([2.1, 0, 7.1, -3.5]);
    expect(Array.from(predict(shape, weights, [2, 1, -1, 0], 2))).toEqual([0, 0]);
    const views = viewsOf(shape, weights);
    expect(Array.from(views.b2)).toEqual([0.1, 0]);
  });

  it("has loss log(C) when every logit is equal", () => {
    const shape: MlpShape = { inputs: 3, hidden: 4, classes: 5 };
    const weights = new Float64Array(parameterCount(shape));
    const grad = new Float64Array(weights.length);
    const loss = lossAndGradient(shape, weights, [1, 2, 3, 4, 5, 6], [0, 4], [0, 1], grad);
    expect(loss).toBeCloseTo(Math.log(5), 12);
    // With zero weights the only non-zero gradient is on b2: mean(softmax − onehot) = 1/5 − 1/2 per label class.
    const g = viewsOf(shape, grad);
    expect(g.b2[0]).toBeCloseTo(0.2 - 0.5, 12);
    expect(g.b2[1]).toBeCloseTo(0.2, 12);
    expect(g.b2[4]).toBeCloseTo(0.2 - 0.5, 12);
  });

  it("matches a finite-difference gradient", () => {
    const shape: MlpShape = { inputs: 3, hidden: 5, classes: 4 };
    const rng = new SeededRng(7);
    const weights = initWeights(shape, rng);
    for (let k = 0; k < weights.length; k++) weights[k]! += rng.normal() * 0.1; // non-zero biases too
    const count = 6;
    const x = Array.from({ length: count * shape.inputs }, () => rng.normal());
    const y = [0, 1, 2, 3, 1, 2];
    const batch = [0, 1, 2, 3, 4, 5];
    const grad = new Float64Array(weights.length);
    lossAndGradient(shape, weights, x, y, batch, grad);
    const scratch = new Float64Array(weights.length);
    const eps = 1e-6;
    for (let k = 0; k < weights.length; k++) {
      const saved = weights[k]!;
      weights[k] = saved + eps;
      const up = lossAndGradient(shape, weights, x, y, batch, scratch);
      weights[k] = saved - eps;
      const down = lossAndGradient(shape, weights, x, y, batch, scratch);
      weights[k] = saved;
      const numeric = (up - down) / (2 * eps);
      expect(Math.abs(numeric - grad[k]!)).toBeLessThan(1e-6 + 1e-4 * Math.abs(numeric));
    }
  });

  it("refuses a label outside the class range", () => {
    const shape: MlpShape = { inputs: 1, hidden: 1, classes: 2 };
    expect(() => lossAndGradient(shape, new Float64Array(parameterCount(shape)), [1], [2], [0], new Float64Array(parameterCount(shape)))).toThrow(/outside 0–1/);
  });
});

describe("adam", () => {
  it("moves each weight by about the learning rate against its gradient on the first step", () => {
    // Step 1: m̂ = g, v̂ = g², so the update is lr · g / (|g| + ε).
    const weights = new Float64Array([1, 1, 1]);
    const state = createAdamState(3);
    adamStep(weights, new Float64Array([0.5, -2, 0]), state, { learningRate: 0.1 });
    expect(weights[0]).toBeCloseTo(0.9, 6);
    expect(weights[1]).toBeCloseTo(1.1, 6);
    expect(weights[2]).toBe(1);
    expect(state.step).toBe(1);
  });
});

describe("SeededRng", () => {
  it("continues the same sequence from a stored state", () => {
    const a = new SeededRng(123);
    a.next();
    a.next();
    const resumed = new SeededRng(a.state);
    const rest = [a.next(), a.next(), a.next()];
    expect([resumed.next(), resumed.next(), resumed.next()]).toEqual(rest);
    const values = Array.from({ length: 1000 }, () => a.next());
    expect(values.every((v) => v >= 0 && v < 1)).toBe(true);
    expect(new Set(values).size).toBeGreaterThan(990);
  });
});
