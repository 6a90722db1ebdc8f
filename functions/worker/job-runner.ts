/**
 * Runs one claimed job: walks its ledger and settles each open row, heartbeating progress while it works.
 * Every write names the claim's fencing token; the first refused write means a newer claimant owns the job,
 * and this run stops without touching anything else.
 *
 * No blind resend: a row that may have been sent (left 'submitting' by an earlier run, 'unverified' after a
 * retry, or this run's own click whose outcome is unclear, including a browser that crashed after the
 * click) is looked up with the directory's `verify` before anything else happens to it (resolveInDoubt):
 * found → 'submitted' without a click; certainly not there → sent normally; otherwise → 'unknown' for a
 * person. Once per business and directory: a row another row already holds is settled 'skipped' before any
 * visit, and `begin` (the database) refuses the click if another job got there first.
 *
 * Graceful stop: once `deps.shutdown` is aborted no directory, retry, lookup or wait starts; the directory in
 * flight finishes, and the job continues in a fresh message (StopRequestedError) with what is left still
 * 'prepared' or, if in doubt, still 'submitting' / 'unverified' for the next run to look up.
 */

import type { Context, SQSRecord } from 'aws-lambda';
import type { Page } from 'playwright-core';
import { aliasAddress } from '#functions/mail/alias';
import { METRIC_NAMES } from '#policy';
import type { SelectOption } from '#shared/categories';
import type { Profile } from '#shared/customer-store';
import type { Directory } from '#shared/directory-store';
import type { Claim, JobProgress } from '#shared/job-store';
import type { MediaRef } from '#shared/media';
import {
  countByStatus,
  type Holder,
  heldMessage,
  IN_DOUBT_STATUSES,
  INACTIVE_MESSAGE,
  OPEN_STATUSES,
  PAUSED_MESSAGE,
  type Settlement,
  type Submission,
  SubmissionHeldError,
} from '#shared/submission-ledger';
import { describeError, type Logger, MetricUnit } from '#shared/telemetry';
import { backoffDelayMs } from './backoff.ts';
import type { BrowserLease } from './browser-pool.ts';
import { type Capture, captureScreenshot } from './evidence-capture.ts';
import type { FormDefinition } from './form-definition.ts';
import {
  classify,
  type EngineFile,
  type EngineOptions,
  type EngineOutcome,
  runForm,
  type VerificationResult,
  verifyListing,
} from './form-engine.ts';
import type { ProcessState, WorkerDeps } from './ports.ts';
import { scrubProfile } from './profile-scrub.ts';
import type { SiteSlot } from './site-politeness.ts';

export type JobRunResult = 'completed' | 'failed' | 'superseded';

/** The invocation has too little time left to start another directory; the job continues in a new message. */
export class OutOfTimeError extends Error {
  override readonly name: string = 'OutOfTimeError';
  /** Directories this run settled before time ran out (set by runJob); 0 means no progress. */
  settled = 0;
}

/**
 * The worker was asked to stop (deps.shutdown): nothing new was started, and the job continues in a fresh
 * message even if this run settled nothing (stopping is not the job's failure).
 */
export class StopRequestedError extends OutOfTimeError {
  override readonly name = 'StopRequestedError';
  constructor() {
    super('the worker is stopping: no new directory was started; the job continues in a fresh message');
  }
}

interface Heartbeat {
  lost(): boolean;
  markLost(): void;
  stop(): Promise<void>;
}

/** What one lane is doing now: its directory and step, for the heartbeat. */
interface LaneProgress {
  directoryId: string | null;
  step: string | null;
  stepSince: string;
}

/** The job's state the lanes share. */
interface JobState {
  /** Total and done (the lanes' own directories and steps are in `lanes`). */
  progress: JobProgress;
  /** Every lane's progress, reported by the heartbeat as `inFlight`. */
  lanes: Set<LaneProgress>;
  /** The customer's logo's checked bytes, read once per job on the first directory that uploads it. */
  logoFile?: Promise<EngineFile | string>;
  /** The first reason a lane stopped (out of time, stop asked, an error): no lane starts another directory. */
  halt?: unknown;
}

/** One lane of a job: the job's shared state and this lane's own progress and last visit. */
interface RunContext {
  deps: WorkerDeps;
  claim: Claim;
  profile: Profile;
  /** The customer's logo, if any (what `upload` steps with field logo set). */
  logo: MediaRef | null;
  job: JobState;
  /** This lane's directory and step. */
  progress: LaneProgress;
  heartbeat: Heartbeat;
  context: Context;
  log: Logger;
  /** The lane's last visit's end (its context closing, then its site slot released), left running in the background. */
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
    done: submissions.filter((s) => !OPEN_STATUSES.includes(s.status)).length,
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
  const job: JobState = { progress, lanes: new Set() };
  const heartbeat = startHeartbeat(deps, claim, record, () => reported(job), log, state);
  const lane = (): RunContext => {
    const own: LaneProgress = { directoryId: null, step: null, stepSince: new Date().toISOString() };
    job.lanes.add(own);
    return {
      deps,
      claim,
      profile: customer,
      logo: customer.logo,
      job,
      progress: own,
      heartbeat,
      context,
      log,
    };
  };
  const open = submissions.filter((s) => OPEN_STATUSES.includes(s.status));
  const lanes = Array.from(
    { length: Math.max(1, Math.min(deps.options.directoriesInFlight, open.length)) },
    lane,
  );
  const doneAtStart = progress.done ?? 0;
  try {
    const next = await directoryPicker(deps, open);
    await Promise.all(lanes.map((run) => runLane(run, next)));
    if (job.halt !== undefined) throw job.halt;
    if (heartbeat.lost()) {
      log.warn('claim superseded; stopped work on this job');
      return 'superseded';
    }
    const final = await deps.ledger.forJob(claim.jobId);
    progress.counts = countByStatus(final);
    job.lanes.clear();
    const finished = await deps.jobs.finish(claim, { status: 'completed', progress });
    if (!finished) return 'superseded';
    deps.metrics.addMetric(METRIC_NAMES.jobDuration, MetricUnit.Milliseconds, Date.now() - started);
    log.info('job completed', { counts: progress.counts, ms: Date.now() - started });
    return 'completed';
  } catch (err) {
    if (err instanceof OutOfTimeError) err.settled = (progress.done ?? 0) - doneAtStart;
    throw err;
  } finally {
    // The lanes' last visits' contexts closing and the proofs' uploads wait together (neither rejects).
    await Promise.all([...lanes.map(visitEnded), settleProofs(deps, claim.jobId, log)]);
    await heartbeat.stop();
  }
}

/**
 * One lane: takes the job's next directory, settles it, and takes another, until none is left, the claim is
 * lost or another lane halted the job. A lane that cannot go on (out of time, asked to stop, an error) halts
 * the others: each finishes the directory it has in flight (which settles, or stays in a state the next run
 * resumes: 'prepared', or in doubt for the lookup) and starts no other. The first reason is the job's.
 */
async function runLane(run: RunContext, next: (run: RunContext) => Submission | undefined): Promise<void> {
  const { job, heartbeat } = run;
  try {
    for (;;) {
      if (heartbeat.lost() || job.halt !== undefined) break;
      // Graceful stop: the lane's directory in flight (if any) has ended; no new one starts.
      stopIfAsked(run);
      const submission = next(run);
      if (!submission) break;
      const settled = await settleOne(run, submission);
      if (!settled) break;
    }
  } catch (err) {
    // A stop or a lack of time is the job's reason only if nothing worse happened in another lane.
    const worse =
      job.halt === undefined || (job.halt instanceof OutOfTimeError && !(err instanceof OutOfTimeError));
    if (worse) job.halt = err;
  } finally {
    job.lanes.delete(run.progress);
    await visitEnded(run);
  }
}

/**
 * Hands the job's open directories to its lanes in the ledger's order, preferring one whose site no other lane
 * of this job is visiting (two directories on one site are visited one at a time anyway: the politeness
 * lease). The sites are read once here for the choice; each directory is read again when its lane starts it.
 */
async function directoryPicker(
  deps: WorkerDeps,
  open: readonly Submission[],
): Promise<(run: RunContext) => Submission | undefined> {
  const waiting = [...open];
  if (deps.options.directoriesInFlight <= 1 || waiting.length <= 1) return () => waiting.shift();
  const siteOf = new Map(
    (await deps.directories.getMany(waiting.map((s) => s.directoryId))).map((d) => [d.id, d.site]),
  );
  const visiting = new Map<RunContext, string | undefined>();
  return (run) => {
    visiting.delete(run);
    const busy = new Set(visiting.values());
    let index = waiting.findIndex((s) => !busy.has(siteOf.get(s.directoryId)));
    if (index < 0) index = 0;
    const [taken] = waiting.splice(index, 1);
    if (taken) visiting.set(run, siteOf.get(taken.directoryId));
    return taken;
  };
}

/**
 * The progress the heartbeat writes: the job's total and done, every directory in flight (`inFlight`, one per
 * lane), and, as before, one `directoryId` / `step` / `stepSince`: the lane longest on its step, which is the one
 * the stuck-step check (functions/recovery/stuck-steps.ts) must see.
 */
function reported(job: JobState): JobProgress {
  const inFlight = [...job.lanes].filter((l) => l.directoryId !== null).map((l) => ({ ...l }));
  const oldest = inFlight.reduce<LaneProgress | undefined>(
    (a, l) => (a === undefined || l.stepSince < a.stepSince ? l : a),
    undefined,
  );
  return {
    ...job.progress,
    directoryId: oldest?.directoryId ?? null,
    step: oldest?.step ?? null,
    // Before the first directory starts: since the run began (the stuck-step check measures from it).
    stepSince: oldest?.stepSince ?? job.progress.stepSince ?? null,
    inFlight,
  };
}

/**
 * The job's proofs still being recorded or uploaded, waited for within EVIDENCE.uploadWaitAtJobEndMs: the
 * invocation is about to end, and with it (in Lambda) whatever still runs in the background. What has not
 * reached S3 by then is kept in Postgres for the stale-jobs run.
 */
async function settleProofs(deps: WorkerDeps, jobId: string, log: Logger): Promise<void> {
  const evidence = deps.evidence;
  if (!evidence) return;
  const report = await evidence.settle(jobId);
  if (report.kept > 0) {
    log.warn('screenshot uploads still running at the end of the run; kept for the stale-jobs run', {
      ...report,
    });
  }
}

const stopping = (run: RunContext) => run.deps.shutdown?.aborted === true;

function stopIfAsked(run: RunContext): void {
  if (stopping(run)) throw new StopRequestedError();
}

/** Decides and records one directory's outcome; false when the claim turned out to be lost. */
async function settleOne(run: RunContext, submission: Submission): Promise<boolean> {
  const { deps, claim, progress, log } = run;
  const directoryId = submission.directoryId;
  progress.directoryId = directoryId;
  progress.step = 'start';
  progress.stepSince = new Date().toISOString();
  const dlog = log.createChild({ persistentKeys: { directoryId } });
  const started = Date.now();
  // Read now, not at the job's start: a directory deactivated while the job runs is honoured.
  const [directory] = await deps.directories.getMany([directoryId]);
  let settlement: Settlement | undefined;
  if (IN_DOUBT_STATUSES.includes(submission.status)) {
    const decided = await resolveInDoubt(run, directory, dlog, INTERRUPTED);
    if (decided === 'lost') return lost(run, dlog);
    // 'reopened': the lookup says it is certainly not there; the row is 'prepared' again and sent below.
    if (decided !== 'reopened') settlement = decided;
  }
  if (!settlement) {
    const holder = directory?.active ? await deps.ledger.holder(claim.jobId, directoryId) : undefined;
    if (!directory?.active) settlement = inactiveSkip();
    else if (directory.health?.paused) settlement = pausedSkip();
    else if (holder) settlement = heldSkip(holder);
    else settlement = await submitWithRetries(run, directory, submission.id, dlog);
  }
  if (!(await deps.ledger.settle(claim, directoryId, settlement))) return lost(run, dlog);
  // The listing's life after the click starts here (functions/lifecycle/); missed, the next recheck run enters it.
  if (settlement.status === 'submitted') await enterLifecycle(run, directoryId, dlog);
  run.job.progress.done = (run.job.progress.done ?? 0) + 1;
  deps.metrics.addMetric(`${METRIC_NAMES.submissionPrefix}${settlement.status}`, MetricUnit.Count, 1);
  deps.metrics.addMetric('DirectoryDuration', MetricUnit.Milliseconds, Date.now() - started);
  dlog.info('directory settled', {
    status: settlement.status,
    errorClass: settlement.errorClass ?? undefined,
    ms: Date.now() - started,
  });
  return true;
}

async function enterLifecycle(run: RunContext, directoryId: string, log: Logger): Promise<void> {
  await run.deps.lifecycle.enter(run.claim.jobId, directoryId).catch((err: unknown) => {
    log.warn('could not enter the listing lifecycle; the next recheck run does', {
      error: describeError(err).message,
    });
  });
}

function lost(run: RunContext, log: Logger): false {
  run.heartbeat.markLost();
  log.warn('the ledger refused the outcome: claim superseded');
  return false;
}

/** Skipped because the directory was deactivated while the job waited; a retry undoes it once it is back. */
function inactiveSkip(): Settlement {
  return { status: 'skipped', error: INACTIVE_MESSAGE, evidence: { skip: 'inactive' } };
}

/** Skipped because the directory is paused (its form drifted); a retry undoes it once it is unpaused. */
function pausedSkip(): Settlement {
  return { status: 'skipped', error: PAUSED_MESSAGE, evidence: { skip: 'directory_paused' } };
}

/** Skipped because another row holds this (customer, directory); it points at that row. */
function heldSkip(holder: Holder): Settlement {
  return { status: 'skipped', error: heldMessage(holder), evidence: { skip: 'held', heldBy: holder } };
}

async function submitWithRetries(
  run: RunContext,
  directory: Directory,
  submissionId: number,
  log: Logger,
): Promise<Settlement> {
  const { deps } = run;
  const { options } = deps;
  const typed = await typedProfile(run, directory);
  if ('refusal' in typed) return typed.refusal;
  let resent = false;
  for (let attempt = 1; ; attempt++) {
    // A retry is a new visit: none starts once the worker is stopping (the row stays 'prepared').
    if (attempt > 1) stopIfAsked(run);
    run.progress.step = attempt === 1 ? 'waiting for site' : `waiting for site (attempt ${attempt})`;
    const slot = await acquireSite(run, directory.site);
    const { outcome, held } = await attemptOnce(run, directory, submissionId, attempt, slot, typed.profile);
    if (held) return heldSkip(held);
    if (outcome.submitted && outcome.status === 'unknown') {
      // The click happened and its outcome is unclear (no indicator, a timeout, the browser died after it):
      // the same lookup as for an interrupted row, now, after the browser relaunched if it had to.
      // Certainly not there: sent again, once. Sent twice without a clear answer and still not there, the site
      // drops or holds posts: a person decides rather than this run sending it a third time.
      const decided = await resolveInDoubt(run, directory, log, afterClick(outcome, resent));
      if (decided === 'lost') return settlementOf(outcome, attempt);
      if (decided !== 'reopened')
        return { ...decided, evidence: { ...outcome.evidence, ...decided.evidence, attempts: attempt } };
      resent = true;
    } else {
      const retry = outcome.transient && !outcome.submitted && attempt <= options.transientRetries;
      if (!retry) return settlementOf(outcome, attempt);
    }
    deps.metrics.addMetric('DirectoryRetry', MetricUnit.Count, 1);
    const delay = backoffDelayMs(attempt, {
      baseMs: options.retryBaseDelayMs,
      maxMs: options.retryMaxDelayMs,
      ...(deps.random ? { random: deps.random } : {}),
    });
    log.info('retrying the directory', { attempt, errorClass: outcome.errorClass, delayMs: delay });
    run.progress.step = `backoff before attempt ${attempt + 1}`;
    await sleepUnlessStopping(run, delay);
  }
}

/**
 * The profile as this directory's form is given it: the customer's own, or, for a definition with
 * `emailMode: 'alias'`, with the e-mail replaced by the job's alias on the inbound mail domain, so the
 * directory's verification mail comes to formfleet (functions/mail/). A stage without the domain cannot
 * receive it: the directory fails with that reason before anything is typed.
 */
async function typedProfile(
  run: RunContext,
  directory: Directory,
): Promise<{ profile: Profile } | { refusal: Settlement }> {
  if (directory.definition.emailMode !== 'alias') return { profile: run.profile };
  const aliases = run.deps.mailAliases;
  if (!aliases) {
    return {
      refusal: {
        status: 'failed',
        errorClass: 'internal',
        error:
          'this directory types a per-job mail alias (emailMode alias), but the stage has no inbound mail domain (inboundMailDomain)',
        evidence: { emailMode: 'alias' },
      },
    };
  }
  const alias = await aliases.aliasFor(run.claim.jobId, directory.id);
  return { profile: { ...run.profile, email: aliasAddress(alias, aliases.domain) } };
}

function settlementOf(outcome: EngineOutcome, attempt: number): Settlement {
  return {
    status: outcome.status,
    errorClass: outcome.errorClass ?? null,
    error: outcome.error ?? null,
    evidence: { ...outcome.evidence, attempts: attempt },
  };
}

/**
 * One visit to the directory: a fresh context and the form. The visit holds the site's slot, and ends it: at
 * once if no context was opened, else once the context is closed, in the background (see endVisit). `held`
 * says the database refused the click because another row holds the (customer, directory): nothing was sent.
 */
async function attemptOnce(
  run: RunContext,
  directory: Directory,
  submissionId: number,
  attempt: number,
  slot: SiteSlot,
  profile: Profile,
): Promise<{ outcome: EngineOutcome; held?: Holder }> {
  const { deps, claim, progress, heartbeat, log } = run;
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
  /** The ledger's attempt number of this click (from `begin`). */
  let clickAttempt: number | undefined;
  let held: Holder | undefined;
  let broken = false;
  /** The result page's screenshot, taken before the context closes (see keepProof). */
  let resultShot: Promise<Capture> | undefined;
  try {
    const files = await uploadFiles(run, definition);
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
          try {
            clickAttempt = await deps.ledger.begin(claim, directory.id);
            began = clickAttempt !== undefined;
          } catch (err) {
            if (!(err instanceof SubmissionHeldError)) throw err;
            held = err.holder;
            return false;
          }
          return began;
        },
      },
      {
        stepTimeoutMs: deps.options.stepTimeoutMs,
        directoryTimeoutMs: deps.options.directoryTimeoutMs,
        ...(deps.evidence ? { proof: deps.evidence.options.capture } : {}),
        ...(directory.categoryMap ? { categoryMap: directory.categoryMap } : {}),
        ...(files ? { files } : {}),
      },
    );
    if (outcome.categoryOptions) await keepCategoryOptions(run, directory.id, outcome.categoryOptions);
    if (outcome.proof && clickAttempt !== undefined) {
      resultShot = keepProof(run, page, directory.id, submissionId, clickAttempt, outcome);
    }
    if (began && !outcome.submitted) {
      // The budget ran out between "submitting" and the click: nothing was sent, so the row may be retried.
      await deps.ledger.revert(claim, directory.id);
    }
    broken = Boolean(outcome.browserBroken) || !deps.browser.state().running;
    if (broken && !outcome.submitted && outcome.status === 'failed') outcome.transient = true;
    if (outcome.evidence.fallbackSelectors)
      deps.metrics.addMetric('SelectorFallbackUsed', MetricUnit.Count, 1);
    return held ? { outcome, held } : { outcome };
  } catch (err) {
    broken = true;
    const failure = classify(err);
    log.warn('directory attempt failed outside the form', {
      attempt,
      error: scrubProfile(describeError(err).message, profile),
    });
    return {
      outcome: {
        status: began ? 'unknown' : 'failed',
        errorClass: failure.errorClass,
        error: failure.message,
        transient: !began && failure.transient,
        submitted: began,
        evidence: { attempt },
      },
    };
  } finally {
    // The context closes once the result page's screenshot (if any) is taken, in the background.
    const closing = resultShot ? resultShot.then(() => lease.release({ broken })) : lease.release({ broken });
    await endVisit(run, directory.site, closing, slot);
  }
}

/**
 * The files the definition's `upload` steps set: none asked, undefined; the customer has no logo, none (an
 * optional step is skipped, a required one fails saying so); else the logo, read and checked once per job.
 */
async function uploadFiles(
  run: RunContext,
  definition: FormDefinition,
): Promise<EngineOptions['files'] | undefined> {
  if (!definition.steps.some((s) => s.action === 'upload')) return undefined;
  const { logo, deps } = run;
  if (!logo) return {};
  if (!deps.media) return { logo: 'this worker cannot read stored images' };
  run.job.logoFile ??= deps.media.file(run.claim.customerId, logo);
  try {
    return { logo: await run.job.logoFile };
  } catch (err) {
    run.job.logoFile = undefined; // an S3 error: the next directory (or attempt) asks again
    throw err;
  }
}

/**
 * Hands a click's proof to the evidence recorder, which records and uploads it in the background, and starts
 * the result page's screenshot on the page as it is (not when the directory's time ran out: the page is
 * closed then, and the proof says why). Returns the screenshot's promise, which never rejects.
 */
function keepProof(
  run: RunContext,
  page: Page,
  directoryId: string,
  submissionId: number,
  attempt: number,
  outcome: EngineOutcome,
): Promise<Capture> | undefined {
  const evidence = run.deps.evidence;
  const proof = outcome.proof;
  if (!evidence || !proof) return undefined;
  const result: Promise<Capture> = proof.resultPageOpen
    ? captureScreenshot(page, evidence.options.capture)
    : Promise.resolve({ taken: false, reason: 'the page was closed: the directory’s time ran out' });
  evidence.keep({
    jobId: run.claim.jobId,
    customerId: run.claim.customerId,
    directoryId,
    submissionId,
    attempt,
    proof,
    result,
  });
  return result;
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

/**
 * The site's politeness slot, once this worker's own last visit to it (if still ending) has ended. A stop
 * ends the wait when `interruptible` (the slot, if it comes later, is handed straight back).
 */
async function acquireSite(run: RunContext, site: string, interruptible = true): Promise<SiteSlot> {
  if (run.visitEnding?.site === site) await visitEnded(run);
  if (interruptible) stopIfAsked(run);
  const acquiring = run.deps.politeness.acquire(site, {
    holder: run.deps.workerId,
    maxWaitMs: run.deps.options.siteWaitMaxMs,
  });
  const signal = run.deps.shutdown;
  if (!signal || !interruptible) return acquiring;
  const stopped = untilAborted(signal);
  try {
    const first = await Promise.race([acquiring, stopped.promise]);
    if (first === STOPPED) {
      void acquiring.then((slot) => slot.release()).catch(() => {});
      throw new StopRequestedError();
    }
    return first;
  } finally {
    stopped.dispose();
  }
}

const STOPPED = Symbol('stopped');

/** A promise that resolves when `signal` aborts, and a way to stop listening. */
function untilAborted(signal: AbortSignal): { promise: Promise<typeof STOPPED>; dispose(): void } {
  let onAbort = () => {};
  const promise = new Promise<typeof STOPPED>((resolve) => {
    onAbort = () => resolve(STOPPED);
    if (signal.aborted) resolve(STOPPED);
    else signal.addEventListener('abort', onAbort, { once: true });
  });
  return { promise, dispose: () => signal.removeEventListener('abort', onAbort) };
}

async function sleepUnlessStopping(run: RunContext, ms: number): Promise<void> {
  const signal = run.deps.shutdown;
  if (!signal) {
    await sleep(ms);
    return;
  }
  const stopped = untilAborted(signal);
  try {
    await Promise.race([sleep(ms), stopped.promise]);
  } finally {
    stopped.dispose();
  }
  stopIfAsked(run);
}

/** Why a row is in doubt, for the row's error if it cannot be decided. */
interface DoubtOrigin {
  /** Names the row's story in its error: "a previous worker stopped mid-submission", "...". */
  what: string;
  /** This run's own click: the lookup finishes the directory in flight, so a stop does not prevent it. */
  inFlight: boolean;
  /** Whether "certainly not there" may send it (again); otherwise that answer too is for a person. */
  mayReopen: boolean;
  evidence: Record<string, unknown>;
  errorClass?: EngineOutcome['errorClass'];
}

const INTERRUPTED: DoubtOrigin = {
  what: 'an earlier run may have sent it (it stopped mid-submission, or the row was retried after ending unknown)',
  evidence: { interrupted: true },
  inFlight: false,
  mayReopen: true,
};

function afterClick(outcome: EngineOutcome, resent: boolean): DoubtOrigin {
  return {
    what: resent
      ? `it was submitted twice, each time without a clear outcome (${outcome.error ?? 'no answer'})`
      : `it was submitted but the outcome is unclear (${outcome.error ?? 'no answer'})`,
    evidence: resent ? { resent: true } : {},
    inFlight: true,
    mayReopen: !resent,
    ...(outcome.errorClass ? { errorClass: outcome.errorClass } : {}),
  };
}

/**
 * The one decision for a row that may have been sent (see the module comment): looks it up with the
 * directory's `verify` and settles it, or reopens it ('prepared') when the listing is certainly not there.
 * 'lost' when the claim was superseded meanwhile. Never sends anything.
 */
async function resolveInDoubt(
  run: RunContext,
  directory: Directory | undefined,
  log: Logger,
  origin: DoubtOrigin,
): Promise<Settlement | 'reopened' | 'lost'> {
  const unknown = (why: string, verification?: VerificationResult): Settlement => ({
    status: 'unknown',
    errorClass: origin.errorClass ?? 'internal',
    error: `${origin.what}; ${why}; not resubmitted: a person should check the directory (a retry looks it up first)`,
    evidence: { ...origin.evidence, ...(verification ? { verification } : {}) },
  });
  if (!directory) return unknown('the directory no longer exists');
  if (!directory.active) return unknown('the directory is inactive, so it was not looked up');
  if (!directory.definition.verify) return unknown('the directory offers no way to check');
  // Stopping: the lookup that finishes the directory in flight still runs while its browser does; no other
  // starts, and the row stays in doubt ('submitting' / 'unverified') for the next run to look up.
  const finishing = origin.inFlight && run.deps.browser.state().running;
  if (!finishing) stopIfAsked(run);
  const check = await lookUp(run, directory, log, finishing);
  run.deps.metrics.addMetric(`Verification_${check.result}`, MetricUnit.Count, 1);
  log.info('looked up a submission in doubt', { verification: check.result });
  const evidence = { ...origin.evidence, verification: check.result, lookedUpAt: new Date().toISOString() };
  switch (check.result) {
    case 'found':
      // The lookup is the evidence: submitted, without (another) click.
      return { status: 'submitted', evidence };
    case 'not_found':
      if (!origin.mayReopen) return unknown('the listing page still says it is not there', 'not_found');
      return (await run.deps.ledger.reopen(run.claim, directory.id, evidence)) ? 'reopened' : 'lost';
    case 'mismatch':
      return unknown(check.error ?? 'a listing by this name belongs to another business', 'mismatch');
    default:
      return unknown(
        `the listing lookup was inconclusive${check.error ? ` (${check.error})` : ''}`,
        'inconclusive',
      );
  }
}

/** One lookup on the directory's listing page, in its own browser context, holding the site's slot. */
async function lookUp(
  run: RunContext,
  directory: Directory,
  log: Logger,
  finishing: boolean,
): Promise<{ result: VerificationResult; error?: string }> {
  const { deps, profile } = run;
  run.progress.step = 'verify';
  run.progress.stepSince = new Date().toISOString();
  ensureTime(run, deps.options.verifyTimeoutMs);
  const slot = await acquireSite(run, directory.site, !finishing);
  let lease: BrowserLease;
  try {
    lease = await deps.browser.acquire();
  } catch (err) {
    await slot.release();
    log.warn('verification could not get a browser', { error: describeError(err).message });
    return { result: 'inconclusive', error: 'no browser for the lookup' };
  }
  let broken = false;
  try {
    return await verifyListing(
      await lease.newPage(),
      directory.definition,
      profile,
      deps.options.verifyTimeoutMs,
    );
  } catch (err) {
    broken = true;
    log.warn('verification failed', { error: scrubProfile(describeError(err).message, profile) });
    return { result: 'inconclusive', error: 'the lookup failed' };
  } finally {
    await endVisit(run, directory.site, lease.release({ broken }), slot);
  }
}

/** Throws OutOfTimeError when the invocation cannot give `ms` (plus its margin) to one more step. */
function ensureTime(run: RunContext, ms: number): void {
  const available = run.context.getRemainingTimeInMillis() - run.deps.options.invocationMarginMs;
  if (available < ms) {
    throw new OutOfTimeError(`only ${available} ms of this invocation left to look a listing up`);
  }
}

/**
 * Keeps what the directory's category select offered (one UPDATE): an observation for the operator (GET
 * /v1/directories/{id}/categories), never a reason to fail the submission.
 */
async function keepCategoryOptions(
  run: RunContext,
  directoryId: string,
  options: SelectOption[],
): Promise<void> {
  await run.deps.categoryOptions
    ?.recordCategoryOptions(directoryId, options, 'submission')
    .catch((err: unknown) => {
      run.log.warn('could not keep the category options seen', {
        directoryId,
        error: describeError(err).message,
      });
    });
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
  progress: () => JobProgress,
  log: Logger,
  state: ProcessState,
): Heartbeat {
  let lost = false;
  let running: Promise<void> | undefined;
  const beat = async () => {
    if (lost) return;
    if (!(await deps.jobs.heartbeat(claim, progress()))) {
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
