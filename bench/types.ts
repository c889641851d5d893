/** One row of the benchmark table: a named scenario and what it measured. */
export interface BenchResult {
  /** Issue-level scenario name, e.g. "apple: full sync 10k assignments / 5k users". */
  name: string;
  /** Measured values, printed in order; units belong in the key ("wall ms", "peak RSS MB"). */
  metrics: Record<string, string | number>;
  /** The target the issue sets, and whether this run met it. */
  target?: string;
  met?: boolean;
}

/** A benchmark module: `bench/*.bench.ts` default-exports one of these. */
export interface Benchmark {
  title: string;
  run(): Promise<BenchResult[]>;
}
