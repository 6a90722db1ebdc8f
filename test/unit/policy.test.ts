import { describe, expect, it } from 'vitest';
import {
  DATABASE,
  FUNCTION_DEFAULTS,
  PACKAGES,
  PAYLOAD_LIMITS,
  PRIORITY_TIERS,
  QUEUES,
  RATE_LIMITS,
  RECOVERY,
  SCHEDULES,
  tierFor,
  tierQueueNames,
  WORKER,
} from '#policy';

describe('policy', () => {
  it('orders tiers P1 > P2 > P3 by concurrency, within Lambda event source mapping limits', () => {
    expect(PRIORITY_TIERS.map((t) => t.name)).toEqual(['P1', 'P2', 'P3']);
    const concurrency = PRIORITY_TIERS.map((t) => t.maxConcurrency);
    expect([...concurrency].sort((a, b) => b - a)).toEqual(concurrency);
    for (const tier of PRIORITY_TIERS) {
      expect(tier.maxConcurrency).toBeGreaterThanOrEqual(2); // ScalingConfig.MaximumConcurrency minimum
      expect(tier.maxConcurrency).toBeLessThanOrEqual(1000);
    }
    expect(tierFor(1).name).toBe('P1');
    expect(() => tierFor(4)).toThrow(/priority must be 1, 2 or 3/);
  });

  it('promotes waiting jobs up every tier but the top, so nothing starves', () => {
    expect(PRIORITY_TIERS[0]?.promoteAfterSeconds).toBeNull();
    for (const tier of PRIORITY_TIERS.slice(1)) expect(tier.promoteAfterSeconds).toBeGreaterThan(0);
  });

  it('names FIFO queues and their dead-letter queues', () => {
    expect(tierQueueNames(tierFor(1), 'dev-')).toEqual({
      queue: 'dev-formfleet-p1.fifo',
      dlq: 'dev-formfleet-p1-dlq.fifo',
    });
  });

  it('keeps visibility at least 6x the worker timeout and DLQ retention longer than the queue', () => {
    expect(WORKER.visibilityTimeoutSeconds).toBeGreaterThanOrEqual(6 * WORKER.timeoutSeconds);
    expect(WORKER.visibilityTimeoutSeconds).toBeLessThanOrEqual(12 * 3600); // SQS maximum
    expect(QUEUES.maxReceiveCount).toBeGreaterThanOrEqual(5);
    expect(QUEUES.dlqRetentionSeconds).toBeGreaterThan(QUEUES.retentionSeconds);
    expect(WORKER.heartbeatIntervalSeconds * 3).toBeLessThan(RECOVERY.staleAfterSeconds);
  });

  it('holds the audit thresholds: stale after 10 min, checked every 2 min, DLQ every 5 min', () => {
    expect(RECOVERY.staleAfterSeconds).toBe(600);
    expect(SCHEDULES.staleJobs.everySeconds).toBe(120);
    expect(SCHEDULES.dlqCheck.everySeconds).toBe(300);
    expect(RECOVERY.requeueCap).toBeGreaterThanOrEqual(1);
  });

  it('keeps the JSON body limit under the Lambda payload ceiling', () => {
    expect(PAYLOAD_LIMITS.jsonBodyBytes).toBeLessThanOrEqual(PAYLOAD_LIMITS.jsonBodyCeilingBytes);
    expect(PAYLOAD_LIMITS.jsonBodyCeilingBytes).toBeLessThan(6 * 1024 * 1024);
    expect(PAYLOAD_LIMITS.apiGatewayMaxBytes).toBe(10 * 1024 * 1024);
  });

  it('has the documented client rate limits and packages that grow', () => {
    expect(RATE_LIMITS.client).toMatchObject({ perMinute: 100, perHour: 1000 });
    expect(RATE_LIMITS.anonymousPerIp.perMinute).toBe(100);
    const sizes = Object.values(PACKAGES).map((p) => p.size);
    expect([...sizes].sort((a, b) => a - b)).toEqual(sizes);
  });

  it('lets a site lease outlive a stalled step but not a waiting job, renewed at the heartbeat pace', () => {
    const leaseMs = WORKER.siteLeaseSeconds * 1000;
    // Renewed every third of the lease: two renewals may fail before it lapses.
    expect(leaseMs).toBeGreaterThanOrEqual(3 * WORKER.heartbeatIntervalSeconds * 1000);
    // Longer than the longest form step, so renewals held up for a whole step keep it.
    expect(leaseMs).toBeGreaterThan(WORKER.stepTimeoutMs);
    // A job waiting for a site outlasts a crashed holder's lease.
    expect(leaseMs).toBeLessThan(WORKER.siteWaitMaxMs);
  });

  it('sizes a database pool for every function kind, and bounds connecting and migration waits', () => {
    expect(Object.keys(DATABASE.poolMax).sort()).toEqual(Object.keys(FUNCTION_DEFAULTS).sort());
    for (const [kind, max] of Object.entries(DATABASE.poolMax)) {
      expect(Number.isInteger(max), kind).toBe(true);
      expect(max, kind).toBeGreaterThanOrEqual(0);
    }
    expect(DATABASE.poolMax.trigger).toBe(1);
    // A cold start that cannot connect fails well inside Lambda's 10 s initialisation limit.
    expect(DATABASE.connectTimeoutMs).toBeLessThan(10_000);
    expect(DATABASE.statementTimeoutMs).toBeLessThan(FUNCTION_DEFAULTS.api.timeoutSeconds * 1000);
    expect(DATABASE.migrationLockWaitSeconds).toBeLessThan(FUNCTION_DEFAULTS.trigger.timeoutSeconds);
  });
});
