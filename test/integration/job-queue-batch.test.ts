/**
 * Sending and marking many jobs at once, as recovery does after a mass worker failure: job messages go to
 * their tier queues in SendMessageBatch calls of ten (moto), a refused entry or a failed call comes back as
 * unsent with its reason (injected with aws-sdk-client-mock: moto never refuses), and one statement marks
 * the sent jobs queued, only at the enqueue token they were sent with.
 */
import { randomUUID } from 'node:crypto';
import { ReceiveMessageCommand, SendMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { motoEnv } from '#local/services/moto';
import { createTierQueues, type TierQueue } from '#local/services/queues';
import type { Priority } from '#policy';
import { awsClientConfig } from '#shared/aws';
import { PgCustomerStore } from '#shared/customer-store';
import { enqueueAll, type JobMessage, SqsJobQueue, type TierUrls } from '#shared/job-queue';
import { PgJobStore } from '#shared/job-store';
import { motoEndpoint, type TestDatabase, testDatabase, uniqueName } from '#test/services';

let t: TestDatabase;
let sqs: SQSClient;
let queues: TierQueue[];
let urls: TierUrls;

beforeAll(async () => {
  t = await testDatabase('job_queue_batch');
  sqs = new SQSClient(awsClientConfig(motoEnv(motoEndpoint())));
  queues = await createTierQueues(sqs, { prefix: `${uniqueName('batch')}-` });
  urls = Object.fromEntries(queues.map((q) => [q.priority, q.url])) as unknown as TierUrls;
});
afterAll(async () => {
  sqs?.destroy();
  await t?.close();
});

const message = (priority: Priority): JobMessage => ({
  jobId: randomUUID(),
  enqueueToken: 1,
  priority,
  enqueuedAt: new Date().toISOString(),
});

async function receiveAll(url: string): Promise<JobMessage[]> {
  const out: JobMessage[] = [];
  for (;;) {
    const res = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10, VisibilityTimeout: 300 }),
    );
    if (!res.Messages?.length) return out;
    out.push(...res.Messages.map((m) => JSON.parse(m.Body ?? '{}') as JobMessage));
  }
}

describe('sending many job messages', () => {
  it('sends each message once to its own tier queue, in batches', async () => {
    const messages = Array.from({ length: 23 }, (_, i) => message(((i % 3) + 1) as Priority));

    const unsent = await enqueueAll(new SqsJobQueue(sqs, urls), messages, 4);

    expect(unsent).toEqual([]);
    for (const q of queues) {
      const received = await receiveAll(q.url);
      const expected = messages.filter((m) => m.priority === q.priority);
      expect(received.map((m) => m.jobId).sort()).toEqual(expected.map((m) => m.jobId).sort());
    }
  });

  it('hands back what SQS refused or never took, with the reason, and nothing else', async () => {
    const faulty = new SQSClient(awsClientConfig(motoEnv(motoEndpoint())));
    const mock = mockClient(faulty);
    mock
      .on(SendMessageBatchCommand)
      .resolvesOnce({
        Successful: [],
        Failed: [{ Id: '1', Code: 'InternalError', Message: 'try again', SenderFault: false }],
      })
      .rejectsOnce(new Error('throttled'))
      .resolves({ Successful: [], Failed: [] });
    const messages = Array.from({ length: 25 }, () => message(2));

    const unsent = await enqueueAll(new SqsJobQueue(faulty, urls), messages, 1);

    expect(unsent.map((u) => u.message.jobId)).toEqual([
      messages[1]?.jobId,
      ...messages.slice(10, 20).map((m) => m.jobId),
    ]);
    expect(unsent[0]?.error).toBe('InternalError: try again');
    expect(unsent[1]?.error).toBe('throttled');
    expect(mock.commandCalls(SendMessageBatchCommand)).toHaveLength(3);
    mock.restore();
    faulty.destroy();
  });

  it('falls back to one send per message for a queue that cannot batch', async () => {
    const sent: string[] = [];
    const single = {
      enqueue: async (m: JobMessage) => {
        if (m.enqueueToken === 2) throw new Error('refused');
        sent.push(m.jobId);
      },
    };
    const messages = [message(1), { ...message(1), enqueueToken: 2 }, message(3)];

    const unsent = await enqueueAll(single, messages);

    expect(sent.sort()).toEqual([messages[0]?.jobId, messages[2]?.jobId].sort());
    expect(unsent).toEqual([{ message: messages[1], error: 'refused' }]);
  });
});

describe('marking many jobs queued', () => {
  it('marks in one statement only the jobs still at the token they were sent with', async () => {
    const jobs = new PgJobStore(t.db);
    const customer = await new PgCustomerStore(t.db).create('key-a', {
      name: 'Batch Bakery',
      email: 'owner@batch.test',
    } as never);
    const created = await Promise.all(
      [1, 2, 3].map(() =>
        jobs.create({
          customerId: customer.id,
          ownerKeyId: 'key-a',
          priority: 2,
          requestedPriority: 2,
          package: null,
          directoryIds: [],
        }),
      ),
    );
    const [a, b, c] = created as [(typeof created)[0], (typeof created)[0], (typeof created)[0]];

    const marked = await jobs.markQueuedMany([
      { jobId: a.id, enqueueToken: a.enqueueToken },
      { jobId: b.id, enqueueToken: b.enqueueToken + 1 },
      { jobId: c.id, enqueueToken: c.enqueueToken },
    ]);

    expect(marked).toBe(2);
    const statuses = await Promise.all(created.map(async (j) => (await jobs.get(j.id))?.status));
    expect(statuses).toEqual(['queued', 'pending', 'queued']);
    const { rows } = await t.db.query<{ job_id: string }>(
      `SELECT job_id FROM job_events WHERE type = 'queued' AND job_id = ANY($1::uuid[])`,
      [created.map((j) => j.id)],
    );
    expect(rows.map((r) => r.job_id).sort()).toEqual([a.id, c.id].sort());
    expect(await jobs.markQueuedMany([])).toBe(0);
  });
});
