/**
 * The lifecycle's numbers (policy LIFECYCLE) as a function reads them: its ages and retry delays, divided by
 * LIFECYCLE_SPEED_UP when the local runtime runs with `--fast` (LOCAL.fastLifecycleSpeedUp: a day in 10 s),
 * so a person can watch listings go live. Read by both sides of the lifecycle, the worker (entering: the
 * first age) and recheck-listings (every age), so they agree. Refused in Lambda: a deployed stage runs by
 * the policy's days.
 */
import { LIFECYCLE } from '#policy';
import { ConfigError, type Env, intEnv } from '#shared/env';
import type { LifecycleTiming } from './lifecycle-rules.ts';

/** The divisor of the lifecycle's durations (1 unless the local runtime speeds it up). */
export function lifecycleSpeedUp(env: Env): number {
  const speedUp = intEnv(env, 'LIFECYCLE_SPEED_UP', 1);
  if (speedUp < 1)
    throw new ConfigError(`LIFECYCLE_SPEED_UP must be a whole number of at least 1 (got ${speedUp})`);
  if (speedUp !== 1 && env.AWS_LAMBDA_FUNCTION_NAME) {
    throw new ConfigError(
      'LIFECYCLE_SPEED_UP is for the local runtime (npm start -- --fast); a stage runs by the policy',
    );
  }
  return speedUp;
}

export function lifecycleTimingFromEnv(env: Env): LifecycleTiming {
  const speedUp = lifecycleSpeedUp(env);
  return {
    agesSeconds: LIFECYCLE.recheckAgesSeconds.map((s) => s / speedUp),
    inconclusiveRetrySeconds: LIFECYCLE.inconclusiveRetrySeconds / speedUp,
    maxInconclusiveInARow: LIFECYCLE.maxInconclusiveInARow,
  };
}
