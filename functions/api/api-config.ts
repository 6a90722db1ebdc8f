/**
 * The API's limits: body size, URL length and rate-limit presets from the policy module, each overridable
 * through the environment for a stage or a test (parsed once at cold start; a value past its ceiling is a
 * configuration error, not a silent clamp).
 */
import { PAYLOAD_LIMITS, RATE_LIMITS, type RateLimitPreset } from '#policy';
import { ConfigError, type Env, intEnv } from '#shared/env';

export interface ApiLimits {
  /** Largest JSON body accepted; larger is refused with 413 before parsing. */
  maxBodyBytes: number;
  /** Longest URL (path and query string) accepted; longer is refused with 414. */
  maxUrlLength: number;
  rates: { client: RateLimitPreset; admin: RateLimitPreset; anonymous: RateLimitPreset };
}

export const DEFAULT_LIMITS: ApiLimits = {
  maxBodyBytes: PAYLOAD_LIMITS.jsonBodyBytes,
  maxUrlLength: PAYLOAD_LIMITS.maxUrlLength,
  rates: { client: RATE_LIMITS.client, admin: RATE_LIMITS.admin, anonymous: RATE_LIMITS.anonymousPerIp },
};

function presetFromEnv(env: Env, name: string, base: RateLimitPreset): RateLimitPreset {
  const perMinute = intEnv(env, `RATE_LIMIT_${name}_PER_MINUTE`, base.perMinute);
  const perHour = base.perHour === null ? null : intEnv(env, `RATE_LIMIT_${name}_PER_HOUR`, base.perHour);
  if (perMinute < 1 || (perHour !== null && perHour < perMinute)) {
    throw new ConfigError(
      `RATE_LIMIT_${name}_*: need 1 <= per minute <= per hour (got ${perMinute}, ${perHour})`,
    );
  }
  return { perMinute, perHour, burst: base.burst };
}

export function apiLimitsFromEnv(env: Env): ApiLimits {
  const maxBodyBytes = intEnv(env, 'MAX_JSON_BODY_BYTES', PAYLOAD_LIMITS.jsonBodyBytes);
  if (maxBodyBytes < 1 || maxBodyBytes > PAYLOAD_LIMITS.jsonBodyCeilingBytes) {
    throw new ConfigError(
      `MAX_JSON_BODY_BYTES must be from 1 to ${PAYLOAD_LIMITS.jsonBodyCeilingBytes} (Lambda's 6 MB payload ` +
        `limit with room for the event around the body); got ${maxBodyBytes}`,
    );
  }
  return {
    maxBodyBytes,
    maxUrlLength: PAYLOAD_LIMITS.maxUrlLength,
    rates: {
      client: presetFromEnv(env, 'CLIENT', RATE_LIMITS.client),
      admin: presetFromEnv(env, 'ADMIN', RATE_LIMITS.admin),
      anonymous: presetFromEnv(env, 'ANONYMOUS', RATE_LIMITS.anonymousPerIp),
    },
  };
}
