/**
 * Every benchmark, in the order of the issues (a–h; h is issue 21's year of history, i is issue 16's
 * "benchmark h", throughput at real-world latency).
 */
import { api } from './api.ts';
import { browser } from './browser.ts';
import { cost } from './cost.ts';
import { drain } from './drain.ts';
import { latency } from './latency.ts';
import type { Benchmark } from './lib/benchmark.ts';
import { pipeline } from './pipeline.ts';
import { priority } from './priority.ts';
import { retention } from './retention.ts';
import { stale } from './stale.ts';

export const BENCHMARKS: readonly Benchmark[] = [
  pipeline,
  browser,
  api,
  stale,
  priority,
  drain,
  cost,
  retention,
  latency,
];
