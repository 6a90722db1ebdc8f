/**
 * Runs one claimed job: walks its ledger, submits each directory still 'prepared' (politely, with retries
 * for transient failures), verifies any left 'submitting' by a crashed worker, and heartbeats progress
 * while it works. Every write names the claim's fencing token; the first refused write means a newer
 * claimant owns the job, and this run stops without touching anything else.
 */

import type { Context, SQSRecord } from 'aws-lambda';
import { METRIC_NAMES } from '#policy';
import type { Profile } from '#shared/customer-store';
import type { Directory } from '#shared/directory-store';
import type { Claim, JobProgress } from '#shared/job-store';
import { countByStatus, type Settlement, type Submission } from '#shared/submission-ledger';
import { describeError, type Logger, MetricUnit } from '#shared/telemetry';
import { backoffDelayMs } from './backoff.ts';
import type { BrowserLease } from './browser-pool.ts';
import type { FormDefinition } from './form-definition.ts';
import { classify, type EngineOutcome, runForm, verifyListing } from './form-engine.ts';
import type { ProcessState, WorkerDeps } from './ports.ts';
import { scrubProfile } from './profile-scrub.ts';
import type { SiteSlot } from './site-politeness.ts';

export type JobRunResult = 'completed' | 'failed' | 'superseded';

/** The invocation has too little time left to start another directory; the job continues in a new message. */
export class OutOfTimeError extends Error {
  override readonly name = 'OutOfTimeError';
  /** Directories this run settled before time ran out (set by runJob); 0 means no progress. */
  settled = 0;
}

interface Heartbeat {
  lost(): boolean;
  markLost(): void;
  stop(): Promise<void>;
}

interface RunContext {
  deps: WorkerDeps;
  claim: Claim;
  profile: Profile;
  progress: JobProgress;
  heartbeat: Heartbeat;
  context: Context;
  log: Logger;
  /** The last visit's end (its context closing, then its site slot released), left running in the background. */
  visitEnding?: { site: string; done: Promise<void> };
}

export async function runJob(
  deps: WorkerDeps,
  claim: Claim,
  record: SQSRecord,
  context: Context,
  log: Logger,
  state: ProcessState,
): Promise<JobRunResult> {
  const started = Date.now();
  const submissions = await deps.ledger.forJob(claim.jobId);
  const progress: JobProgress = {
    total: submissions.length,
    done: submissions.filter((s) => s.status !== 'prepared' && s.status !== 'submitting').length,
    directoryId: null,
    step: null,
    stepSince: new Date().toISOString(),
  };
  const customer = await deps.customers.get(claim.customerId);
  if (!customer) {
    const finished = await deps.jobs.finish(claim, {
      status: 'failed',
      progress,
      error: 'the job’s customer no longer exists',
      errorClass: 'internal',
    });
    log.warn('job failed: customer no longer exists');
    return finished ? 'failed' : 'superseded';
  }
  const directories = new Map(
    (await deps.directories.getMany([...new Set(submissions.map((s) => s.directoryId))])).map((d) => [
      d.id,
      d,
    ]),
  );
  const heartbeat = startHeartbeat(deps, claim, record, progress, log, state);
  const run: RunContext = { deps, claim, profile: customer, progress, heartbeat, context, log };
  const doneAtStart = progress.done ?? 0;
  try {
    for (const submission of submissions) {
      if (heartbeat.lost()) break;
      if (submission.status !== 'prepared' && submission.status !== 'submitting') continue;
      const settled = await settleOne(run, submission, directories.get(submission.directoryId));
      if (!settled) break;
    }
    await visitEnded(run);
    if (heartbeat.lost()) {
      log.warn('claim superseded; stopped work on this job');
      return 'superseded';
    }
    const final = await deps.ledger.forJob(claim.jobId);
    progress.directoryId = null;
    progress.step = null;
    progress.counts = countByStatus(final);
    const finished = await deps.jobs.finish(claim, { status: 'completed', progress });
    if (!finished) return 'superseded';
    deps.metrics.addMetric(METRIC_NAMES.jobDuration, MetricUnit.Milliseconds, Date.now() - started);
    log.info('job completed', { counts: progress.counts, ms: Date.now() - started });
    return 'completed';
  } catch (err) {
    if (err instanceof OutOfTimeError) err.settled = (progress.done ?? 0) - doneAtStart;
    throw err;
  } finally {
    await visitEnded(run);
    await heartbeat.stop();
  }
}

/** Decides and records one directory's outcome; false when the claim turned out to be lost. */
async function settleOne(
  run: RunContext,
  submission: Submission,
  directory: Directory | undefined,
): Promise<boolean> {
  const { deps, claim, progress, log } = run;
  const directoryId = submission.directoryId;
  progress.directoryId = directoryId;
  progress.step = 'start';
  progress.stepSince = new Date().toISOString();
  const dlog = log.createChild({ persistentKeys: { directoryId } });
  const started = Date.now();
  let settlement: Settlement;
  if (submission.status === 'submitting') {
    settlement = await settleInterrupted(run, directory, dlog);
  } else if (!directory?.active) {
    settlement = { status: 'skipped', error: 'the directory is missing or inactive' };
  } else {
    settlement = await submitWithRetries(run, directory, dlog);
  }
  if (!(await deps.ledger.settle(claim, directoryId, settlement))) {
    run.heartbeat.markLost();
    dlog.warn('the ledger refused the outcome: claim superseded');
    return false;
  }
  progress.done = (progress.done ?? 0) + 1;
  deps.metrics.addMetric(`${METRIC_NAMES.submissionPrefix}${settlement.status}`, MetricUnit.Count, 1);
  deps.metrics.addMetric('DirectoryDuration', MetricUnit.Milliseconds, Date.now() - started);
  dlog.info('directory settled', {
    status: settlement.status,
    errorClass: settlement.errorClass ?? undefined,
    ms: Date.now() - started,
  });
  return true;
}

async function submitWithRetries(run: RunContext, directory: Directory, log: Logger): Promise<Settlement> {
  const { deps } = run;
  const { options } = deps;
  for (let attempt = 1; ; attempt++) {
    run.progress.step = attempt === 1 ? 'waiting for site' : `waiting for site (attempt ${attempt})`;
    const slot = await acquireSite(run, directory.site);
    const outcome = await attemptOnce(run, directory, attempt, slot);
    const retry = outcome.transient && !outcome.submitted && attempt <= options.transientRetries;
    if (!retry) {
      return {
        status: outcome.status,
        errorClass: outcome.errorClass ?? null,
        error: outcome.error ?? null,
        evidence: { ...outcome.evidence, attempts: attempt },
      };
    }
    deps.metrics.addMetric('DirectoryRetry', MetricUnit.Count, 1);
    const delay = backoffDelayMs(attempt, {
      baseMs: options.retryBaseDelayMs,
      maxMs: options.retryMaxDelayMs,
      ...(deps.random ? { random: deps.random } : {}),
    });
    log.info('transient failure; retrying', { attempt, errorClass: outcome.errorClass, delayMs: delay });
    run.progress.step = `backoff before attempt ${attempt + 1}`;
    await sleep(delay);
  }
}

/**
 * One visit to the directory: a fresh context, the form, and (if the result was ambiguous) a lookup. The
 * visit holds the site's slot, and ends it: at once if no context was opened, else once the context is
 * closed, in the background (see endVisit).
 */
async function attemptOnce(
  run: RunContext,
  directory: Directory,
  attempt: number,
  slot: SiteSlot,
): Promise<EngineOutcome> {
  const { deps, claim, profile, progress, heartbeat, log } = run;
  let definition: FormDefinition;
  let lease: BrowserLease;
  try {
    definition = withBudget(run, directory.definition);
    lease = await deps.browser.acquire();
  } catch (err) {
    await slot.release();
    throw err;
  }
  let began = false;
  let broken = false;
  try {
    const page = await lease.newPage();
    const outcome = await runForm(
      page,
      definition,
      profile,
      {
        onStep: (index, step) => {
          progress.step = `${index + 1}/${definition.steps.length} ${step.action}`;
          progress.stepSince = new Date().toISOString();
        },
        beforeSubmit: async () => {
          if (heartbeat.lost()) return false;
          began = (await deps.ledger.begin(claim, directory.id)) !== undefined;
          return began;
        },
      },
      { stepTimeoutMs: deps.options.stepTimeoutMs, directoryTimeoutMs: deps.options.directoryTimeoutMs },
    );
    if (began && !outcome.submitted) {
      // The budget ran out between "submitting" and the click: nothing was sent, so the row may be retried.
      await deps.ledger.revert(claim, directory.id);
    }
    broken = Boolean(outcome.browserBroken) || !deps.browser.state().running;
    if (broken && !outcome.submitted && outcome.status === 'failed') outcome.transient = true;
    if (outcome.status === 'unknown' && definition.verify && !broken) {
      const check = await verifyListing(
        await lease.newPage(),
        definition,
        profile,
        deps.options.verifyTimeoutMs,
      );
      outcome.evidence.verification = check.result;
      if (check.result === 'found')
        return { ...outcome, status: 'submitted', errorClass: undefined, error: undefined };
    }
    if (outcome.evidence.fallbackSelectors)
      deps.metrics.addMetric('SelectorFallbackUsed', MetricUnit.Count, 1);
    return outcome;
  } catch (err) {
    broken = true;
    const failure = classify(err);
    log.warn('directory attempt failed outside the form', {
      attempt,
      error: scrubProfile(describeError(err).message, profile),
    });
    return {
      status: began ? 'unknown' : 'failed',
      errorClass: failure.errorClass,
      error: failure.message,
      transient: !began && failure.transient,
      submitted: began,
      evidence: { attempt },
    };
  } finally {
    await endVisit(run, directory.site, lease.release({ broken }), slot);
  }
}

/**
 * Ends a visit off the critical path: the context closes, then the site slot lets the next visitor in (and
 * records the visit's end for the minimum gap), while this worker settles the ledger and moves on to another
 * site. Neither step rejects (the pool recycles a browser whose context will not close; a slot that cannot
 * be released drops its connection, and the lock with it). At most one visit is ending at a time; it is
 * awaited before this worker visits the same site again and before the job ends.
 */
async function endVisit(
  run: RunContext,
  site: string,
  closing: Promise<void>,
  slot: SiteSlot,
): Promise<void> {
  await visitEnded(run);
  const done = closing
    .catch((err: unknown) =>
      run.log.warn('closing the browser context failed', { error: describeError(err).message }),
    )
    .then(() => slot.release())
    .catch((err: unknown) =>
      run.log.warn('releasing the site failed', { error: describeError(err).message }),
    );
  run.visitEnding = { site, done };
}

async function visitEnded(run: RunContext): Promise<void> {
  const ending = run.visitEnding;
  if (!ending) return;
  await ending.done;
  if (run.visitEnding === ending) run.visitEnding = undefined;
}

/** The site's politeness slot, once this worker's own last visit to it (if still ending) has ended. */
async function acquireSite(run: RunContext, site: string): Promise<SiteSlot> {
  if (run.visitEnding?.site === site) await visitEnded(run);
  return run.deps.politeness.acquire(site, {
    holder: run.deps.workerId,
    maxWaitMs: run.deps.options.siteWaitMaxMs,
  });
}

/**
 * A row left 'submitting': a previous worker may or may not have sent it. Look it up where the directory
 * allows; otherwise, or when the lookup is not conclusive, hand it to a person. Never resubmit.
 */
async function settleInterrupted(
  run: RunContext,
  directory: Directory | undefined,
  log: Logger,
): Promise<Settlement> {
  const { deps, profile } = run;
  const unknown = (why: string, verification?: string): Settlement => ({
    status: 'unknown',
    errorClass: 'internal',
    error: `a previous worker stopped mid-submission; ${why}; not resubmitted, a person should check the directory`,
    evidence: { interrupted: true, ...(verification ? { verification } : {}) },
  });
  if (!directory?.definition.verify) return unknown('the directory offers no way to check');
  run.progress.step = 'verify';
  const slot = await acquireSite(run, directory.site);
  const lease = await deps.browser.acquire().catch(async (err: unknown) => {
    await slot.release();
    throw err;
  });
  let broken = false;
  try {
    const check = await verifyListing(
      await lease.newPage(),
      directory.definition,
      profile,
      deps.options.verifyTimeoutMs,
    );
    deps.metrics.addMetric(`Verification_${check.result}`, MetricUnit.Count, 1);
    log.info('verified an interrupted submission', { verification: check.result });
    if (check.result === 'found') {
      return { status: 'submitted', evidence: { interrupted: true, verification: 'found' } };
    }
    return unknown(`the listing lookup was ${check.result.replace('_', ' ')}`, check.result);
  } catch (err) {
    broken = true;
    log.warn('verification failed', { error: scrubProfile(describeError(err).message, profile) });
    return unknown('the listing lookup failed', 'inconclusive');
  } finally {
    await lease.release({ broken });
    await slot.release();
  }
}

/** The definition with its directory budget capped by the invocation's remaining time. */
function withBudget(run: RunContext, definition: FormDefinition): FormDefinition {
  const { options } = run.deps;
  const wanted = definition.timeouts?.directoryMs ?? options.directoryTimeoutMs;
  const available = run.context.getRemainingTimeInMillis() - options.invocationMarginMs;
  if (available < Math.min(wanted, options.stepTimeoutMs)) {
    throw new OutOfTimeError(`only ${available} ms of this invocation left to start another directory`);
  }
  return { ...definition, timeouts: { ...definition.timeouts, directoryMs: Math.min(wanted, available) } };
}

/**
 * Every heartbeatIntervalMs: progress into the job row (fenced: a refusal means the claim is lost), the
 * message's visibility extended, the worker's row upserted, and a heartbeat metric published at once so
 * the "no worker heartbeat" alarm sees long jobs too.
 */
function startHeartbeat(
  deps: WorkerDeps,
  claim: Claim,
  record: SQSRecord,
  progress: JobProgress,
  log: Logger,
  state: ProcessState,
): Heartbeat {
  let lost = false;
  let running: Promise<void> | undefined;
  const beat = async () => {
    if (lost) return;
    if (!(await deps.jobs.heartbeat(claim, progress))) {
      lost = true;
      log.warn('claim superseded (heartbeat refused); stopping work on this job');
      return;
    }
    await deps.lease.extend(record, deps.options.visibilityTimeoutSeconds);
    await deps.registry.beat({
      id: deps.workerId,
      jobsInFlight: state.jobsInFlight,
      browser: deps.browser.state(),
    });
    deps.metrics.addMetric(METRIC_NAMES.workerHeartbeat, MetricUnit.Count, 1);
    deps.metrics.publishStoredMetrics();
  };
  const timer = setInterval(() => {
    if (running) return;
    running = beat()
      .catch((err: unknown) => log.warn('heartbeat failed', { error: describeError(err).message }))
      .finally(() => {
        running = undefined;
      });
  }, deps.options.heartbeatIntervalMs);
  return {
    lost: () => lost,
    markLost: () => {
      lost = true;
    },
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
