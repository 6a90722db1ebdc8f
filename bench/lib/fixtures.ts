/**
 * What the benchmarks share about their work: jobs created exactly as the API creates
 * them (job row and ledger, the tier message, then 'queued'), and waiting for them to end. Site copies
 * (distinct ids and origins of one variant) come from test/helpers/site-copies.ts, the business profile
 * from test/helpers/worker-jobs.ts, as the tests use them.
 */

import type { LocalSystem } from '#local/runtime';
import type { Priority } from '#policy';
import { PgCustomerStore } from '#shared/customer-store';
import { enqueueAll, queueUrlsFromEnv, SqsJobQueue } from '#shared/job-queue';
import { type Job, PgJobStore } from '#shared/job-store';
import { profile } from '#test/worker-jobs';

export const BENCH_OWNER = 'bench-owner';

/** Jobs for the benchmarks: each with its own customer, enqueued as POST /v1/jobs does it. */
export class BenchJobs {
  private readonly customers: PgCustomerStore;
  private readonly jobs: PgJobStore;
  private readonly queue: SqsJobQueue;

  constructor(system: LocalSystem) {
    this.customers = new PgCustomerStore(system.db);
    this.jobs = new PgJobStore(system.db);
    this.queue = new SqsJobQueue(system.sqs, queueUrlsFromEnv(system.env));
  }

  async customer(name: string): Promise<string> {
    return (await this.customers.create(BENCH_OWNER, profile(name))).id;
  }

  /** Creates the job and its ledger; `send` puts its message on the tier queue and marks it queued. */
  async create(customerId: string, directoryIds: readonly string[], priority: Priority = 1): Promise<Job> {
    return this.jobs.create({
      customerId,
      ownerKeyId: BENCH_OWNER,
      priority,
      requestedPriority: priority,
      package: null,
      directoryIds,
    });
  }

  async send(job: Job): Promise<void> {
    await this.queue.enqueue({
      jobId: job.id,
      enqueueToken: job.enqueueToken,
      priority: job.priority,
      enqueuedAt: new Date().toISOString(),
    });
    await this.jobs.markQueued(job.id, job.enqueueToken);
  }

  /** Sends many jobs' messages (SendMessageBatch) and marks them queued; throws if any was not sent. */
  async sendAll(jobs: readonly Job[]): Promise<void> {
    const enqueuedAt = new Date().toISOString();
    const unsent = await enqueueAll(
      this.queue,
      jobs.map((j) => ({ jobId: j.id, enqueueToken: j.enqueueToken, priority: j.priority, enqueuedAt })),
    );
    if (unsent.length > 0)
      throw new Error(`${unsent.length} job messages were not sent: ${unsent[0]?.error}`);
    await this.jobs.markQueuedMany(jobs.map((j) => ({ jobId: j.id, enqueueToken: j.enqueueToken })));
  }

  async enqueue(customerId: string, directoryIds: readonly string[], priority: Priority = 1): Promise<Job> {
    const job = await this.create(customerId, directoryIds, priority);
    await this.send(job);
    return job;
  }
}

/** Polls until every job in `ids` has ended (completed, failed or cancelled), or throws at the deadline. */
export async function waitForTerminal(
  system: LocalSystem,
  ids: readonly string[],
  timeoutMs: number,
  intervalMs = 25,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { rows } = await system.db.query<{ open: number }>(
      `SELECT count(*)::int AS open FROM jobs
       WHERE id = ANY($1::uuid[]) AND status NOT IN ('completed', 'failed', 'cancelled')`,
      [ids],
    );
    if ((rows[0]?.open ?? 0) === 0) return;
    if (Date.now() > deadline)
      throw new Error(`${rows[0]?.open} of ${ids.length} jobs still open after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** The fixture sites' seeded random source, so a benchmark's mix of jobs is the same on every run. */
export { seeded } from '#local/fixtures/latency';

/** Counts per site per business that are above one: a directory submitted twice (should be empty). */
export function doubleSubmissions(system: LocalSystem): string[] {
  return Object.entries(system.fixtures.counts()).flatMap(([site, byName]) =>
    Object.entries(byName)
      .filter(([, n]) => n > 1)
      .map(([name, n]) => `${site}: ${name} × ${n}`),
  );
}
