/**
 * The submission worker: an SQS FIFO batch handler. For each job message it claims the job (fencing
 * token), walks the job's ledger, fills each directory's form in a fresh browser context, records every
 * outcome, and heartbeats progress while it works.
 */
import { processPartialResponse, SqsFifoPartialProcessorAsync } from '@aws-lambda-powertools/batch';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import type { CustomerStore, Profile } from '#shared/customer-store';
import type { Directory, DirectoryStore } from '#shared/directory-store';
import { parseJobMessage } from '#shared/job-queue';
import type { Claim, JobProgress, JobStore } from '#shared/job-store';
import { countByStatus, type Settlement, type SubmissionLedger } from '#shared/submission-ledger';
import { describeError, type Logger, type Metrics, MetricUnit } from '#shared/telemetry';
import type { BrowserPool } from './browser-pool.ts';
import { runForm } from './form-engine.ts';

/** Extends a received message's visibility while its job is still being worked on. */
export interface MessageLease {
  extend(record: SQSRecord, seconds: number): Promise<void>;
}

export interface WorkerDeps {
  jobs: JobStore;
  ledger: SubmissionLedger;
  customers: Pick<CustomerStore, 'get'>;
  directories: Pick<DirectoryStore, 'getMany'>;
  browser: BrowserPool;
  lease: MessageLease;
  logger: Logger;
  metrics: Metrics;
  /** Identifies this worker process in claims (claimed_by). */
  workerId: string;
  options: {
    heartbeatIntervalMs: number;
    visibilityTimeoutSeconds: number;
    stepTimeoutMs: number;
    directoryTimeoutMs: number;
  };
}

export type WorkerHandler = (event: SQSEvent, context: Context) => Promise<SQSBatchResponse>;

export function makeWorkerHandler(deps: WorkerDeps): WorkerHandler {
  return async function workerHandler(event, context) {
    const processor = new SqsFifoPartialProcessorAsync();
    try {
      return await processPartialResponse(
        event,
        (record: SQSRecord) => processRecord(deps, record),
        processor,
        {
          context,
          skipGroupOnError: true,
          throwOnFullBatchFailure: false,
        },
      );
    } finally {
      deps.metrics.publishStoredMetrics();
    }
  };
}

async function processRecord(deps: WorkerDeps, record: SQSRecord): Promise<void> {
  const { logger, metrics } = deps;
  const message = parseJobMessage(record.body);
  const log = logger.createChild({ persistentKeys: { jobId: message.jobId, messageId: record.messageId } });
  const claim = await deps.jobs.claim(message.jobId, message.enqueueToken, deps.workerId);
  if (!claim) {
    // The job finished, was cancelled, or was requeued/promoted with a newer token: this copy is stale.
    log.info('stale job message discarded', { enqueueToken: message.enqueueToken });
    metrics.addMetric('StaleMessagesDiscarded', MetricUnit.Count, 1);
    return;
  }
  if (claim.previousStatus === 'in_progress') log.warn('took over a job from a previous worker');
  const started = Date.now();
  await runJob(deps, claim, record, log);
  metrics.addMetric('JobDuration', MetricUnit.Milliseconds, Date.now() - started);
}

async function runJob(deps: WorkerDeps, claim: Claim, record: SQSRecord, log: Logger): Promise<void> {
  const customer = await deps.customers.get(claim.customerId);
  const submissions = await deps.ledger.forJob(claim.jobId);
  const directories = new Map(
    (await deps.directories.getMany(submissions.map((s) => s.directoryId))).map((d) => [d.id, d]),
  );
  const progress: JobProgress = {
    total: submissions.length,
    done: submissions.filter((s) => s.status !== 'prepared' && s.status !== 'submitting').length,
    directoryId: null,
    step: null,
    stepSince: new Date().toISOString(),
  };
  let lost = false;
  const beat = async () => {
    if (lost) return;
    const alive = await deps.jobs.heartbeat(claim, progress);
    if (!alive) {
      lost = true;
      log.warn('claim superseded; stopping work on this job');
      return;
    }
    await deps.lease.extend(record, deps.options.visibilityTimeoutSeconds);
  };
  const timer = setInterval(() => {
    beat().catch((err) => log.warn('heartbeat failed', { error: describeError(err) }));
  }, deps.options.heartbeatIntervalMs);
  try {
    if (!customer) throw new Error(`customer ${claim.customerId} of job ${claim.jobId} no longer exists`);
    for (const submission of submissions) {
      if (lost) return;
      const directory = directories.get(submission.directoryId);
      let settlement: Settlement | undefined;
      if (submission.status === 'submitting') {
        // A previous worker stopped between "about to submit" and the outcome: it may have been sent.
        settlement = {
          status: 'unknown',
          errorClass: 'internal',
          error:
            'a previous worker stopped mid-submission; not resubmitted, a person should check the directory',
        };
      } else if (submission.status !== 'prepared') {
        continue;
      } else if (!directory?.active) {
        settlement = { status: 'skipped', error: 'directory is missing or inactive' };
      }
      if (!settlement) {
        progress.directoryId = submission.directoryId;
        progress.step = 'open';
        progress.stepSince = new Date().toISOString();
        settlement = await submitOne(deps, claim, directory as Directory, customer, progress, log);
      }
      const recorded = await deps.ledger.settle(claim, submission.directoryId, settlement);
      if (!recorded) {
        lost = true;
        log.warn('ledger refused a result: claim superseded', { directoryId: submission.directoryId });
        return;
      }
      progress.done = (progress.done ?? 0) + 1;
      deps.metrics.addMetric(`Submission_${settlement.status}`, MetricUnit.Count, 1);
      log.info('directory settled', {
        directoryId: submission.directoryId,
        status: settlement.status,
        errorClass: settlement.errorClass ?? undefined,
      });
    }
    const final = await deps.ledger.forJob(claim.jobId);
    progress.directoryId = null;
    progress.step = null;
    progress.counts = countByStatus(final);
    const finished = await deps.jobs.finish(claim, { status: 'completed', progress });
    if (finished) log.info('job completed', { counts: progress.counts });
  } finally {
    clearInterval(timer);
  }
}

async function submitOne(
  deps: WorkerDeps,
  claim: Claim,
  directory: Directory,
  profile: Profile,
  progress: JobProgress,
  log: Logger,
): Promise<Settlement> {
  const started = Date.now();
  const lease = await deps.browser.acquire();
  let broken = false;
  let began = false;
  try {
    const page = await lease.context.newPage();
    const outcome = await runForm(
      page,
      directory.definition,
      profile,
      {
        onStep: (_index, step) => {
          progress.step = step.action;
          progress.stepSince = new Date().toISOString();
        },
        beforeSubmit: async () => {
          began = (await deps.ledger.begin(claim, directory.id)) !== undefined;
          return began;
        },
      },
      { stepTimeoutMs: deps.options.stepTimeoutMs, directoryTimeoutMs: deps.options.directoryTimeoutMs },
    );
    return {
      status: outcome.status,
      errorClass: outcome.errorClass ?? null,
      error: outcome.error ?? null,
      evidence: outcome.evidence,
    };
  } catch (err) {
    broken = true;
    const { message } = describeError(err);
    log.warn('browser failure', { directoryId: directory.id, error: message });
    // Once the ledger said 'submitting', a crash may have happened after the form was sent.
    return { status: began ? 'unknown' : 'failed', errorClass: 'internal', error: message };
  } finally {
    await lease.release({ broken });
    deps.metrics.addMetric('DirectoryDuration', MetricUnit.Milliseconds, Date.now() - started);
  }
}
