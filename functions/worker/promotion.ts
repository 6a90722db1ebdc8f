/**
 * Aging promotion, so low priorities never starve: a job that has waited in its tier's queue longer than
 * the tier's promoteAfterSeconds moves up one tier. One statement raises its priority and its enqueue token
 * (so the message still waiting on the lower tier is stale and discarded on receipt) and appends a
 * job_events row; then a new message carrying the new token goes to the higher tier's queue.
 *
 * The statement leaves the job 'pending' until that message is sent (then 'queued'): if the send fails
 * after the commit, the job is not lost behind a token no message carries, because the pending sweep of
 * the recovery functions re-sends jobs left 'pending' with their current token.
 */
import { PRIORITY_TIERS, PROMOTION, type Priority, type PriorityTier } from '#policy';
import type { Sql } from '#shared/db';
import type { JobQueue } from '#shared/job-queue';
import type { JobStore } from '#shared/job-store';
import { describeError, type Logger, type Metrics, MetricUnit } from '#shared/telemetry';

export interface PromotedJob {
  jobId: string;
  from: Priority;
  to: Priority;
  enqueueToken: number;
}

export interface PromotionReport {
  promoted: number;
  sent: number;
  failed: number;
}

export interface PromoteJobsDeps {
  db: Sql;
  jobs: Pick<JobStore, 'markQueued'>;
  queue: JobQueue;
  logger: Logger;
  metrics: Metrics;
  tiers?: readonly PriorityTier[];
  batchSize?: number;
}

/** Promotes every job waiting past its tier's limit (at most `limit`), atomically, skipping locked rows. */
export async function promoteAgedJobs(
  db: Sql,
  tiers: readonly PriorityTier[] = PRIORITY_TIERS,
  limit: number = PROMOTION.batchSize,
): Promise<PromotedJob[]> {
  const limits = Object.fromEntries(
    tiers
      .filter((t) => t.promoteAfterSeconds !== null && t.priority > 1)
      .map((t) => [t.priority, t.promoteAfterSeconds]),
  );
  if (Object.keys(limits).length === 0) return [];
  const { rows } = await db.query<{ id: string; priority: number; enqueue_token: number }>(
    `WITH aged AS (
       SELECT id FROM jobs
       WHERE status = 'queued' AND priority > 1 AND ($1::jsonb ? priority::text)
         AND queued_at < now() - make_interval(secs => ($1::jsonb ->> priority::text)::int)
       ORDER BY priority DESC, queued_at
       LIMIT $2
       FOR UPDATE SKIP LOCKED
     ), promoted AS (
       UPDATE jobs j SET priority = j.priority - 1, enqueue_token = j.enqueue_token + 1, status = 'pending',
              queued_at = now()
       FROM aged WHERE j.id = aged.id
       RETURNING j.id, j.priority, j.enqueue_token
     ), events AS (
       INSERT INTO job_events (job_id, type, detail)
       SELECT id, 'promoted', jsonb_build_object('from', priority + 1, 'to', priority, 'enqueueToken', enqueue_token)
       FROM promoted
     )
     SELECT id, priority, enqueue_token FROM promoted`,
    [JSON.stringify(limits), limit],
  );
  return rows.map((r) => ({
    jobId: r.id,
    from: (r.priority + 1) as Priority,
    to: r.priority as Priority,
    enqueueToken: r.enqueue_token,
  }));
}

export function makePromoteJobsHandler(deps: PromoteJobsDeps): () => Promise<PromotionReport> {
  return async function promoteJobs() {
    const report: PromotionReport = { promoted: 0, sent: 0, failed: 0 };
    try {
      const promoted = await promoteAgedJobs(deps.db, deps.tiers, deps.batchSize);
      report.promoted = promoted.length;
      for (const job of promoted) {
        try {
          await deps.queue.enqueue({
            jobId: job.jobId,
            enqueueToken: job.enqueueToken,
            priority: job.to,
            enqueuedAt: new Date().toISOString(),
          });
          await deps.jobs.markQueued(job.jobId, job.enqueueToken);
          report.sent += 1;
          deps.logger.info('job promoted', { jobId: job.jobId, from: `P${job.from}`, to: `P${job.to}` });
        } catch (err) {
          // Left 'pending' with its new token: the pending sweep re-sends it.
          report.failed += 1;
          deps.logger.warn('promoted job not sent; the pending sweep will send it', {
            jobId: job.jobId,
            error: describeError(err).message,
          });
        }
      }
      deps.metrics.addMetric('JobsPromoted', MetricUnit.Count, report.sent);
      if (report.failed > 0) deps.metrics.addMetric('PromotionSendFailed', MetricUnit.Count, report.failed);
      return report;
    } finally {
      deps.metrics.publishStoredMetrics();
    }
  };
}
