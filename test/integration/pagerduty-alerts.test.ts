/**
 * PagerDuty as another consumer of the alert path, as it runs locally: the alerts topic on moto fans out to
 * the Slack notifier's subscription and the PagerDuty notifier's; the PagerDuty notifier sends each critical
 * alert (policy ALERTS.critical) to the local Events API v2 sink: a trigger keyed by the alert's condition and
 * a resolve with the same key when it clears. Slack still gets every alert. A late retry of a trigger never
 * reopens a resolved incident, and a PagerDuty outage delays a page without losing it.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Alert, makeAlert } from '#functions/alerts/alert';
import { SnsAlerts } from '#functions/alerts/alerts';
import { notifierDepsFromEnv, pagerDutyNotifierDepsFromEnv } from '#functions/alerts/deps';
import { makeSlackNotifierHandler } from '#functions/alerts/notifier';
import { makePagerDutyNotifierHandler } from '#functions/alerts/pagerduty-notifier';
import { dlqAlert } from '#functions/recovery/dlq-check';
import { type LocalAlerts, startLocalAlerts } from '#local/alerts';
import { type PagerDutySink, startPagerDutySink } from '#local/pagerduty-sink';
import { createIdempotencyTable } from '#local/services/idempotency-table';
import { motoEnv } from '#local/services/moto';
import type { SlackSink } from '#local/slack-sink';
import { awsClientConfig } from '#shared/aws';
import { messagesOn } from '#test/queue-workers';
import { eventually, motoEndpoint, uniqueName } from '#test/services';

let sqs: SQSClient;
let sns: SNSClient;
let ddb: DynamoDBClient;
let local: LocalAlerts;
let slack: SlackSink;
let pagerDuty: PagerDutySink;
let publisher: SnsAlerts;
let pagerQueue: string;

beforeAll(async () => {
  const config = awsClientConfig(motoEnv(motoEndpoint()));
  sqs = new SQSClient(config);
  sns = new SNSClient(config);
  ddb = new DynamoDBClient(config);
  const prefix = `${uniqueName('pager')}-`;
  const idempotencyTable = await createIdempotencyTable(ddb, `${prefix}formfleet-idempotency`);
  local = await startLocalAlerts({ sqs, sns, idempotencyTable, prefix, retryDelaySeconds: 1 });
  slack = local.sink as SlackSink;
  pagerDuty = await startPagerDutySink();
  const env = {
    ...motoEnv(motoEndpoint()),
    ...local.notifierEnv,
    SLACK_MIN_INTERVAL_MS: '20',
    PAGERDUTY_EVENTS_URL: pagerDuty.url,
    PAGERDUTY_ROUTING_KEY: pagerDuty.routingKey,
    PAGERDUTY_TIMEOUT_MS: '1000',
  };
  local.startNotifier(makeSlackNotifierHandler(await notifierDepsFromEnv(env)));
  pagerQueue = (
    await local.subscribe(
      'pagerduty-notifier',
      makePagerDutyNotifierHandler(await pagerDutyNotifierDepsFromEnv(env)),
    )
  ).queueUrl;
  publisher = new SnsAlerts(sns, local.topicArn);
});
afterAll(async () => {
  await local?.stop();
  await pagerDuty?.stop();
  for (const c of [sqs, sns, ddb]) c?.destroy();
});

const dlq = (kind: 'dlq' | 'dlq_resolved', depth: number, time: string): Alert =>
  dlqAlert(
    { tier: 'P1', depth, messages: [] },
    kind === 'dlq'
      ? { kind: 'dlq', reason: depth === 1 ? 'new' : 'growing', previousDepth: depth - 1 }
      : { kind: 'dlq_resolved', previousDepth: 3 },
    { tier: 'P1', depth, observedAt: null, alerting: kind === 'dlq', episode: 7, lastAlertAt: null },
    time,
  );

const jobFailed = (id: string, time: string): Alert =>
  makeAlert({
    id,
    kind: 'job_failed',
    severity: 'critical',
    title: 'A job failed past the requeue cap',
    summary: 'its worker kept dying',
    counts: { failed: 1 },
    runbook: 'docs/runbooks/job-failed.md',
    time,
  });

const staleJob = (time: string): Alert =>
  makeAlert({
    id: `stale_job:${time}`,
    kind: 'stale_job',
    severity: 'warning',
    title: 'Jobs requeued',
    summary: 'a worker stopped heartbeating',
    counts: { requeued: 1 },
    runbook: 'docs/runbooks/stale-jobs.md',
    time,
  });

/** CloudWatch's own message for an alarm state change, as it publishes it to the topic. */
const alarm = (name: string, runbook: string, state: 'ALARM' | 'OK', at: string) =>
  sns.send(
    new PublishCommand({
      TopicArn: local.topicArn,
      Subject: `${state}: "${name}"`,
      Message: JSON.stringify({
        AlarmName: name,
        AlarmArn: `arn:aws:cloudwatch:us-east-1:000000000000:alarm:${name}`,
        AlarmDescription: `Rationale. Runbook: docs/runbooks/${runbook}.md`,
        NewStateValue: state,
        OldStateValue: state === 'OK' ? 'ALARM' : 'OK',
        NewStateReason: 'Threshold Crossed',
        StateChangeTime: at,
      }),
    }),
  );

const settled = () =>
  eventually(
    'both subscriptions drained',
    async () =>
      (await messagesOn(sqs, local.queueUrl)) === 0 && (await messagesOn(sqs, pagerQueue)) === 0
        ? true
        : undefined,
    { timeoutMs: 30_000, intervalMs: 200 },
  );

const pairsOf = (key: string) => pagerDuty.events.filter((e) => e.dedupKey === key).map((e) => e.action);

describe('critical alerts to PagerDuty', () => {
  it('trigger an incident per condition and resolve it with the same key; Slack gets every alert', async () => {
    const before = slack.messages.length;
    await publisher.publish(dlq('dlq', 1, '2026-05-03T10:00:00.000Z'));
    await publisher.publish(dlq('dlq', 3, '2026-05-03T10:05:00.000Z'));
    await publisher.publish(staleJob('2026-05-03T10:06:00.000Z'));
    await publisher.publish(jobFailed('job_failed:abc', '2026-05-03T10:07:00.000Z'));
    await alarm(
      'Work queued but no worker heartbeat for 5 min',
      'worker-heartbeat-missing',
      'ALARM',
      '2026-05-03T10:08:00.000+0000',
    );
    await alarm('API 5xx > 1 % for 5 min', 'api-5xx', 'ALARM', '2026-05-03T10:09:00.000+0000');
    await alarm('worker errors > 0', 'function-errors', 'ALARM', '2026-05-03T10:09:30.000+0000');
    await eventually('the triggers', async () => (pagerDuty.events.length >= 5 ? true : undefined), {
      timeoutMs: 30_000,
    });
    await alarm(
      'Work queued but no worker heartbeat for 5 min',
      'worker-heartbeat-missing',
      'OK',
      '2026-05-03T10:20:00.000+0000',
    );
    await alarm('API 5xx > 1 % for 5 min', 'api-5xx', 'OK', '2026-05-03T10:21:00.000+0000');
    await publisher.publish(dlq('dlq_resolved', 0, '2026-05-03T10:30:00.000Z'));
    await settled();
    await eventually('the resolves', async () => (pagerDuty.events.length >= 8 ? true : undefined));

    const heartbeat =
      'alarm:arn:aws:cloudwatch:us-east-1:000000000000:alarm:Work queued but no worker heartbeat for 5 min';
    const api5xx = 'alarm:arn:aws:cloudwatch:us-east-1:000000000000:alarm:API 5xx > 1 % for 5 min';
    expect(pairsOf('dlq:P1:7')).toEqual(['trigger', 'trigger', 'resolve']);
    expect(pairsOf(heartbeat)).toEqual(['trigger', 'resolve']);
    expect(pairsOf(api5xx)).toEqual(['trigger', 'resolve']);
    expect(pairsOf('job_failed:abc')).toEqual(['trigger']);
    expect(pagerDuty.events).toHaveLength(8);
    // One incident per condition, each closed when its condition cleared (the failed jobs stay for a person).
    expect(Object.fromEntries([...pagerDuty.incidents].map(([k, v]) => [k, v.status]))).toEqual({
      'dlq:P1:7': 'resolved',
      [heartbeat]: 'resolved',
      [api5xx]: 'resolved',
      'job_failed:abc': 'triggered',
    });
    // Slack: every one of the ten, the non-critical ones included.
    expect(slack.messages.length - before).toBe(10);
  });

  it('never reopens a resolved incident with a late retry of its trigger', async () => {
    const at = '2026-05-03T10:08:00.000+0000';
    await alarm('Work queued but no worker heartbeat for 5 min', 'worker-heartbeat-missing', 'ALARM', at);
    await settled();
    const heartbeat =
      'alarm:arn:aws:cloudwatch:us-east-1:000000000000:alarm:Work queued but no worker heartbeat for 5 min';
    expect(pairsOf(heartbeat)).toEqual(['trigger', 'resolve']);
    expect(pagerDuty.incidents.get(heartbeat)?.status).toBe('resolved');
  });

  it('pages after a PagerDuty outage, without losing the page', async () => {
    pagerDuty.failNext(2, 503);
    await publisher.publish(jobFailed('job_failed:outage', '2026-05-03T11:00:00.000Z'));
    await eventually(
      'the page after the outage',
      async () => (pairsOf('job_failed:outage').length > 0 ? true : undefined),
      { timeoutMs: 30_000 },
    );
    await settled();
    expect(pairsOf('job_failed:outage')).toEqual(['trigger']);
  });
});
