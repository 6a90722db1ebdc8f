/**
 * The alert path as it runs locally: SNS topic on moto → SQS subscription → the notifier handler (retries as
 * Lambda's async invocation, then the on-failure queue) → the local Slack sink; delivered ids remembered in
 * DynamoDB (moto) through Powertools Idempotency; the webhook URL from Secrets Manager, never logged.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type Alert, makeAlert } from '#functions/alerts/alert';
import { SnsAlerts } from '#functions/alerts/alerts';
import { notifierDepsFromEnv } from '#functions/alerts/deps';
import { makeSlackNotifierHandler } from '#functions/alerts/notifier';
import { type LocalAlerts, startLocalAlerts } from '#local/alerts';
import { createIdempotencyTable } from '#local/services/idempotency-table';
import { motoEnv } from '#local/services/moto';
import type { SlackSink, SlackSinkMessage } from '#local/slack-sink';
import { awsClientConfig } from '#shared/aws';
import { createLogger, redactString } from '#shared/telemetry';
import { messagesOn } from '#test/queue-workers';
import { eventually, motoEndpoint, uniqueName } from '#test/services';

let sqs: SQSClient;
let sns: SNSClient;
let ddb: DynamoDBClient;
let local: LocalAlerts;
let sink: SlackSink;
let publisher: SnsAlerts;
let env: Record<string, string>;

beforeAll(async () => {
  const config = awsClientConfig(motoEnv(motoEndpoint()));
  sqs = new SQSClient(config);
  sns = new SNSClient(config);
  ddb = new DynamoDBClient(config);
  const prefix = `${uniqueName('alerts')}-`;
  const idempotencyTable = await createIdempotencyTable(ddb, `${prefix}formfleet-idempotency`);
  local = await startLocalAlerts({ sqs, sns, idempotencyTable, prefix, retryDelaySeconds: 1 });
  sink = local.sink as SlackSink;
  env = {
    ...motoEnv(motoEndpoint()),
    ...local.notifierEnv,
    SLACK_TIMEOUT_MS: '300',
    SLACK_RETRY_BASE_MS: '20',
    SLACK_MIN_INTERVAL_MS: '50',
  };
  local.startNotifier(makeSlackNotifierHandler(await notifierDepsFromEnv(env)));
  publisher = new SnsAlerts(sns, local.topicArn);
});
afterAll(async () => {
  await local?.stop();
  for (const c of [sqs, sns, ddb]) c?.destroy();
});

function alert(id: string): Alert {
  return makeAlert({
    id,
    kind: 'job_failed',
    severity: 'critical',
    title: `Job failed (${id})`,
    summary: 'its worker kept dying',
    counts: { failed: 1 },
    items: [{ title: 'job-1', fields: { tier: 'P1' } }],
    runbook: 'docs/runbooks/job-failed.md',
    time: new Date().toISOString(),
  });
}

const idOf = (m: SlackSinkMessage) => {
  const context = m.blocks.find((b) => b.type === 'context') as { elements: { text: string }[] } | undefined;
  return /id `([^`]+)`/.exec(context?.elements.map((e) => e.text).join(' ') ?? '')?.[1];
};
const delivered = (id: string) => sink.messages.filter((m) => idOf(m) === id);

const queueCount = (url: string) => messagesOn(sqs, url);

/** Waits until the notifier has nothing left to do (its subscription queue is empty). */
const settled = () =>
  eventually(
    'the notifier queue to drain',
    async () => ((await queueCount(local.queueUrl)) === 0 ? true : undefined),
    {
      timeoutMs: 20_000,
    },
  );

describe('alert delivery', () => {
  it('delivers an alert exactly once when Slack fails three times and then recovers', async () => {
    const before = sink.attempts;
    sink.failNext(3, 503);

    await publisher.publish(alert('flaky-slack'));
    await eventually(
      'the alert in Slack',
      async () => (delivered('flaky-slack').length > 0 ? true : undefined),
      {
        timeoutMs: 20_000,
      },
    );
    await settled();

    expect(delivered('flaky-slack')).toHaveLength(1);
    expect(sink.attempts - before).toBe(4);
    expect(await queueCount(local.failedQueueUrl)).toBe(0);
  });

  it('posts a redelivered or republished alert once', async () => {
    await publisher.publish(alert('twice'));
    await publisher.publish(alert('twice'));
    await eventually('the alert in Slack', async () => (delivered('twice').length > 0 ? true : undefined));
    await settled();
    expect(delivered('twice')).toHaveLength(1);
  });

  it('retries a 429 and an unanswered post, and delivers once', async () => {
    sink.rateLimitNext(1, 1);
    sink.hangNext(1);
    await publisher.publish(alert('slow-slack'));
    await eventually(
      'the alert in Slack',
      async () => (delivered('slow-slack').length > 0 ? true : undefined),
      {
        timeoutMs: 20_000,
      },
    );
    await settled();
    expect(delivered('slow-slack')).toHaveLength(1);
  });

  it('formats a CloudWatch alarm state change published by CloudWatch', async () => {
    await sns.send(
      new PublishCommand({
        TopicArn: local.topicArn,
        Subject: 'ALARM: "queue depth > 100 (P2)"',
        Message: JSON.stringify({
          AlarmName: 'queue depth > 100 (P2)',
          AlarmDescription: 'Backlog. Runbook: docs/runbooks/queue-depth.md',
          NewStateValue: 'ALARM',
          OldStateValue: 'OK',
          NewStateReason: 'Threshold Crossed',
          StateChangeTime: '2026-05-01T10:00:00.000+0000',
          Trigger: { MetricName: 'ApproximateNumberOfMessagesVisible', Namespace: 'AWS/SQS', Threshold: 100 },
        }),
      }),
    );
    // Ids are shown escaped, like every text in mrkdwn.
    const id = 'alarm:queue depth &gt; 100 (P2):ALARM:2026-05-01T10:00:00.000Z';
    await eventually('the alarm in Slack', async () => (delivered(id).length > 0 ? true : undefined));
    const [message] = delivered(id);
    expect(message?.blocks[0]).toMatchObject({
      text: { text: ':rotating_light: Alarm: queue depth > 100 (P2)' },
    });
    expect(message?.text).toContain('Threshold Crossed');
  });

  it("posts an alarm's recovery, never its first evaluation (OK after INSUFFICIENT_DATA, as every new alarm does)", async () => {
    const change = (old: string, at: string) =>
      sns.send(
        new PublishCommand({
          TopicArn: local.topicArn,
          Subject: 'OK: "P3 DLQ visible > 0"',
          Message: JSON.stringify({
            AlarmName: 'P3 DLQ visible > 0',
            AlarmDescription: 'Runbook: docs/runbooks/dlq-not-empty.md',
            NewStateValue: 'OK',
            OldStateValue: old,
            NewStateReason: 'Threshold Crossed: no datapoints were breaching',
            StateChangeTime: at,
          }),
        }),
      );
    const before = sink.messages.length;
    // The first deploy: the alarm is created and settles into OK.
    await change('INSUFFICIENT_DATA', '2026-05-02T10:00:00.000+0000');
    await settled();
    expect(sink.messages.length).toBe(before);

    // Later it fired and recovered: that is news.
    await change('ALARM', '2026-05-02T11:00:00.000+0000');
    const id = 'alarm:P3 DLQ visible &gt; 0:OK:2026-05-02T11:00:00.000Z';
    await eventually('the recovery in Slack', async () => (delivered(id).length > 0 ? true : undefined));
    expect(sink.messages.length).toBe(before + 1);
  });

  it('keeps an alert on the on-failure queue when Slack stays down, so it is not lost', async () => {
    sink.failNext(100, 500);
    try {
      await publisher.publish(alert('slack-down'));
      const parked = await eventually(
        'the alert on the on-failure queue',
        async () => {
          const res = await sqs.send(new ReceiveMessageCommand({ QueueUrl: local.failedQueueUrl }));
          return res.Messages?.[0];
        },
        { timeoutMs: 20_000 },
      );
      const envelope = JSON.parse(parked.Body ?? '{}') as { Message: string };
      expect(JSON.parse(envelope.Message)).toMatchObject({ id: 'slack-down', kind: 'job_failed' });
      expect(delivered('slack-down')).toHaveLength(0);
    } finally {
      sink.clearFaults();
    }
  });
});

describe('the webhook secret', () => {
  it('comes from Secrets Manager in AWS and reaches no log line', async () => {
    const secrets = new SecretsManagerClient(awsClientConfig(motoEnv(motoEndpoint())));
    const secret = await secrets.send(
      new CreateSecretCommand({ Name: uniqueName('slack'), SecretString: JSON.stringify({ url: sink.url }) }),
    );
    secrets.destroy();
    const deps = await notifierDepsFromEnv({
      ...motoEnv(motoEndpoint()),
      SLACK_WEBHOOK_SECRET_ARN: secret.ARN as string,
      IDEMPOTENCY_TABLE: local.idempotencyTable,
      SLACK_MIN_INTERVAL_MS: '0',
    });
    const before = sink.messages.length;
    await deps.slack.post({ text: 'from the secret', blocks: [] });
    expect(sink.messages.slice(before)).toEqual([expect.objectContaining({ text: 'from the secret' })]);

    // The URL and its secret path are redacted from every log line.
    const path = new URL(sink.url).pathname;
    expect(redactString(`posting to ${sink.url}`)).toBe('posting to [REDACTED]');
    const written: string[] = [];
    const capture = (chunk: unknown) => {
      written.push(String(chunk));
      return true;
    };
    const spies = [
      vi.spyOn(process.stdout, 'write').mockImplementation(capture),
      vi.spyOn(process.stderr, 'write').mockImplementation(capture),
    ];
    vi.stubEnv('POWERTOOLS_LOG_LEVEL', 'DEBUG');
    try {
      const logger = createLogger('leak-check');
      logger.error('delivery failed', { target: sink.url, detail: `POST ${path} refused` });
      logger.info('config', { SLACK_WEBHOOK_URL: 'https://hooks.slack.example/services/X/Y/Z' });
    } finally {
      vi.unstubAllEnvs();
      for (const spy of spies) spy.mockRestore();
    }
    expect(written.join('')).toContain('delivery failed');
    expect(written.join('')).not.toContain(path.split('/').pop() as string);
    expect(written.join('')).not.toContain('hooks.slack.example');
  });

  it('is required: the notifier names every missing variable at cold start', async () => {
    await expect(notifierDepsFromEnv({})).rejects.toThrow(
      'missing required environment variable(s): IDEMPOTENCY_TABLE, SLACK_WEBHOOK_URL or SLACK_WEBHOOK_SECRET_ARN',
    );
  });
});
