/**
 * middy middleware: the exact per-key / per-IP rate limit on every request, and the RateLimit-* headers on
 * every response it decided (success or error), with Retry-After on a 429.
 *
 * Keyed routes are limited per API key id (the admin preset for admin keys, the client preset otherwise);
 * unauthenticated routes per client IP (requestContext.identity.sourceIp, which API Gateway sets from the
 * connection, not from a spoofable header). If the limiter's database cannot answer, the request is let
 * through (fail open) and counted: API Gateway's usage plan and the WAF rule still stand in front, and
 * refusing every request because a counter is unreachable would turn a database blip into an outage.
 */
import type middy from '@middy/core';
import { describeError, type Logger, type Metrics, MetricUnit } from '#shared/telemetry';
import type { ApiLimits } from './api-config.ts';
import { type ApiEvent, type ApiResult, HttpError } from './http.ts';
import { type RateDecision, type RateLimiter, windowsOf } from './rate-limiter.ts';
import { resolveRoute } from './routes.ts';

export interface RateLimitDeps {
  rateLimiter: RateLimiter;
  limits: ApiLimits;
  adminKeyIds: ReadonlySet<string>;
  logger: Logger;
  metrics: Metrics;
}

export function rateLimitHeaders(decision: RateDecision): Record<string, string> {
  return {
    'ratelimit-limit': String(decision.limit),
    'ratelimit-remaining': String(decision.remaining),
    'ratelimit-reset': String(decision.resetSeconds),
    'ratelimit-policy': decision.policy,
    ...(decision.retryAfterSeconds !== null ? { 'retry-after': String(decision.retryAfterSeconds) } : {}),
  };
}

/** Who a request counts against, and under which preset. */
export function subjectOf(event: ApiEvent, deps: Pick<RateLimitDeps, 'limits' | 'adminKeyIds'>) {
  const { route } = resolveRoute(event.httpMethod, event.path ?? '');
  const keyId = event.requestContext?.identity?.apiKeyId;
  if (route?.auth !== 'none' && keyId) {
    const admin = deps.adminKeyIds.has(keyId);
    return { subject: `key:${keyId}`, preset: admin ? deps.limits.rates.admin : deps.limits.rates.client };
  }
  const ip = event.requestContext?.identity?.sourceIp ?? 'unknown';
  return { subject: `ip:${ip}`, preset: deps.limits.rates.anonymous };
}

export function rateLimit(deps: RateLimitDeps): middy.MiddlewareObj<ApiEvent, ApiResult> {
  const decisions = new WeakMap<ApiEvent, RateDecision>();
  const addHeaders = async function addRateLimitHeaders(request: middy.Request<ApiEvent, ApiResult>) {
    const decision = decisions.get(request.event);
    if (!decision || !request.response) return;
    request.response.headers = { ...request.response.headers, ...rateLimitHeaders(decision) };
  };
  return {
    before: async function takeAllowance(request) {
      const { subject, preset } = subjectOf(request.event, deps);
      let decision: RateDecision;
      try {
        decision = await deps.rateLimiter.take(subject, windowsOf(preset));
      } catch (err) {
        deps.logger.error('rate limiter unavailable; request let through', { error: describeError(err) });
        deps.metrics.addMetric('RateLimiterErrors', MetricUnit.Count, 1);
        return;
      }
      decisions.set(request.event, decision);
      if (!decision.allowed) {
        deps.metrics.addMetric('RateLimited', MetricUnit.Count, 1);
        throw new HttpError(
          429,
          'rate_limited',
          `rate limit exceeded: at most ${decision.limit} requests in any ${decision.windowSeconds} s; ` +
            `retry after ${decision.retryAfterSeconds} s`,
        );
      }
    },
    after: addHeaders,
    onError: addHeaders,
  };
}
