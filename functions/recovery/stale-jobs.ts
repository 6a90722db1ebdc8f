/**
 * The stale-job handler (EventBridge every RECOVERY.staleCheckIntervalSeconds; the local scheduler locally).
 * One run:
 *  1. requeues jobs whose worker stopped heartbeating (find_stale_jobs), batch by batch, atomically: new
 *     fencing and enqueue tokens, attempts + 1, a job_events row; past the requeue cap the job fails instead,
 *     with its reason and an alert. Requeued jobs are left 'pending' and then sent to their tier's queue
 *     (deduplication id = job id + new enqueue token) and marked 'queued';
 *  2. re-sends jobs left 'pending' past a grace period: a send that failed after the commit above, or a
 *     POST /v1/jobs whose send failed. Nothing is lost between Postgres and SQS;
 *     and re-sends jobs 'queued' with no message left on their queue (purged by hand, or held by a local moto
 *     that restarted): in a tier whose queue holds fewer messages than its queued and running jobs need, the
 *     oldest jobs queued and unchanged for RECOVERY.queuedLostAfterSeconds get a new enqueue token and a
 *     fresh message (a surviving old message is refused by the claim, so nothing runs twice);
 *  3. reports steps that stay unchanged while heartbeats arrive (a slow site or a hung browser): metric and
 *     one alert per job and step, no requeue;
 *  4. uploads the proof screenshots waiting in Postgres for S3 (the evidence outbox), and settles those whose
 *     worker died before it could keep them (evidence-retry.ts);
 *  5. publishes the alerts waiting in the outbox, and prunes expired Idempotency-Keys of POST /v1/jobs.
 */
import { createHash } from 'node:crypto';
import { type Alert, makeAlert, RUNBOOKS } from '#functions/alerts/alert';
import { type AlertOutbox, type FlushReport, publishWaiting } from '#functions/alerts/alert-outbox';
import type { Alerts } from '#functions/alerts/alerts';
import { API_IDEMPOTENCY, RECOVERY, tierFor } from '#policy';
import { enqueueAll, type JobQueue, type QueueDepths } from '#shared/job-queue';
import type { JobStore } from '#shared/job-store';
import { type Logger, type Metrics, MetricUnit, redactString } from '#shared/telemetry';
import { type EvidenceRetryDeps, type EvidenceRetryReport, retryPendingEvidence } from './evidence-retry.ts';
import { lostMessages, type PendingJob, type RecoveryStore, type StaleJobOutcome } from './recovery-store.ts';
import { findStuckSteps, stuckStepAlert } from './stuck-steps.ts';

export interface StaleJobsOptions {
  staleAfterSeconds: number;
  requeueCap: number;
  stuckStepAfterSeconds: number;
  pendingGraceSeconds: number;
  /** Queued and unchanged this long, in a tier short of messages: the job's message is gone. */
  queuedLostAfterSeconds: number;
  batchSize: number;
  maxRequeuesPerRun: number;
  maxResendsPerRun: number;
}

export interface StaleJobsDeps {
  store: RecoveryStore;
  jobs: Pick<JobStore, 'markQueuedMany'>;
  queue: JobQueue;
  /** The tier queues' message counts, to tell a lost message from a backlog (without it, step 2b is off). */
  depths?: QueueDepths;
  outbox: Pick<AlertOutbox, 'flush'>;
  alerts: Alerts;
  /** The evidence outbox (step 4); without it, step 4 is off. */
  evidence?: Pick<EvidenceRetryDeps, 'store' | 'objects' | 'options'>;
  logger: Logger;
  metrics: Metrics;
  options: StaleJobsOptions;
  now?: () => Date;
}

export interface StaleJobsReport {
  /** Stale jobs this run took (requeued + failed). */
  stale: number;
  requeued: number;
  failed: number;
  /** Sends that failed; those jobs stay 'pending' and the next run's sweep sends them. */
  sendFailures: number;
  /** Jobs left pending that this run sent again. */
  resent: number;
  /** Jobs queued with no message left on their queue that this run sent again (new enqueue token). */
  lostResent: number;
  /** Stuck steps newly reported by this run. */
  stuckSteps: number;
  alerts: FlushReport;
  /** Step 4: proof screenshots uploaded from Postgres, failed again, found in S3 or recorded lost. */
  evidence: EvidenceRetryReport;
}

export type StaleJobsHandler = (event?: unknown) => Promise<StaleJobsReport>;

/** At most this many SQS calls (of up to 10 messages each) at once. */
const SEND_CONCURRENCY = 10;

const shortHash = (parts: readonly string[]) =>
  createHash('sha256').update(parts.join('|')).digest('hex').slice(0, 32);

/** One alert for the jobs a batch failed past the requeue cap. */
export function jobsFailedAlert(failed: readonly StaleJobOutcome[], cap: number, time: string): Alert {
  const n = failed.length;
  return makeAlert({
    id: `job_failed:${shortHash(failed.map((j) => `${j.id}:${j.fencingToken}`).sort())}`,
    kind: 'job_failed',
    severity: 'critical',
    title: n === 1 ? 'A job failed: its worker kept dying' : `${n} jobs failed: their workers kept dying`,
    summary:
      `No heartbeat after ${cap} requeue${cap === 1 ? '' : 's'}, so ${n === 1 ? 'the job was' : 'they were'} ` +
      'failed instead of requeued again. Directories already submitted stay submitted.',
    counts: { failed: n, requeueCap: cap },
    items: failed.map((j) => ({
      title: j.id,
      fields: {
        tier: tierFor(j.priority).name,
        customer: j.customerId,
        lastWorker: j.previousWorker,
        silentForSeconds: j.staleForSeconds,
        directory: j.progress?.directoryId ?? null,
        step: j.progress?.step ?? null,
      },
    })),
    runbook: RUNBOOKS.jobFailed,
    time,
    source: 'stale-jobs',
  });
}

/** One alert for the jobs a batch requeued: a worker died, the job recovered by itself. */
export function jobsRequeuedAlert(requeued: readonly StaleJobOutcome[], time: string): Alert {
  const n = requeued.length;
  return makeAlert({
    id: `stale_job:${shortHash(requeued.map((j) => `${j.id}:${j.enqueueToken}`).sort())}`,
    kind: 'stale_job',
    severity: 'warning',
    title: n === 1 ? 'A stale job was requeued' : `${n} stale jobs were requeued`,
    summary:
      'Their workers stopped heartbeating (a crash, a timeout or a lost container). Each job was requeued ' +
      'with a new fencing token, so the old worker can no longer write.',
    counts: { requeued: n },
    items: requeued.map((j) => ({
      title: j.id,
      fields: {
        tier: tierFor(j.priority).name,
        attempt: j.attempts,
        lastWorker: j.previousWorker,
        silentForSeconds: j.staleForSeconds,
        directory: j.progress?.directoryId ?? null,
      },
    })),
    runbook: RUNBOOKS.staleJobs,
    time,
    source: 'stale-jobs',
  });
}

export function makeStaleJobsHandler(deps: StaleJobsDeps): StaleJobsHandler {
  const { logger, metrics, options } = deps;
  const now = deps.now ?? (() => new Date());

  /**
   * Sends the jobs' messages (SendMessageBatch, 10 a call) and marks the sent ones queued in one statement.
   * A job whose send failed stays 'pending' and the sweep of a later run sends it. Resolves with how many
   * were sent and how many were not.
   */
  async function sendAll(jobs: readonly PendingJob[]): Promise<{ sent: number; failed: number }> {
    if (jobs.length === 0) return { sent: 0, failed: 0 };
    const enqueuedAt = now().toISOString();
    const failed = await enqueueAll(
      deps.queue,
      jobs.map((j) => ({ jobId: j.id, enqueueToken: j.enqueueToken, priority: j.priority, enqueuedAt })),
      SEND_CONCURRENCY,
    );
    for (const { message, error } of failed) {
      logger.error('send failed; the job stays pending and is re-sent by a later run', {
        jobId: message.jobId,
        error: redactString(error),
      });
    }
    const unsent = new Set(failed.map((f) => f.message.jobId));
    const sent = jobs.filter((j) => !unsent.has(j.id));
    await deps.jobs.markQueuedMany(sent.map((j) => ({ jobId: j.id, enqueueToken: j.enqueueToken })));
    return { sent: sent.length, failed: failed.length };
  }

  return async function staleJobs() {
    const report: StaleJobsReport = {
      stale: 0,
      requeued: 0,
      failed: 0,
      sendFailures: 0,
      resent: 0,
      lostResent: 0,
      stuckSteps: 0,
      alerts: { published: 0, pending: 0 },
      evidence: { uploaded: 0, failed: 0, foundStored: 0, lost: 0 },
    };
    try {
      // 1. Stale jobs, batch by batch until none is left (or the run's bound is reached).
      while (report.stale < options.maxRequeuesPerRun) {
        const time = now().toISOString();
        const batch = await deps.store.requeueStale(
          {
            staleAfterSeconds: options.staleAfterSeconds,
            requeueCap: options.requeueCap,
            limit: Math.min(options.batchSize, options.maxRequeuesPerRun - report.stale),
          },
          (rows) => {
            const failed = rows.filter((r) => r.outcome === 'failed');
            const requeued = rows.filter((r) => r.outcome === 'requeued');
            return [
              ...(failed.length > 0 ? [jobsFailedAlert(failed, options.requeueCap, time)] : []),
              ...(requeued.length > 0 ? [jobsRequeuedAlert(requeued, time)] : []),
            ];
          },
        );
        if (batch.length === 0) break;
        report.stale += batch.length;
        const requeued = batch.filter((r) => r.outcome === 'requeued');
        report.requeued += requeued.length;
        report.failed += batch.length - requeued.length;
        for (const job of batch) {
          const level = job.outcome === 'failed' ? 'error' : 'warn';
          logger[level](job.outcome === 'failed' ? 'stale job failed past the cap' : 'stale job requeued', {
            jobId: job.id,
            attempts: job.attempts,
            previousWorker: job.previousWorker,
            staleForSeconds: job.staleForSeconds,
          });
        }
        report.sendFailures += (await sendAll(requeued)).failed;
      }

      // 2. Jobs left pending (a send that failed after its commit, here or in the API).
      const pending = await deps.store.leasePending(options.pendingGraceSeconds, options.maxResendsPerRun);
      const resend = await sendAll(pending);
      report.resent += resend.sent;
      report.sendFailures += resend.failed;
      if (report.resent > 0) logger.warn('re-sent jobs left pending', { resent: report.resent });

      // 2b. Jobs queued whose message is gone (SQS cannot be searched by job: the counts tell how many).
      if (deps.depths) {
        const backlog = await deps.store.queuedByTier(options.queuedLostAfterSeconds);
        for (const tier of backlog) {
          if (tier.quiet === 0) continue;
          const lost = lostMessages(tier, await deps.depths.messages(tier.priority));
          const limit = Math.min(lost, options.maxResendsPerRun - report.lostResent);
          if (limit <= 0) continue;
          const taken = await deps.store.takeQuietQueued(
            tier.priority,
            options.queuedLostAfterSeconds,
            limit,
          );
          const sent = await sendAll(taken);
          report.lostResent += sent.sent;
          report.sendFailures += sent.failed;
          logger.warn('re-sent queued jobs whose message was gone', {
            tier: tierFor(tier.priority).name,
            expected: tier.expected,
            quiet: tier.quiet,
            resent: sent.sent,
            jobIds: taken.map((j) => j.id),
          });
        }
      }

      // 3. Live workers stuck on one step.
      const live = await deps.store.liveJobs(options.staleAfterSeconds);
      const stuck = findStuckSteps(live.jobs, live.now, options.stuckStepAfterSeconds);
      const time = now().toISOString();
      const added = await deps.store.addAlerts(stuck.map((s) => stuckStepAlert(s, time)));
      report.stuckSteps = added.length;
      // How many are stuck right now (a gauge for dashboards), beside how many were newly reported.
      metrics.addMetric('StuckStepsActive', MetricUnit.Count, stuck.length);
      for (const alert of added) logger.warn('step stuck while heartbeats arrive', { alertId: alert.id });

      // Expired Idempotency-Keys of POST /v1/jobs: the table holds a day of keys, not every key ever sent.
      await deps.store.pruneRequestKeys(API_IDEMPOTENCY.keyTtlSeconds, RECOVERY.idempotencyKeysPrunedPerRun);

      // 4. Proof screenshots waiting for S3 (this step never throws, and stops early once S3 refuses, so it
      //    never holds the alerts below back for long).
      if (deps.evidence) report.evidence = await retryPendingEvidence({ ...deps.evidence, logger, metrics });

      // 5. Publish what is waiting (this run's alerts and any an earlier run could not publish).
      report.alerts = await publishWaiting(deps.outbox, deps.alerts, logger);
      return report;
    } finally {
      metrics.addMetric('StaleJobsFound', MetricUnit.Count, report.stale);
      metrics.addMetric('StaleJobsRequeued', MetricUnit.Count, report.requeued);
      metrics.addMetric('StaleJobsFailed', MetricUnit.Count, report.failed);
      metrics.addMetric('PendingJobsResent', MetricUnit.Count, report.resent);
      metrics.addMetric('LostMessagesResent', MetricUnit.Count, report.lostResent);
      metrics.addMetric('RecoverySendFailures', MetricUnit.Count, report.sendFailures);
      metrics.addMetric('StuckSteps', MetricUnit.Count, report.stuckSteps);
      metrics.addMetric('AlertsPublished', MetricUnit.Count, report.alerts.published);
      metrics.publishStoredMetrics();
    }
  };
}
