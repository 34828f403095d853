import type { ModelOutput, ModelRunner, ModelTimings, Stopwatch } from "./types.ts";
import { allocateInput, inputDims, type InputEncoding } from "./tensor.ts";

/** Time spent inside the model, summed over calls. */
export interface InferenceClock {
  inferenceMs: number;
  calls: number;
}

export function timingsOf(clock: InferenceClock, totalMs: number, items: number, pixels: number): ModelTimings {
  return {
    inferenceMs: clock.inferenceMs,
    totalMs,
    inferenceCalls: clock.calls,
    items,
    pixels,
    pixelsPerSecond: totalMs > 0 ? (pixels / totalMs) * 1000 : null,
  };
}

/** Runs the model once, measuring the call. */
export async function timedRun(
  runner: ModelRunner,
  input: Float32Array | Uint8Array,
  dims: readonly number[],
  clock: InferenceClock,
  now: Stopwatch,
): Promise<ModelOutput> {
  const start = now();
  const output = await runner.run(input, dims);
  clock.inferenceMs += now() - start;
  clock.calls += 1;
  return output;
}

/**
 * Collects same-size inputs into one tensor and runs the model when the batch is full (or on
 * `flush`). Each queued job gets its slot of the output back. Memory stays at one batch.
 */
export class FixedSizeBatcher<J> {
  private readonly tensor: Float32Array | Uint8Array;
  private readonly elementSize: number;
  private readonly jobs: J[] = [];

  constructor(
    private readonly runner: ModelRunner,
    private readonly encoding: InputEncoding,
    readonly inputHeight: number,
    readonly inputWidth: number,
    readonly maxBatch: number,
    private readonly consume: (job: J, output: ModelOutput, slot: number) => void,
    private readonly clock: InferenceClock,
    private readonly now: Stopwatch,
  ) {
    if (!Number.isInteger(maxBatch) || maxBatch < 1) throw new Error(`batch size must be a positive integer, got ${maxBatch}`);
    this.tensor = allocateInput(encoding, maxBatch, inputHeight, inputWidth);
    this.elementSize = encoding.channels * inputHeight * inputWidth;
  }

  /** `fill` writes the job's input into slot `slot` of the batch tensor. */
  async add(job: J, fill: (tensor: Float32Array | Uint8Array, slot: number) => void): Promise<void> {
    fill(this.tensor, this.jobs.length);
    this.jobs.push(job);
    if (this.jobs.length >= this.maxBatch) await this.flush();
  }

  async flush(): Promise<void> {
    const count = this.jobs.length;
    if (count === 0) return;
    const input = count === this.maxBatch ? this.tensor : this.tensor.subarray(0, count * this.elementSize);
    const output = await timedRun(this.runner, input, inputDims(this.encoding, count, this.inputHeight, this.inputWidth), this.clock, this.now);
    const jobs = this.jobs.splice(0, count);
    jobs.forEach((job, slot) => this.consume(job, output, slot));
  }
}
