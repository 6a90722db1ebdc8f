/**
 * Exponential backoff with jitter ("equal jitter": half the delay fixed, half random), so retries come
 * soon for a brief hiccup, spread out for a longer outage, and never synchronise across workers.
 */
export interface BackoffOptions {
  baseMs: number;
  maxMs: number;
  /** Random source in [0, 1); injectable so tests can pin it. */
  random?: () => number;
}

/** Delay before retry number `attempt` (1 = the first retry). */
export function backoffDelayMs(attempt: number, options: BackoffOptions): number {
  const random = options.random ?? Math.random;
  const exponent = Math.max(0, Math.min(attempt - 1, 30));
  const ceiling = Math.min(options.maxMs, options.baseMs * 2 ** exponent);
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}
