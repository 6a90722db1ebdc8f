/** The recovery and alerting functions as CDK and the local runtime read them, and the runbooks alerts link. */
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { RUNBOOKS } from '#functions/alerts/alert';
import { functionSpec } from '#functions/manifest';
import { ALERTS, SCHEDULES } from '#policy';

describe('recovery in the function manifest', () => {
  it('schedules the stale-job handler and the DLQ check from policy, with least needs', () => {
    expect(functionSpec('stale-jobs')).toMatchObject({
      kind: 'scheduled',
      schedule: SCHEDULES.staleJobs,
      needs: { database: true, jobQueues: ['send', 'read'], alertsTopic: true },
    });
    expect(functionSpec('dlq-check')).toMatchObject({
      kind: 'scheduled',
      schedule: SCHEDULES.dlqCheck,
      needs: { database: true, deadLetterQueues: 'read', alertsTopic: true },
    });
  });

  it('subscribes the Slack notifier to the alerts topic, unreserved, without the database', () => {
    const notifier = functionSpec('slack-notifier');
    expect(notifier).toMatchObject({
      kind: 'subscriber',
      subscribesTo: 'alerts',
      timeoutSeconds: ALERTS.notifierTimeoutSeconds,
      needs: { slackWebhookSecret: true, idempotencyTable: true },
    });
    // A reservation fails on a small-quota account: only a stage may ask for one (cdk.json concurrency).
    expect(notifier).not.toHaveProperty('reservedConcurrency');
    // An alarm about Postgres must still reach Slack.
    expect(notifier.needs.database).toBeUndefined();
    expect(ALERTS.deliveryRetryAttempts).toBeLessThanOrEqual(2); // Lambda's async retry maximum
    expect(ALERTS.maxEventAgeSeconds).toBeLessThanOrEqual(6 * 3600);
  });

  it('links only runbooks that exist', () => {
    for (const path of Object.values(RUNBOOKS)) expect(existsSync(path), path).toBe(true);
  });
});
