/** One measured number, printed by `npm run bench` next to its target. */
export interface BenchResult {
  name: string;
  value: number;
  unit: string;
  /** Human-readable target, e.g. "≤ 0.4 s". */
  target: string;
  /** Whether the value meets the target (benchmarks report; they never fail the build). */
  pass: boolean;
  note?: string;
}

export type BenchSuite = () => Promise<BenchResult[]>;
