/** One measured number, printed by `npm run bench` next to its target. */
export interface BenchResult {
  name: string;
  value: number;
  unit: string;
  /** Human-readable target, e.g. "≤ 0.4 s". */
  target: string;
  /**
   * Whether the value meets the target (benchmarks report; they never fail the build); null when it
   * cannot be judged here — the target is relative to a reference tool that is not installed on
   * this machine, and a figure recorded on another machine says nothing about this one's speed.
   */
  pass: boolean | null;
  note?: string;
}

export type BenchSuite = () => Promise<BenchResult[]>;
