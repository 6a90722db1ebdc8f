/**
 * What the worker does when it cannot finish a delivery (real Postgres, moto SQS and DynamoDB, Chromium):
 * the message comes back soon (visibility shortened to a backoff), the job row says why, nothing is lost;
 * and its logs carry job and directory ids but no profile data.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { BrowserPool } from '#functions/worker/browser-pool';
import { makeWorkerHandler } from '#functions/worker/handler';
import { simpleForm } from '#local/fixtures/variants';
import { type LocalSystem, startLocalSystem } from '#local/runtime';
import { QUEUES } from '#policy';
import { createLogger, createMetrics } from '#shared/telemetry';
import { motoEndpoint, type TestDatabase, testDatabase, uniqueName } from '#test/services';
import {
  createCustomer,
  enqueueJob,
  FAST_WORKER_ENV,
  jobRow,
  profile,
  receiveRecords,
  workerContext,
} from '#test/worker-jobs';

let t: TestDatabase;
let system: LocalSystem;

beforeAll(async () => {
  t = await testDatabase('worker_failures', { migrate: false });
  system = await startLocalSystem({
    port: 0,
    databaseUrl: t.url,
    motoEndpoint: motoEndpoint(),
    queuePrefix: `${uniqueName('wf')}-`,
    workers: false,
    schedules: { timers: false },
    fixtures: [simpleForm],
    env: FAST_WORKER_ENV,
  });
});
afterAll(async () => {
  await system?.stop();
  await t?.close();
});

describe('worker failures', () => {
  it('returns a poison message with a short backoff instead of the 90-minute visibility timeout', async () => {
    const p1 = system.queues.find((q) => q.priority === 1);
    const { SendMessageCommand } = await import('@aws-sdk/client-sqs');
    await system.sqs.send(
      new SendMessageCommand({
        QueueUrl: p1?.url,
        MessageBody: 'not a job',
        MessageGroupId: 'poison',
        MessageDeduplicationId: uniqueName('poison'),
      }),
    );
    const [record] = await receiveRecords(system, 1);
    if (!record) throw new Error('no message');

    const result = await makeWorkerHandler(system.worker)({ Records: [record] }, workerContext());

    expect(result.batchItemFailures).toEqual([{ itemIdentifier: record.messageId }]);
    // RECORD_RETRY_BASE_SECONDS=1: visible again within about a second or two, not 5400 s.
    let again: typeof record | undefined;
    for (let i = 0; i < 5 && !again; i++) [again] = await receiveRecords(system, 1);
    expect(again?.body).toBe('not a job');
    expect(Number(again?.attributes.ApproximateReceiveCount)).toBe(2);
  });

  it('records why on the job, hands it back to the queue, and completes it on the retry', async () => {
    const customer = await createCustomer(system, profile('Launch Failure Ltd'));
    const job = await enqueueJob(system, customer.id, ['simple-form'], 1);
    const [record] = await receiveRecords(system, 1);
    if (!record) throw new Error('no message');
    const brokenBrowser = new BrowserPool({ executablePath: '/nonexistent/chromium', recycleAfterPages: 10 });

    const failed = await makeWorkerHandler({ ...system.worker, browser: brokenBrowser })(
      { Records: [record] },
      workerContext(),
    );

    expect(failed.batchItemFailures).toHaveLength(1);
    const released = await jobRow(system, job.id);
    expect(released).toMatchObject({ status: 'queued', errorClass: 'internal', claimedBy: null });
    expect(released.error).toMatch(/nonexistent/);
    const { rows } = await system.db.query<{ type: string }>(
      'SELECT type FROM job_events WHERE job_id = $1 ORDER BY id',
      [job.id],
    );
    expect(rows.map((r) => r.type)).toEqual(['created', 'queued', 'claimed', 'attempt_failed']);

    let retry: typeof record | undefined;
    for (let i = 0; i < 5 && !retry; i++) [retry] = await receiveRecords(system, 1);
    if (!retry) throw new Error('the message did not come back');
    expect(await makeWorkerHandler(system.worker)({ Records: [retry] }, workerContext())).toEqual({
      batchItemFailures: [],
    });
    expect(await jobRow(system, job.id)).toMatchObject({
      status: 'completed',
      error: null,
      errorClass: null,
    });
    expect(system.fixtures.site('simple-form').countsByName()['Launch Failure Ltd']).toBe(1);
  });

  it('fails the job on the last receive, so it does not look queued while its message sits in the DLQ', async () => {
    const customer = await createCustomer(system, profile('Last Chance Ltd'));
    const job = await enqueueJob(system, customer.id, ['simple-form'], 1);
    const [record] = await receiveRecords(system, 1);
    if (!record) throw new Error('no message');
    // As SQS reports it on the final delivery before the redrive policy moves the message.
    record.attributes.ApproximateReceiveCount = String(QUEUES.maxReceiveCount);
    const brokenBrowser = new BrowserPool({ executablePath: '/nonexistent/chromium', recycleAfterPages: 10 });

    const result = await makeWorkerHandler({ ...system.worker, browser: brokenBrowser })(
      { Records: [record] },
      workerContext(),
    );

    expect(result.batchItemFailures).toHaveLength(1);
    expect(await jobRow(system, job.id)).toMatchObject({ status: 'failed', errorClass: 'internal' });
    const { rows } = await system.db.query<{ type: string }>(
      'SELECT type FROM job_events WHERE job_id = $1 ORDER BY id',
      [job.id],
    );
    expect(rows.map((r) => r.type).at(-1)).toBe('dead_lettered');
    expect(system.fixtures.site('simple-form').countsByName()['Last Chance Ltd']).toBeUndefined();
  });

  it('logs job and directory ids, never the profile', async () => {
    const lines: string[] = [];
    const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      lines.push(String(chunk));
      return true;
    });
    const logger = createLogger('worker');
    logger.setLogLevel('DEBUG');
    // Metrics on for this test (vitest turns them off): EMF lines go to stdout too.
    const metricsDisabled = process.env.POWERTOOLS_METRICS_DISABLED;
    process.env.POWERTOOLS_METRICS_DISABLED = 'false';
    const metrics = createMetrics('worker', logger);
    process.env.POWERTOOLS_METRICS_DISABLED = metricsDisabled;
    const secretish = profile('Zyxwv Confidential Plumbing', {
      email: 'private.owner@zyxwv.test',
      phone: '+1 555 9999 321',
    });
    const customer = await createCustomer(system, secretish);
    const job = await enqueueJob(system, customer.id, ['simple-form'], 1);
    const [record] = await receiveRecords(system, 1);
    try {
      if (!record) throw new Error('no message');
      await makeWorkerHandler({ ...system.worker, logger, metrics })({ Records: [record] }, workerContext());
    } finally {
      spy.mockRestore();
    }
    const logs = lines.join('');
    expect(logs).toContain(job.id);
    expect(logs).toContain('"directoryId":"simple-form"');
    // Metrics in EMF: submissions by outcome and durations, dimensioned by component.
    const emf = lines
      .filter((l) => l.includes('"_aws"'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const names = emf.flatMap((m) => Object.keys(m));
    expect(names).toEqual(
      expect.arrayContaining(['Submission_submitted', 'JobDuration', 'DirectoryDuration']),
    );
    expect(emf[0]).toMatchObject({ component: 'worker', service: 'formfleet' });
    for (const value of [secretish.name, secretish.email, secretish.phone, 'Zyxwv']) {
      expect(logs).not.toContain(value);
    }
  });
});
