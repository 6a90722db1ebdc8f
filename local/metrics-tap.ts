/**
 * The local runtime's stand-in for CloudWatch metrics. In AWS the handlers' Powertools Metrics become EMF
 * log lines that CloudWatch turns into metrics (the worker's cache hits and misses, submissions, browser
 * launches); locally metrics are not printed, so this tap counts what each handler adds, per metric name,
 * for the dashboard and `npm run demo` to read. It wraps `addMetric` on the handler's own Metrics instance
 * (the one its adapters were built with), so every code path that records a metric is counted and the
 * handler is otherwise untouched.
 */
import type { Metrics } from '#shared/telemetry';

export class MetricCounters {
  private readonly totals = new Map<string, number>();

  add(name: string, value: number): void {
    if (Number.isFinite(value)) this.totals.set(name, (this.totals.get(name) ?? 0) + value);
  }

  get(name: string): number {
    return this.totals.get(name) ?? 0;
  }

  /** Every counter, by name (sorted, for stable output). */
  snapshot(): Record<string, number> {
    return Object.fromEntries([...this.totals].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  }
}

/** Counts every metric `metrics` records into `counters`, under `prefix` + name. Returns `metrics`. */
export function tapMetrics<M extends Pick<Metrics, 'addMetric'>>(
  metrics: M,
  counters: MetricCounters,
  prefix = '',
): M {
  const original = metrics.addMetric.bind(metrics);
  metrics.addMetric = (name, unit, value, resolution) => {
    counters.add(`${prefix}${name}`, value);
    return original(name, unit, value, resolution);
  };
  return metrics;
}

export interface CacheFigures {
  hits: number;
  misses: number;
  /** hits / (hits + misses), or null before the first lookup. */
  hitRate: number | null;
}

const figures = (hits: number, misses: number): CacheFigures => ({
  hits,
  misses,
  hitRate: hits + misses > 0 ? hits / (hits + misses) : null,
});

/** The worker's in-container cache counters (functions/worker/cached-stores.ts) as hit rates. */
export function cacheFigures(counters: Pick<MetricCounters, 'get'>): {
  customers: CacheFigures;
  directories: CacheFigures;
  overall: CacheFigures;
} {
  const ch = counters.get('worker.CustomerCacheHit');
  const cm = counters.get('worker.CustomerCacheMiss');
  const dh = counters.get('worker.DirectoryCacheHit');
  const dm = counters.get('worker.DirectoryCacheMiss');
  return { customers: figures(ch, cm), directories: figures(dh, dm), overall: figures(ch + dh, cm + dm) };
}
