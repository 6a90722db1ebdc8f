/** Every benchmark, in the order of the issue (a–g). */
import { api } from './api.ts';
import { browser } from './browser.ts';
import type { Benchmark } from './lib/benchmark.ts';
import { pipeline } from './pipeline.ts';

export const BENCHMARKS: readonly Benchmark[] = [pipeline, browser, api];
