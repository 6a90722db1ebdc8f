/** The shape every benchmark has, and the command-line arguments it reads. */
import type { BenchResult } from './report.ts';
import type { BenchServices } from './services.ts';

export interface BenchContext {
  /** `--name value` pairs from the command line. */
  args: Readonly<Record<string, string>>;
  /** The command that ran this benchmark, for the result and the docs. */
  command: string;
  /** Postgres and moto, started on first use and stopped after the benchmark. */
  services(): Promise<BenchServices>;
  log(line: string): void;
}

export interface Benchmark {
  name: string;
  title: string;
  /** One line for `npm run bench` without a name. */
  summary: string;
  run(ctx: BenchContext): Promise<BenchOutcome>;
}

/** What a benchmark measured; the runner adds its name, date, command and machine. */
export type BenchOutcome = Omit<BenchResult, 'name' | 'title' | 'date' | 'command' | 'machine'>;

export function intArg(args: Readonly<Record<string, string>>, name: string, fallback: number): number {
  const raw = args[name];
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0) throw new Error(`--${name} must be a whole number (got ${raw})`);
  return value;
}

export function intListArg(
  args: Readonly<Record<string, string>>,
  name: string,
  fallback: readonly number[],
): number[] {
  const raw = args[name];
  if (raw === undefined) return [...fallback];
  const values = raw.split(',').map(Number);
  if (values.some((v) => !Number.isInteger(v) || v < 1)) {
    throw new Error(`--${name} must be whole numbers separated by commas (got ${raw})`);
  }
  return values;
}
