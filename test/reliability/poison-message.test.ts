/**
 * Poison messages among real work: messages no worker can handle (not JSON, JSON without a job) sit in the
 * P1 queue between real jobs. Each is handed back with a short backoff until its receive count runs out,
 * then SQS moves it to the P1 dead-letter queue; a well-formed message for a job that does not exist is
 * discarded as stale. The real jobs around them all complete, nothing lost, nothing twice.
 */
import { randomUUID } from 'node:crypto';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { redirectSuccess, simpleForm } from '#local/fixtures/variants';
import { type LocalSystem, startLocalSystem } from '#local/runtime';
import type { TierQueue } from '#local/services/queues';
import { expectNothingLostNothingTwice } from '#test/invariants';
import { messagesOn } from '#test/queue-workers';
import { eventually, motoEndpoint, type TestDatabase, testDatabase, uniqueName } from '#test/services';
import { createCustomer, enqueueJob, FAST_WORKER_ENV, profile, waitForJob } from '#test/worker-jobs';

let t: TestDatabase;
let system: LocalSystem;

beforeAll(async () => {
  t = await testDatabase('poison_message', { migrate: false });
  system = await startLocalSystem({
    port: 0,
    databaseUrl: t.url,
    motoEndpoint: motoEndpoint(),
    queuePrefix: `${uniqueName('poison')}-`,
    fixtures: [simpleForm, redirectSuccess],
    // A refused message is visible again a second later, so five receives take seconds, not hours.
    visibilityTimeoutSeconds: 1,
    env: { ...FAST_WORKER_ENV, VISIBILITY_TIMEOUT_SECONDS: '30' },
    schedules: { timers: false },
  });
});
afterAll(async () => {
  await system?.stop();
  await t?.close();
});

const depth = (url: string) => messagesOn(system.sqs, url);

describe('poison messages among real jobs', () => {
  it('end in the dead-letter queue while every real job completes', async () => {
    const p1 = system.queues.find((q) => q.priority === 1) as TierQueue;
    const poison = async (body: string) =>
      system.sqs.send(
        new SendMessageCommand({
          QueueUrl: p1.url,
          MessageBody: body,
          MessageGroupId: randomUUID(),
          MessageDeduplicationId: randomUUID(),
        }),
      );
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) {
      if (i === 1) await poison('not a job at all');
      if (i === 3) await poison('{"jobId":42,"priority":"urgent"}');
      if (i === 4) await poison(JSON.stringify({ jobId: randomUUID(), enqueueToken: 1, priority: 1 }));
      const customer = await createCustomer(system, profile(`Antidote ${i}`));
      ids.push((await enqueueJob(system, customer.id, ['simple-form', 'redirect-success'], 1)).id);
    }

    for (const id of ids) await waitForJob(system, id, 'completed', 60_000);
    await eventually(
      'the two poison messages in the P1 dead-letter queue, the main queue empty',
      async () => ((await depth(p1.dlqUrl)) === 2 && (await depth(p1.url)) === 0 ? true : undefined),
      { timeoutMs: 45_000, intervalMs: 250 },
    );

    const report = await expectNothingLostNothingTwice(system, ids);
    expect(report.jobs).toEqual({ completed: ids.length });
    expect(report.directories).toEqual({ submitted: ids.length * 2 });
  });
});
