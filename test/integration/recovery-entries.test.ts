/**
 * The recovery and alerting Lambda entries build their handlers at cold start: each names every missing
 * variable in one error, and with a complete environment (Postgres, moto) each serves.
 */
import { SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { motoEnv } from '#local/services/moto';
import { createTierQueues, tierQueueEnv } from '#local/services/queues';
import { awsClientConfig } from '#shared/aws';
import { type AlertsInbox, alertsInbox } from '#test/alerts-inbox';
import { lambdaContext } from '#test/events';
import { testRecords } from '#test/records';
import { motoEndpoint, type TestDatabase, testDatabase, uniqueName } from '#test/services';

let t: TestDatabase;
let inbox: AlertsInbox;
let configured: Record<string, string>;
const saved = { ...process.env };

beforeAll(async () => {
  t = await testDatabase('recovery_entries');
  const name = uniqueName('entries');
  const sqs = new SQSClient(awsClientConfig(motoEnv(motoEndpoint())));
  const queues = await createTierQueues(sqs, { prefix: `${name}-` });
  sqs.destroy();
  inbox = await alertsInbox(motoEndpoint(), name);
  const records = await testRecords(name);
  configured = {
    ...motoEnv(motoEndpoint()),
    ...tierQueueEnv(queues),
    ...records.env,
    DATABASE_URL: t.url,
    ALERTS_TOPIC_ARN: inbox.topicArn,
  };
});
afterAll(async () => {
  process.env = saved;
  inbox?.close();
  await t?.close();
});

async function importWith(env: Record<string, string>, entry: string) {
  vi.resetModules();
  process.env = { ...saved };
  delete process.env.DATABASE_URL;
  Object.assign(process.env, env);
  return import(/* @vite-ignore */ `../../functions/${entry}.ts`);
}

describe('recovery Lambda entries', () => {
  it('fail fast at cold start, naming every missing variable', async () => {
    await expect(importWith({}, 'stale-jobs')).rejects.toThrow(
      'missing required environment variable(s): DATABASE_URL or DATABASE_SECRET_ARN, QUEUE_URL_P1, QUEUE_URL_P2, QUEUE_URL_P3, ALERTS_TOPIC_ARN, RECORDS_BUCKET',
    );
    await expect(importWith({ DATABASE_URL: t.url }, 'dlq-check')).rejects.toThrow(
      'missing required environment variable(s): DLQ_URL_P1, DLQ_URL_P2, DLQ_URL_P3, ALERTS_TOPIC_ARN',
    );
    await expect(importWith({ IDEMPOTENCY_TABLE: 'x' }, 'slack-notifier')).rejects.toThrow(
      'missing required environment variable(s): SLACK_WEBHOOK_URL or SLACK_WEBHOOK_SECRET_ARN',
    );
    await expect(importWith({ ...configured, REQUEUE_CAP: 'three' }, 'stale-jobs')).rejects.toThrow(
      'REQUEUE_CAP must be an integer (got "three")',
    );
  });

  it('serve once configured', async () => {
    const stale = await importWith(configured, 'stale-jobs');
    expect(await stale.handler({}, lambdaContext('stale-jobs'))).toMatchObject({ stale: 0, resent: 0 });
    const dlq = await importWith(configured, 'dlq-check');
    const report = await dlq.handler({}, lambdaContext('dlq-check'));
    expect(report.tiers.map((x: { tier: string; depth: number }) => [x.tier, x.depth])).toEqual([
      ['P1', 0],
      ['P2', 0],
      ['P3', 0],
    ]);
    const notifier = await importWith(
      { ...configured, SLACK_WEBHOOK_URL: 'http://127.0.0.1:9/services/T/B/x', IDEMPOTENCY_TABLE: 'unused' },
      'slack-notifier',
    );
    expect(await notifier.handler({ Records: [] }, lambdaContext('slack-notifier'))).toEqual({
      delivered: [],
      duplicates: [],
    });
  });
});
