/**
 * A Slack outage while work goes on: every post to the webhook fails for the whole run. Jobs are not held
 * up by it (every one completes, nothing twice), the alert raised meanwhile (a dead worker's job requeued)
 * is not lost but parked on the notifier's on-failure queue after its retries, and once Slack is back the
 * parked alert, published again as the runbook has an operator do, is posted exactly once even if it is
 * published twice.
 */
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { DeleteMessageCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { multiStepWizard, redirectSuccess, simpleForm } from '#local/fixtures/variants';
import { type LocalSystem, startLocalSystem } from '#local/runtime';
import { motoEnv } from '#local/services/moto';
import type { SlackSink } from '#local/slack-sink';
import { awsClientConfig } from '#shared/aws';
import { PgJobStore } from '#shared/job-store';
import { expectNothingLostNothingTwice } from '#test/invariants';
import { eventually, motoEndpoint, type TestDatabase, testDatabase, uniqueName } from '#test/services';
import { createCustomer, enqueueJob, FAST_WORKER_ENV, profile, waitForJob } from '#test/worker-jobs';

let t: TestDatabase;
let system: LocalSystem;
let sink: SlackSink;

beforeAll(async () => {
  t = await testDatabase('slack_outage', { migrate: false });
  system = await startLocalSystem({
    port: 0,
    databaseUrl: t.url,
    motoEndpoint: motoEndpoint(),
    queuePrefix: `${uniqueName('slackout')}-`,
    fixtures: [simpleForm, multiStepWizard, redirectSuccess],
    schedules: { timers: false },
    alerts: { retryDelaySeconds: 1 },
    env: { ...FAST_WORKER_ENV, SLACK_INLINE_RETRIES: '0', SLACK_MIN_INTERVAL_MS: '50' },
  });
  sink = system.alerts.sink as SlackSink;
});
afterAll(async () => {
  await system?.stop();
  await t?.close();
});

const headers = () =>
  sink.messages.map((m) => (m.blocks[0] as { text?: { text: string } } | undefined)?.text?.text ?? '');

describe('a Slack outage', () => {
  it('holds up no job, loses no alert, and posts the alert once when Slack is back', async () => {
    sink.failNext(1_000_000, 503);
    const attemptsBefore = sink.attempts;
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) {
      const customer = await createCustomer(system, profile(`Quiet Channel ${i}`));
      ids.push(
        (await enqueueJob(system, customer.id, ['simple-form', 'multi-step-wizard', 'redirect-success'], 2))
          .id,
      );
    }
    // A job whose worker died: claimed, silent for 20 minutes. Recovery requeues it and raises an alert.
    const jobs = new PgJobStore(system.db);
    const orphanOwner = await createCustomer(system, profile('Orphaned Orchards'));
    const orphan = await jobs.create({
      customerId: orphanOwner.id,
      ownerKeyId: 'test-owner',
      priority: 1,
      requestedPriority: 1,
      package: null,
      directoryIds: ['simple-form'],
    });
    await jobs.claim(orphan.id, orphan.enqueueToken, 'dead-worker');
    await system.db.query(`UPDATE jobs SET heartbeat_at = now() - interval '20 minutes' WHERE id = $1`, [
      orphan.id,
    ]);
    ids.push(orphan.id);

    const report = await system.scheduler.runNow('stale-jobs');

    expect(report).toMatchObject({ requeued: 1 });
    for (const id of ids) await waitForJob(system, id, 'completed', 60_000);
    const invariant = await expectNothingLostNothingTwice(system, ids);
    expect(invariant.jobs).toEqual({ completed: ids.length });
    // The alert was tried, refused, and parked, not lost.
    const parked = await eventually(
      'the alert on the on-failure queue',
      async () => {
        const res = await system.sqs.send(
          new ReceiveMessageCommand({ QueueUrl: system.alerts.failedQueueUrl, VisibilityTimeout: 60 }),
        );
        return res.Messages?.[0];
      },
      { timeoutMs: 30_000, intervalMs: 250 },
    );
    expect(sink.attempts - attemptsBefore).toBeGreaterThanOrEqual(3);
    expect(sink.messages).toEqual([]);

    // Slack is back; the operator publishes the parked alert again (twice, by mistake).
    sink.clearFaults();
    const { Message, TopicArn } = JSON.parse(parked.Body ?? '{}') as { Message: string; TopicArn: string };
    const sns = new SNSClient(awsClientConfig(motoEnv(motoEndpoint())));
    try {
      for (let i = 0; i < 2; i++) await sns.send(new PublishCommand({ TopicArn, Message }));
    } finally {
      sns.destroy();
    }
    await system.sqs.send(
      new DeleteMessageCommand({
        QueueUrl: system.alerts.failedQueueUrl,
        ReceiptHandle: parked.ReceiptHandle,
      }),
    );
    await sink.waitForMessages(1, 20_000);
    await new Promise((r) => setTimeout(r, 1_500));
    expect(headers()).toEqual([expect.stringMatching(/stale job was requeued/)]);
  });
});
