/**
 * Which alerts page (policy ALERTS.critical) and under which key: the alerts as formfleet's own handlers and
 * CloudWatch make them, so a change in how an alert is identified shows here.
 */
import { describe, expect, it } from 'vitest';
import { type Alert, makeAlert } from '#functions/alerts/alert';
import { alertFromCloudWatchAlarm } from '#functions/alerts/cloudwatch-alarm';
import { routingKeyFromSecret } from '#functions/alerts/deps';
import { incidentKey, pagerDutyEvent, pagerDutyPage } from '#functions/alerts/pagerduty';
import type { DlqAlertDecision } from '#functions/recovery/dlq-alert-state';
import { dlqAlert } from '#functions/recovery/dlq-check';
import { ALERTS, PAGERDUTY } from '#policy';

const state = {
  tier: 'P2',
  depth: 3,
  observedAt: null,
  alerting: true,
  episode: 4,
  lastAlertAt: new Date('2026-05-01T09:00:00Z'),
};
const dlq = (decision: DlqAlertDecision) =>
  dlqAlert({ tier: 'P2', depth: 3, messages: [] }, decision, state, '2026-05-01T10:00:00.000Z');

const alarm = (runbook: string, state: 'ALARM' | 'OK' | 'INSUFFICIENT_DATA') =>
  alertFromCloudWatchAlarm(
    {
      AlarmName: `condition of ${runbook}`,
      AlarmArn: `arn:aws:cloudwatch:us-east-1:1:alarm:${runbook}`,
      AlarmDescription: `Why. Runbook: https://github.example/formfleet/docs/runbooks/${runbook}.md`,
      NewStateValue: state,
      OldStateValue: state === 'OK' ? 'ALARM' : 'OK',
      StateChangeTime: '2026-05-01T10:00:00.000+0000',
    },
    '2026-05-01T10:00:01.000Z',
  );

const other = (kind: Alert['kind'], severity: Alert['severity']) =>
  makeAlert({
    id: `${kind}:1`,
    kind,
    severity,
    title: 't',
    summary: 's',
    counts: {},
    runbook: null,
    time: '2026-05-01T10:00:00.000Z',
  });

describe('critical alerts', () => {
  it('page for a DLQ that became non-empty or grew, and resolve the same incident when it drains', () => {
    const opened = pagerDutyPage(dlq({ kind: 'dlq', reason: 'new', previousDepth: 0 }));
    const grew = pagerDutyPage(dlq({ kind: 'dlq', reason: 'growing', previousDepth: 1 }));
    const drained = pagerDutyPage(dlq({ kind: 'dlq_resolved', previousDepth: 3 }));
    expect([opened?.action, grew?.action, drained?.action]).toEqual(['trigger', 'trigger', 'resolve']);
    expect(new Set([opened?.dedupKey, grew?.dedupKey, drained?.dedupKey])).toEqual(new Set(['dlq:P2:4']));
    // The hourly reminder is Slack's: PagerDuty escalates on its own.
    expect(pagerDutyPage(dlq({ kind: 'dlq_reminder', since: new Date() }))).toBeUndefined();
  });

  it('page for jobs failed past the cap, and for the heartbeat and API 5xx alarms until they return to OK', () => {
    expect(pagerDutyPage(other('job_failed', 'critical'))).toMatchObject({
      action: 'trigger',
      dedupKey: 'job_failed:1',
    });
    for (const runbook of ALERTS.critical.alarmRunbooks) {
      const fired = pagerDutyPage(alarm(runbook, 'ALARM'));
      const ok = pagerDutyPage(alarm(runbook, 'OK'));
      expect(fired).toMatchObject({
        action: 'trigger',
        dedupKey: `alarm:arn:aws:cloudwatch:us-east-1:1:alarm:${runbook}`,
      });
      expect(ok).toMatchObject({ action: 'resolve', dedupKey: fired?.dedupKey });
      expect(pagerDutyPage(alarm(runbook, 'INSUFFICIENT_DATA'))).toBeUndefined();
    }
  });

  it('leave everything else to Slack', () => {
    for (const kind of ['stale_job', 'stuck_step', 'webhook_disabled', 'notice', 'dlq_reminder'] as const) {
      expect(pagerDutyPage(other(kind, 'warning')), kind).toBeUndefined();
    }
    expect(pagerDutyPage(alarm('function-errors', 'ALARM'))).toBeUndefined();
    expect(pagerDutyPage(alarm('queue-backlog', 'ALARM'))).toBeUndefined();
  });

  it('become Events API v2 events: a trigger with a summary PagerDuty accepts and the runbook, a bare resolve', () => {
    const alert = makeAlert({
      ...other('job_failed', 'critical'),
      title: 'x'.repeat(2_000),
      runbook: 'docs/runbooks/job-failed.md',
    });
    const page = pagerDutyPage(alert);
    if (!page) throw new Error('no page');
    const event = pagerDutyEvent(page, { runbookBaseUrl: 'https://github.example/formfleet/blob/main/' });
    expect(event).toMatchObject({
      event_action: 'trigger',
      dedup_key: 'job_failed:1',
      payload: { severity: 'critical', source: 'formfleet', class: 'job_failed' },
      links: [
        { href: 'https://github.example/formfleet/blob/main/docs/runbooks/job-failed.md', text: 'runbook' },
      ],
    });
    expect((event as { payload: { summary: string } }).payload.summary).toHaveLength(
      PAGERDUTY.summaryMaxLength,
    );
    expect(pagerDutyEvent({ ...page, action: 'resolve' })).toEqual({
      event_action: 'resolve',
      dedup_key: 'job_failed:1',
    });
    expect(incidentKey(other('notice', 'warning'))).toBe('notice:1');
  });

  it('need a routing key from the stage secret: the key itself, or JSON with routingKey', () => {
    const key = 'R0123456789abcdefABCDEF0123456789';
    expect(routingKeyFromSecret(key)).toBe(key);
    expect(routingKeyFromSecret(JSON.stringify({ routingKey: key }))).toBe(key);
    expect(() => routingKeyFromSecret('https://events.pagerduty.com')).toThrow(/routing key/);
  });
});
