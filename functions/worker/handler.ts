/**
 * The submission worker: an SQS FIFO batch handler (Powertools batch processing, partial batch failures).
 * For each job message it runs the job once per (job, enqueue token) under Powertools idempotency, claims
 * the job with a fencing token (a stale token means the message was superseded by a requeue, a promotion or
 * a continuation, and it is discarded), and hands the claim to the job runner.
 *
 * A job that runs out of invocation time after settling at least one directory continues: the job is handed
 * to a fresh message (new enqueue and fencing tokens, a 'continued' event), and this record succeeds, so a
 * big job that progresses every invocation never counts receives towards the dead-letter queue. The guard
 * against a job that never progresses is the progress itself: an invocation that settled no directory is
 * not a continuation but a failure (below), so such a job still reaches the DLQ after maxReceiveCount
 * receives; and since every continuation settles a directory, a job of N directories continues fewer than
 * N times. No cap to tune. A worker asked to stop (deps.shutdown: the local runtime's SIGTERM) continues its
 * job the same way, whether or not it settled anything: stopping is not the job's failure.
 *
 * A record that cannot be finished (a database outage, a browser that will not launch, a busy site, an
 * invocation out of time with no directory settled, a poison body) is reported as a batch item failure: the
 * job row says why, the job goes back to 'queued', and the message's visibility is shortened to an
 * exponential backoff so the retry comes in seconds or minutes rather than after the 90-minute visibility
 * timeout. After maxReceiveCount receives it moves to the tier's dead-letter queue.
 */
import { randomUUID } from 'node:crypto';
import { processPartialResponse, SqsFifoPartialProcessorAsync } from '@aws-lambda-powertools/batch';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { QUEUES } from '#policy';
import { type JobMessage, parseJobMessage, sendStoredJob } from '#shared/job-queue';
import type { Claim } from '#shared/job-store';
import type { ErrorClass } from '#shared/submission-ledger';
import { describeError, type Logger, MetricUnit } from '#shared/telemetry';
import { backoffDelayMs } from './backoff.ts';
import { IdempotencyAlreadyInProgressError } from './idempotency.ts';
import { OutOfTimeError, runJob, StopRequestedError } from './job-runner.ts';
import type { ProcessState, WorkerDeps } from './ports.ts';
import { SiteBusyError } from './site-politeness.ts';

export type { MessageLease, WorkerDeps, WorkerOptions } from './ports.ts';

export type WorkerHandler = (event: SQSEvent, context: Context) => Promise<SQSBatchResponse>;

/** What one execution of a job message came to; stored by the idempotency layer for duplicates. */
interface MessageResult extends Record<string, unknown> {
  /** 'continued': out of invocation time after some progress; the job goes on in a fresh message. */
  outcome: 'completed' | 'failed' | 'superseded' | 'stale' | 'continued';
  executionId: string;
}

export function makeWorkerHandler(deps: WorkerDeps): WorkerHandler {
  const state: ProcessState = { jobsInFlight: 0 };
  return async function workerHandler(event, context) {
    const processor = new SqsFifoPartialProcessorAsync();
    try {
      return await processPartialResponse(
        event,
        (record: SQSRecord) => handleRecord(deps, state, record, context),
        processor,
        { context, skipGroupOnError: true, throwOnFullBatchFailure: false },
      );
    } finally {
      deps.metrics.publishStoredMetrics();
    }
  };
}

async function handleRecord(
  deps: WorkerDeps,
  state: ProcessState,
  record: SQSRecord,
  context: Context,
): Promise<MessageResult> {
  let log = deps.logger.createChild({ persistentKeys: { messageId: record.messageId } });
  try {
    const message = parseJobMessage(record.body);
    log = log.createChild({ persistentKeys: { jobId: message.jobId, priority: message.priority } });
    const executionId = randomUUID();
    const result = await deps.idempotency.once(
      { jobId: message.jobId, enqueueToken: message.enqueueToken },
      context,
      () => processMessage(deps, state, record, message, context, log, executionId),
    );
    if (result.executionId !== executionId) {
      // Powertools returned the stored result of an earlier execution of this same message.
      deps.metrics.addMetric('DuplicateDeliveryIgnored', MetricUnit.Count, 1);
      log.info('duplicate delivery: already processed', { outcome: result.outcome });
    }
    return result;
  } catch (err) {
    await returnWithBackoff(deps, record, err, log);
    throw err;
  }
}

async function processMessage(
  deps: WorkerDeps,
  state: ProcessState,
  record: SQSRecord,
  message: JobMessage,
  context: Context,
  log: Logger,
  executionId: string,
): Promise<MessageResult> {
  const claim = await deps.jobs.claim(message.jobId, message.enqueueToken, deps.workerId);
  if (!claim) {
    // The job finished, was cancelled, or was requeued or promoted with a newer token: this copy is stale.
    log.info('stale job message discarded', { enqueueToken: message.enqueueToken });
    deps.metrics.addMetric('StaleMessagesDiscarded', MetricUnit.Count, 1);
    return { outcome: 'stale', executionId };
  }
  if (claim.previousStatus === 'in_progress') log.warn('took over a job from a previous worker');
  state.jobsInFlight += 1;
  try {
    await beat(deps, state, log);
    const outcome = await runJob(deps, claim, record, context, log, state);
    return { outcome, executionId };
  } catch (err) {
    // Out of time after progress, or asked to stop (progress or not): the job goes on in a fresh message.
    if (err instanceof OutOfTimeError && (err.settled > 0 || err instanceof StopRequestedError)) {
      const why = err instanceof StopRequestedError ? 'the worker is stopping' : 'out of invocation time';
      const outcome = await continueJob(deps, claim, err.settled, log, why).catch((e: unknown) => {
        // The statement failed (a database outage): fail this delivery as before; its retry resumes the job.
        log.warn('could not continue the job; the message will be retried', {
          error: describeError(e).message,
        });
        return undefined;
      });
      if (outcome) return { outcome, executionId };
    }
    const failure = recordFailure(err);
    // On the last receive SQS moves the message to the dead-letter queue next: the job is failed, not queued.
    const final = Number(record.attributes.ApproximateReceiveCount) >= QUEUES.maxReceiveCount;
    const released = await deps.jobs.releaseAfterFailure(claim, failure, { final }).catch((e: unknown) => {
      log.warn('could not record the failure on the job', { error: describeError(e).message });
      return false;
    });
    log.warn(
      final
        ? 'job failed on its last attempt; the message goes to the DLQ'
        : 'job attempt failed; the message will be retried',
      {
        errorClass: failure.errorClass,
        released,
      },
    );
    throw err;
  } finally {
    state.jobsInFlight -= 1;
    await beat(deps, state, log);
  }
}

/**
 * Hands a job that ran out of invocation time to a fresh message: one fenced statement (pending, tokens + 1,
 * a 'continued' event), then the message on the job's tier queue and 'queued', as the API's enqueue does. If
 * the send fails the job stays 'pending' and the stale-jobs run re-sends it after
 * RECOVERY.pendingGraceSeconds: nothing is lost. Either way this record succeeds and is deleted.
 */
async function continueJob(
  deps: WorkerDeps,
  claim: Claim,
  settled: number,
  log: Logger,
  why: string,
): Promise<'continued' | 'superseded'> {
  const next = await deps.jobs.releaseForContinuation(claim, settled);
  if (!next) {
    // A cancel, a stale requeue or a newer claim raised the fencing token: that owner decides what happens.
    log.warn(`${why}, and the claim was superseded; not continuing the job`);
    return 'superseded';
  }
  const sent = await sendStoredJob(deps.queue, deps.jobs, next);
  if (sent.status === 'pending') {
    log.error('continuation send failed; job left pending for recovery', {
      error: describeError(sent.error),
    });
    deps.metrics.addMetric('EnqueueFailures', MetricUnit.Count, 1);
  }
  deps.metrics.addMetric('JobContinued', MetricUnit.Count, 1);
  log.info(`${why}; the job continues in a new message`, {
    settled,
    done: next.done,
    total: next.total,
    enqueueToken: next.enqueueToken,
    status: sent.status,
  });
  return 'continued';
}

async function beat(deps: WorkerDeps, state: ProcessState, log: Logger): Promise<void> {
  await deps.registry
    .beat({ id: deps.workerId, jobsInFlight: state.jobsInFlight, browser: deps.browser.state() })
    .catch((err: unknown) =>
      log.warn('worker registry update failed', { error: describeError(err).message }),
    );
}

/** Why a record failed, in the ledger's error classes, for the job row (and the DLQ check that reads it). */
export function recordFailure(err: unknown): { error: string; errorClass: ErrorClass } {
  const { message } = describeError(err);
  if (err instanceof SiteBusyError || err instanceof OutOfTimeError)
    return { error: message, errorClass: 'timeout' };
  return { error: message, errorClass: 'internal' };
}

async function returnWithBackoff(
  deps: WorkerDeps,
  record: SQSRecord,
  err: unknown,
  log: Logger,
): Promise<void> {
  const receives = Number(record.attributes.ApproximateReceiveCount) || 1;
  const { options } = deps;
  const seconds = Math.round(
    backoffDelayMs(receives, {
      baseMs: options.recordRetryBaseSeconds * 1000,
      maxMs: options.recordRetryMaxSeconds * 1000,
      ...(deps.random ? { random: deps.random } : {}),
    }) / 1000,
  );
  deps.metrics.addMetric('RecordFailed', MetricUnit.Count, 1);
  const duplicate = err instanceof IdempotencyAlreadyInProgressError;
  log[duplicate ? 'info' : 'warn'](
    duplicate ? 'duplicate delivery while the first execution runs' : 'record failed',
    { error: duplicate ? undefined : describeError(err).message, receives, retryInSeconds: seconds },
  );
  await deps.lease
    .extend(record, seconds)
    .catch((e: unknown) =>
      log.warn('could not shorten the message visibility', { error: describeError(e).message }),
    );
}
