/**
 * What happens after an attempt, as pure decisions over policy WEBHOOKS: when a failed delivery is tried
 * again (the Standard Webhooks schedule, each wait jittered), when it is given up, how long its endpoint is
 * left alone, and when the endpoint is disabled (410 at once; failing for WEBHOOKS.disableAfterFailingDays).
 */
import { WEBHOOKS } from '#policy';

export interface RetryPolicy {
  scheduleSeconds: readonly number[];
  jitter: number;
  disableAfterFailingDays: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  scheduleSeconds: WEBHOOKS.retryScheduleSeconds,
  jitter: WEBHOOKS.retryJitter,
  disableAfterFailingDays: WEBHOOKS.disableAfterFailingDays,
};

/** The wait after the `n`-th failure in a row (1-based), jittered; the schedule's last wait repeats. */
export function retryDelaySeconds(
  n: number,
  policy: RetryPolicy,
  random: () => number = Math.random,
): number {
  const schedule = policy.scheduleSeconds;
  const base = schedule[Math.min(Math.max(n, 1), schedule.length) - 1] as number;
  return base * (1 - policy.jitter + 2 * policy.jitter * random());
}

/** The shortest time a delivery is retried for: every wait at its shortest jitter. */
export function shortestRetrySpanSeconds(policy: RetryPolicy): number {
  return policy.scheduleSeconds.reduce((sum, s) => sum + s * (1 - policy.jitter), 0);
}

export interface FailureInput {
  /** Attempts of this delivery so far, the failed one included. */
  attempts: number;
  /** The endpoint's failures in a row, the failed one included. */
  endpointFailures: number;
  /** When the endpoint started failing (this failure's time if it had not). */
  failingSince: Date;
  /** The receiver answered 410 Gone. */
  gone: boolean;
  now: Date;
}

export interface FailureDecision {
  /** The delivery: tried again at `retryAt`, or given up (every wait of the schedule was used). */
  delivery: { retryAt: Date } | { giveUp: true };
  /** Nothing is sent to the endpoint before this. */
  pausedUntil: Date;
  /** Disable the endpoint now, and why. */
  disable?: 'gone' | 'failing';
}

const plus = (date: Date, seconds: number) => new Date(date.getTime() + Math.round(seconds * 1000));

export function afterFailure(
  input: FailureInput,
  policy: RetryPolicy = DEFAULT_RETRY_POLICY,
  random: () => number = Math.random,
): FailureDecision {
  const delivery =
    input.attempts > policy.scheduleSeconds.length
      ? { giveUp: true as const }
      : { retryAt: plus(input.now, retryDelaySeconds(input.attempts, policy, random)) };
  const pausedUntil = plus(input.now, retryDelaySeconds(input.endpointFailures, policy, random));
  const failingDays = (input.now.getTime() - input.failingSince.getTime()) / 86_400_000;
  const disable = input.gone ? 'gone' : failingDays >= policy.disableAfterFailingDays ? 'failing' : undefined;
  return { delivery, pausedUntil, ...(disable ? { disable } : {}) };
}
