/**
 * Recovery and alerting on the local runtime as a user meets it: a job whose worker died after its message
 * was deleted is found by the scheduled stale-job handler, requeued and completed by a real worker on real
 * Chromium; a poison message dies through the real worker into the DLQ, and the DLQ check's alerts travel
 * SNS → notifier → Slack sink once each.
 */
import { GetQueueAttributesCommand, PurgeQueueCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StaleJobsReport } from '#functions/recovery/stale-jobs';
import { type LocalSystem, startLocalSystem } from '#local/runtime';
import type { SlackSink, SlackSinkMessage } from '#local/slack-sink';
import { SCHEDULES } from '#policy';
import { PgJobStore } from '#shared/job-store';
import { eventually, motoEndpoint, type TestDatabase, testDatabase, uniqueName } from '#test/services';

let t: TestDatabase;
let system: LocalSystem;
let sink: SlackSink;

beforeAll(async () => {
  t = await testDatabase('recovery_e2e', { migrate: false });
  system = await startLocalSystem({
    port: 0,
    databaseUrl: t.url,
    motoEndpoint: motoEndpoint(),
    queuePrefix: `${uniqueName('recovery')}-`,
    // A failed delivery comes back after 1 s, so a poison message dies quickly.
    visibilityTimeoutSeconds: 1,
    schedules: { timers: false },
    alerts: { retryDelaySeconds: 1 },
    env: {
      HEARTBEAT_INTERVAL_MS: '200',
      VISIBILITY_TIMEOUT_SECONDS: '30',
      SLACK_MIN_INTERVAL_MS: '100',
      // The worker's own backoff for a failed delivery (policy: 15 s doubling), shortened to match.
      RECORD_RETRY_BASE_SECONDS: '1',
      RECORD_RETRY_MAX_SECONDS: '1',
    },
  });
  sink = system.alerts.sink as SlackSink;
});
afterAll(async () => {
  await system?.stop();
  await t?.close();
});

const header = (m: SlackSinkMessage) =>
  (m.blocks[0] as { text?: { text: string } } | undefined)?.text?.text ?? '';
const slackHeaders = (pattern: RegExp) => sink.messages.map(header).filter((h) => pattern.test(h));

async function dlqDepth(url: string): Promise<number> {
  const res = await system.sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['ApproximateNumberOfMessages'] }),
  );
  return Number(res.Attributes?.ApproximateNumberOfMessages);
}

describe('recovery on the local runtime', () => {
  it('finds a job whose worker died after deleting its message, requeues it, and a live worker completes it', async () => {
    expect(system.scheduler.intervalMs('stale-jobs')).toBe(SCHEDULES.staleJobs.everySeconds * 1000);
    expect(system.scheduler.intervalMs('dlq-check')).toBe(SCHEDULES.dlqCheck.everySeconds * 1000);
    const jobs = new PgJobStore(system.db);
    const { rows } = await system.db.query<{ id: string }>(
      `INSERT INTO customers (owner_key_id, name, email) VALUES ('local-client', 'Lazarus Bakery', 'l@bakery.test')
       RETURNING id`,
    );
    const job = await jobs.create({
      customerId: rows[0]?.id as string,
      ownerKeyId: 'local-client',
      priority: 1,
      requestedPriority: 1,
      package: null,
      directoryIds: ['simple-form'],
    });
    // The worker received the message, deleted it, claimed the job, and died: no message, no heartbeat.
    const dead = await jobs.claim(job.id, job.enqueueToken, 'dead-worker');
    expect(dead).toBeDefined();
    await system.db.query(`UPDATE jobs SET heartbeat_at = now() - interval '20 minutes' WHERE id = $1`, [
      job.id,
    ]);

    const report = (await system.scheduler.runNow('stale-jobs')) as StaleJobsReport;

    expect(report).toMatchObject({ requeued: 1, failed: 0, sendFailures: 0 });
    const done = await eventually(
      'the requeued job to complete',
      async () => {
        const j = await jobs.get(job.id);
        return j?.status === 'completed' ? j : undefined;
      },
      { timeoutMs: 45_000, intervalMs: 200 },
    );
    expect(done).toMatchObject({ attempts: 1, enqueueToken: 2 });
    expect(system.fixtures.site('simple-form').countsByName()['Lazarus Bakery']).toBe(1);
    const events = await system.db.query<{ type: string }>(
      'SELECT type FROM job_events WHERE job_id = $1 ORDER BY id',
      [job.id],
    );
    const types = events.rows.map((r) => r.type);
    expect(types.slice(0, 3)).toEqual(['created', 'claimed', 'requeued']);
    expect(types.filter((x) => x === 'requeued')).toHaveLength(1);
    // The rest is the live worker's: queued and claimed in either order (a fast worker claims before the
    // handler records 'queued'; the 1 s test visibility may even hand the message over twice), then done.
    expect(types.slice(3)).toContain('queued');
    expect(types.at(-1)).toBe('completed');
    // The dead worker's claim is worthless now.
    expect(await jobs.heartbeat(dead as NonNullable<typeof dead>, {})).toBe(false);
    await eventually('the stale-job alert in Slack', async () =>
      slackHeaders(/stale job was requeued/).length === 1 ? true : undefined,
    );
  });

  it('alerts once when a poison message dies into the DLQ, not once per check, and says when it drained', async () => {
    const p2 = system.queues.find((q) => q.priority === 2);
    if (!p2) throw new Error('no P2 queue');
    await system.sqs.send(
      new SendMessageCommand({
        QueueUrl: p2.url,
        MessageBody: '{"this is":"not a job message"}',
        MessageGroupId: 'poison',
        MessageDeduplicationId: 'poison-1',
      }),
    );
    // The real worker fails it maxReceiveCount times; SQS then moves it to the DLQ.
    await eventually(
      'the poison message in the P2 DLQ',
      async () => ((await dlqDepth(p2.dlqUrl)) === 1 ? true : undefined),
      {
        timeoutMs: 30_000,
        intervalMs: 250,
      },
    );

    // An operator sees it through the admin API, which uses the same DLQ service.
    const res = await fetch(`${system.url}/v1/dlq`, { headers: { 'x-api-key': system.keys.admin } });
    expect(res.status).toBe(200);
    const { tiers } = (await res.json()) as { tiers: { tier: string; depth: number; messages: unknown[] }[] };
    expect(tiers.find((x) => x.tier === 'P2')).toMatchObject({
      depth: 1,
      messages: [expect.objectContaining({ jobId: null, errorClass: 'internal' })],
    });

    for (let i = 0; i < 3; i++) await system.scheduler.runNow('dlq-check');
    await eventually('the DLQ alert in Slack', async () =>
      slackHeaders(/P2 dead-letter queue has 1 message/).length > 0 ? true : undefined,
    );

    await system.sqs.send(new PurgeQueueCommand({ QueueUrl: p2.dlqUrl }));
    await system.scheduler.runNow('dlq-check');
    await system.scheduler.runNow('dlq-check');
    await eventually('the resolution in Slack', async () =>
      slackHeaders(/P2 dead-letter queue drained/).length > 0 ? true : undefined,
    );
    expect(slackHeaders(/P2 dead-letter queue/)).toEqual([
      ':rotating_light: P2 dead-letter queue has 1 message',
      ':white_check_mark: P2 dead-letter queue drained',
    ]);
  });
});
