/** The API's pure parts: configuration, cursors, URL length, the usage-plan bucket, health judgement, waits. */
import { describe, expect, it } from 'vitest';
import { apiLimitsFromEnv, DEFAULT_LIMITS } from '#functions/api/api-config';
import { CURSOR_PARTS, decodeCursor, encodeCursor } from '#functions/api/cursor';
import { urlLength } from '#functions/api/guards';
import { type HealthReport, judge } from '#functions/api/health-report';
import { estimateWaitSeconds } from '#functions/api/job-queries';
import { matchPath, resolveRoute } from '#functions/api/routes';
import { FUNCTIONS, functionSpec } from '#functions/manifest';
import { TokenBuckets } from '#local/gateway';
import { HEALTH, PAYLOAD_LIMITS, RATE_LIMITS, RECOVERY, usagePlanFor } from '#policy';
import { apiEvent } from '#test/events';

describe('API limits from the environment', () => {
  it('defaults to the policy and takes overrides', () => {
    expect(apiLimitsFromEnv({})).toEqual(DEFAULT_LIMITS);
    const limits = apiLimitsFromEnv({ MAX_JSON_BODY_BYTES: '4500000', RATE_LIMIT_CLIENT_PER_MINUTE: '5' });
    expect(limits.maxBodyBytes).toBe(4_500_000);
    expect(limits.rates.client).toEqual({ ...RATE_LIMITS.client, perMinute: 5 });
  });

  it('refuses a body limit past the Lambda-safe ceiling, and limits that contradict each other', () => {
    expect(() =>
      apiLimitsFromEnv({ MAX_JSON_BODY_BYTES: String(PAYLOAD_LIMITS.jsonBodyCeilingBytes + 1) }),
    ).toThrow(/MAX_JSON_BODY_BYTES must be from 1 to 4500000/);
    expect(() => apiLimitsFromEnv({ RATE_LIMIT_ADMIN_PER_HOUR: '10' })).toThrow(/per minute <= per hour/);
    expect(() => apiLimitsFromEnv({ RATE_LIMIT_CLIENT_PER_MINUTE: 'lots' })).toThrow(/must be an integer/);
  });
});

describe('usage-plan throttle', () => {
  it('is looser than the exact limits, so clients meet the exact limiter first', () => {
    for (const preset of Object.values(RATE_LIMITS)) {
      const { rateLimitPerSecond, burstLimit, quotaPerDay } = usagePlanFor(preset);
      expect(burstLimit).toBeGreaterThan(preset.perMinute);
      expect(rateLimitPerSecond * 60).toBeGreaterThan(preset.perMinute);
      expect(quotaPerDay).toBeGreaterThanOrEqual((preset.perHour ?? preset.perMinute * 60) * 24);
    }
  });

  it('refills a bucket at its rate up to its burst', () => {
    let now = 0;
    const buckets = new TokenBuckets(() => now);
    const limits = { rateLimitPerSecond: 2, burstLimit: 2 };
    expect([1, 2, 3].map(() => buckets.take('k', limits))).toEqual([true, true, false]);
    expect(buckets.take('other', limits)).toBe(true);
    now = 500;
    expect([buckets.take('k', limits), buckets.take('k', limits)]).toEqual([true, false]);
    now = 60_000;
    expect([1, 2, 3].map(() => buckets.take('k', limits))).toEqual([true, true, false]);
  });
});

describe('cursors', () => {
  it('round-trip and refuse anything else', () => {
    const key = ['2026-01-01T00:00:00.123456Z', '00000000-0000-0000-0000-000000000000'];
    const parts = [CURSOR_PARTS.timestamp, CURSOR_PARTS.uuid];
    expect(decodeCursor(encodeCursor(key), parts)).toEqual(key);
    expect(decodeCursor(undefined, parts)).toBeUndefined();
    for (const bad of [encodeCursor(['x', 'y']), encodeCursor([key[0] as string]), 'not base64 json', '']) {
      expect(() => decodeCursor(bad, parts)).toThrow(/invalid cursor/);
    }
  });
});

describe('routing helpers', () => {
  it('match a trailing slash, keep undecodable parameters as sent, and list allowed methods', () => {
    expect(matchPath('/v1/jobs/{id}', '/v1/jobs/abc/')).toEqual({ id: 'abc' });
    expect(matchPath('/v1/jobs/{id}', '/v1/jobs/%zz')).toEqual({ id: '%zz' });
    expect(matchPath('/v1/jobs/{id}', '/v1/jobs/')).toBeUndefined();
    expect(resolveRoute('DELETE', '/v1/directories/x')).toMatchObject({
      route: { auth: 'admin' },
      allowed: ['GET', 'PUT', 'DELETE'],
    });
    expect(resolveRoute('GET', '/nope')).toEqual({ route: undefined, params: {}, allowed: [] });
  });

  it('measure a URL as path plus encoded query string', () => {
    expect(urlLength(apiEvent('GET', '/v1/jobs'))).toBe('/v1/jobs'.length);
    expect(urlLength(apiEvent('GET', '/v1/jobs', { query: { limit: '5', status: 'a b' } }))).toBe(
      '/v1/jobs?limit=5&status=a+b'.length,
    );
  });
});

describe('health judgement', () => {
  const report = (over: Partial<HealthReport> = {}): HealthReport => ({
    status: 'healthy',
    reasons: [],
    checkedAt: new Date(0).toISOString(),
    database: { status: 'up', latencyMs: 1 },
    queues: { status: 'up', tiers: [{ tier: 'P1', depth: 0, inFlight: 0, dlqDepth: 0 }] },
    workers: null,
    staleJobs: { count: 0, oldest: [] },
    jobs: null,
    browser: null,
    queuedWithoutMessage: { count: 0, tiers: [] },
    ...over,
  });

  it('is unhealthy without the database, degraded on a backlog, healthy otherwise', () => {
    expect(judge(report()).status).toBe('healthy');
    expect(judge(report({ database: { status: 'down', latencyMs: null } }))).toMatchObject({
      status: 'unhealthy',
      reasons: ['the database does not answer'],
    });
    const backlog = HEALTH.queueBacklogDegraded + 1;
    expect(
      judge(
        report({
          queues: { status: 'up', tiers: [{ tier: 'P3', depth: backlog, inFlight: 0, dlqDepth: 0 }] },
        }),
      ),
    ).toMatchObject({ status: 'degraded', reasons: [`the P3 backlog is ${backlog} (over 100)`] });
    expect(
      judge(report({ queuedWithoutMessage: { count: 2, tiers: [{ tier: 'P2', count: 2 }] } })),
    ).toMatchObject({
      status: 'degraded',
      reasons: [
        `2 job(s) queued for over ${RECOVERY.queuedLostAfterSeconds} s with no message on their queue; stale-jobs re-sends them`,
      ],
    });
  });
});

describe('estimated wait', () => {
  it('is zero once running, unknown without throughput, and grows with the position', () => {
    expect(estimateWaitSeconds(0, undefined)).toBe(0);
    expect(estimateWaitSeconds(3, undefined)).toBeNull();
    expect(estimateWaitSeconds(1, 60)).toBe(HEALTH.throughputWindowSeconds / 60);
    expect(estimateWaitSeconds(4, 60)).toBe((4 * HEALTH.throughputWindowSeconds) / 60);
  });
});

describe('API functions in the manifest', () => {
  it('gives each route group its Lambda and exactly the queues it touches', () => {
    const api = FUNCTIONS.filter((f) => f.kind === 'api').map((f) => f.name);
    expect(api.sort()).toEqual(
      [
        'api-customers',
        'api-directories',
        'api-dlq',
        'api-health',
        'api-jobs',
        'api-keys',
        'api-probes',
        'api-submissions',
        'api-webhooks',
      ].sort(),
    );
    expect(functionSpec('api-health').needs).toEqual({
      database: true,
      jobQueues: ['read'],
      deadLetterQueues: 'count',
    });
    expect(functionSpec('api-dlq').needs).toEqual({
      database: true,
      jobQueues: ['send'],
      deadLetterQueues: 'redrive',
    });
    // Logos: presigned uploads under media/, read back (after a listing for the size) to check them.
    expect(functionSpec('api-customers').needs).toEqual({
      database: true,
      records: [{ prefix: 'media', access: ['write', 'read', 'list'] }],
    });
    // Client keys: API Gateway's keys of the client plans, and the database for the rate limiter.
    expect(functionSpec('api-keys').needs).toEqual({ database: true, apiKeys: true });
    // Webhooks: seals new signing secrets, never opens one (delivery does).
    expect(functionSpec('api-webhooks').needs).toEqual({ database: true, webhookKey: 'seal' });
    // Dry runs: Chromium, and the probes/ prefix of the records bucket only (write, and read to presign).
    expect(functionSpec('api-probes')).toMatchObject({
      browser: true,
      needs: { database: true, records: [{ prefix: 'probes', access: ['write', 'read'] }] },
    });
  });
});
