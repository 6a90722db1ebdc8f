/**
 * directory-health (EventBridge, every DIRECTORY_HEALTH.runIntervalSeconds): keeps each active directory's
 * health. A run first pauses every directory whose last DIRECTORY_HEALTH.driftSubmissions real submissions
 * all failed with selector_drift, then dry-runs the directories whose daily check is due (never checked
 * first), one after another, each on one polite visit (the lifecycle's visitSite: the site's site_visits
 * lease, as jobs, rechecks and the probes API take, so a check never visits a site a job is on), with the
 * probes' dry run (functions/directories/dry-run.ts): up to, never including, the submit. What it saw is
 * recorded (ok; drift at step N since when; error when it could not tell), and a drift pauses the directory
 * with one alert (health-store.ts). Jobs skip a paused directory (skipped, directory_paused) until an admin
 * unpauses it. The run then publishes waiting alerts from the outbox.
 *
 * Bounded: at most maxChecksPerRun dry runs, and none starts without time left for it; a directory whose site
 * stayed busy, or one not reached, stays due for the next run.
 */
import type { Context } from 'aws-lambda';
import type { AlertOutbox } from '#functions/alerts/alert-outbox';
import type { Alerts } from '#functions/alerts/alerts';
import { type SiteVisitPorts, visitSite } from '#functions/lifecycle/site-visit';
import type { CapturePolicy } from '#functions/worker/evidence-capture';
import { DefinitionError, parseFormDefinition } from '#functions/worker/form-definition';
import { SiteBusyError } from '#functions/worker/site-politeness';
import type { Directory, DirectoryStore } from '#shared/directory-store';
import { describeError, type Logger, type Metrics, MetricUnit } from '#shared/telemetry';
import { type DryRun, dryRun } from './dry-run.ts';
import type { DirectoryHealthStore, HealthCheck } from './health-store.ts';
import { SAMPLE_PROFILE } from './sample-profile.ts';
import type { ScreenshotStore } from './screenshots.ts';

export interface HealthOptions {
  checkIntervalSeconds: number;
  maxChecksPerRun: number;
  driftSubmissions: number;
  siteWaitMaxMs: number;
  /** The dry run's budgets (the probes'). */
  stepTimeoutMs: number;
  directoryTimeoutMs: number;
  transientRetries: number;
  retryDelayMs: number;
  screenshots: CapturePolicy;
  /** The run's budget when no Lambda context gives one (the local scheduler): the function's timeout. */
  runBudgetMs: number;
}

export interface HealthDeps extends Omit<SiteVisitPorts, 'siteWaitMaxMs'> {
  store: DirectoryHealthStore;
  directories: Pick<DirectoryStore, 'getMany'>;
  outbox: Pick<AlertOutbox, 'flush'>;
  alerts: Alerts;
  logger: Logger;
  metrics: Metrics;
  options: HealthOptions;
  now?: () => Date;
  /** Aborted when the process is asked to stop: no new dry run starts. */
  shutdown?: AbortSignal;
}

export interface HealthReport {
  checked: number;
  ok: number;
  drift: number;
  /** Checks that could not tell (site down, a captcha, a login wall, a timeout). */
  error: number;
  /** Directories paused by this run (a drifting dry run, or drift failures of real submissions). */
  paused: string[];
  /** Due directories left for the next run (site busy, out of time, stopping). */
  postponed: number;
}

export type HealthHandler = (
  event?: unknown,
  context?: Pick<Context, 'getRemainingTimeInMillis'>,
) => Promise<HealthReport>;

/** A health check keeps no screenshot: the API's dry run is there for a person who wants to look. */
const NO_SCREENSHOTS: ScreenshotStore = {
  keep: async (label) => ({ label, taken: false, reason: 'the daily health check keeps no screenshot' }),
};

/** Time to record a check after its dry run. */
const RECORD_MARGIN_MS = 5_000;

/** What a dry run says about a directory's health. */
export function verdict(run: DryRun): HealthCheck {
  if (run.outcome === 'ready')
    return { status: 'ok', outcome: run.outcome, driftStep: null, driftDetail: null };
  if (run.outcome === 'drift') {
    const step = run.steps.find((s) => s.step === run.driftStep);
    const what = step ? `${step.action}${step.field ? ` ${step.field}` : ''}` : 'a step';
    return {
      status: 'drift',
      outcome: run.outcome,
      driftStep: run.driftStep,
      driftDetail: `the daily dry run found step ${(run.driftStep ?? 0) + 1} (${what}) missing: the site changed its form`,
    };
  }
  return { status: 'error', outcome: run.outcome, driftStep: null, driftDetail: null };
}

export function makeDirectoryHealthHandler(deps: HealthDeps): HealthHandler {
  const { options, logger: log } = deps;
  const now = deps.now ?? (() => new Date());
  const visits: SiteVisitPorts = { ...deps, siteWaitMaxMs: options.siteWaitMaxMs };
  const checkNeedsMs = options.siteWaitMaxMs + options.directoryTimeoutMs + RECORD_MARGIN_MS;

  async function check(directory: Directory): Promise<HealthCheck | 'busy'> {
    let definition: ReturnType<typeof parseFormDefinition>;
    try {
      definition = parseFormDefinition(directory.definition);
    } catch (err) {
      if (!(err instanceof DefinitionError)) throw err;
      return { status: 'error', outcome: 'error', driftStep: null, driftDetail: null };
    }
    try {
      const run = await dryRun(
        (look) => visitSite(visits, directory.site, look),
        definition,
        SAMPLE_PROFILE,
        {
          stepTimeoutMs: options.stepTimeoutMs,
          directoryTimeoutMs: options.directoryTimeoutMs,
          transientRetries: options.transientRetries,
          retryDelayMs: options.retryDelayMs,
          screenshots: options.screenshots,
          store: NO_SCREENSHOTS,
        },
      );
      return verdict(run);
    } catch (err) {
      if (err instanceof SiteBusyError) return 'busy';
      throw err;
    }
  }

  return async function directoryHealth(_event, context) {
    const started = Date.now();
    const budgetMs = Math.min(
      options.runBudgetMs,
      context?.getRemainingTimeInMillis() ?? Number.POSITIVE_INFINITY,
    );
    const timeLeft = () => budgetMs - (Date.now() - started) >= checkNeedsMs;
    const report: HealthReport = { checked: 0, ok: 0, drift: 0, error: 0, paused: [], postponed: 0 };
    try {
      report.paused.push(...(await deps.store.pauseDriftingSubmissions(options.driftSubmissions, now())));
      const due = await deps.store.due(now(), options.checkIntervalSeconds, options.maxChecksPerRun);
      const directories = await deps.directories.getMany(due);
      for (const directory of directories) {
        if (deps.shutdown?.aborted || !timeLeft()) {
          report.postponed += 1;
          continue;
        }
        let result: HealthCheck | 'busy';
        try {
          result = await check(directory);
        } catch (err) {
          // The browser failed (not the site): the pool relaunches it; the directory stays due.
          log.warn('health check failed', { directoryId: directory.id, error: describeError(err).name });
          report.postponed += 1;
          continue;
        }
        if (result === 'busy') {
          report.postponed += 1;
          continue;
        }
        const { paused } = await deps.store.record(directory.id, result, now());
        report.checked += 1;
        report[result.status] += 1;
        if (paused) report.paused.push(directory.id);
        deps.metrics.addMetric(`DirectoryHealth_${result.status}`, MetricUnit.Count, 1);
        if (result.status !== 'ok')
          log.info('directory health', { directoryId: directory.id, ...result, paused });
      }
      if (report.paused.length > 0) {
        deps.metrics.addMetric('DirectoryPaused', MetricUnit.Count, report.paused.length);
        log.warn('directories paused', { paused: report.paused });
      }
      const flushed = await deps.outbox.flush(deps.alerts);
      if (flushed.error)
        log.warn('alerts wait in the outbox', { pending: flushed.pending, error: flushed.error });
      if (report.checked + report.postponed + report.paused.length > 0)
        log.info('directory health run', { ...report });
      return report;
    } finally {
      deps.metrics.publishStoredMetrics();
    }
  };
}
