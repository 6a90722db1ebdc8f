/**
 * recheck-listings (EventBridge, every LIFECYCLE.recheckIntervalSeconds): follows each submitted listing
 * after the click. A run first enters into the lifecycle any submitted row not in it yet (bounded), then
 * claims the listings whose recheck is due in small batches (FOR UPDATE SKIP LOCKED, leased), looks each up
 * with its directory definition's `verify` (verifyListing, verify.match and verify.listingUrl included) on a
 * polite visit (site-visit.ts: the worker's browser pool and per-site politeness), and records what the
 * lookup decided (lifecycle-rules.ts) in one fenced statement with its job event.
 *
 * Bounded: at most maxLookupsPerRun lookups, `lanes` at once on different sites, and no lookup starts
 * without time left for it in the run's budget (the Lambda's remaining time); a row not reached is given
 * back due at once, a row whose site stayed busy is given back for later, unchanged. Time for the
 * lifecycle's ages comes from `clock` (tests drive it); time for the run's own budget is the real one.
 */
import type { Context } from 'aws-lambda';
import { verifyListing } from '#functions/worker/form-engine';
import { SiteBusyError } from '#functions/worker/site-politeness';
import type { CustomerStore } from '#shared/customer-store';
import type { Directory, DirectoryStore } from '#shared/directory-store';
import type { ListingState } from '#shared/submission-ledger';
import { describeError, type Logger, type Metrics, MetricUnit } from '#shared/telemetry';
import { afterLookup, type LifecycleTiming, type LookupAnswer } from './lifecycle-rules.ts';
import type { DueListing, ListingLifecycle } from './listing-lifecycle.ts';
import { type SiteVisitPorts, visitSite } from './site-visit.ts';

/** The time the lifecycle's ages are measured in. */
export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };

export interface RecheckOptions extends LifecycleTiming {
  claimBatch: number;
  maxLookupsPerRun: number;
  lanes: number;
  claimLeaseSeconds: number;
  busyRetrySeconds: number;
  siteWaitMaxMs: number;
  enterBatch: number;
  verifyTimeoutMs: number;
  /** The run's budget when no Lambda context gives one (the local scheduler): the function's timeout. */
  runBudgetMs: number;
}

export interface RecheckDeps extends Omit<SiteVisitPorts, 'siteWaitMaxMs'> {
  lifecycle: ListingLifecycle;
  customers: Pick<CustomerStore, 'get'>;
  directories: Pick<DirectoryStore, 'getMany'>;
  clock: Clock;
  logger: Logger;
  metrics: Metrics;
  options: RecheckOptions;
  /** Aborted when the process is asked to stop: no new lookup starts; claimed rows are given back. */
  shutdown?: AbortSignal;
}

export interface RecheckReport {
  /** Submitted rows entered into the lifecycle by this run. */
  entered: number;
  /** Lookups recorded. */
  lookedUp: number;
  /** Changes of state, by the state moved to. */
  moved: Partial<Record<ListingState, number>>;
  /** Claimed rows given back unlooked-up (site busy, out of time, stopping). */
  postponed: number;
  /** Lookups whose row had changed meanwhile (another run recorded it first): nothing written. */
  refused: number;
}

export type RecheckHandler = (
  event?: unknown,
  context?: Pick<Context, 'getRemainingTimeInMillis'>,
) => Promise<RecheckReport>;

/** Time a lookup may need from its start: the site wait, the lookup, and a margin to record it. */
const RECORD_MARGIN_MS = 5_000;

export function makeRecheckListingsHandler(deps: RecheckDeps): RecheckHandler {
  const { options, logger: log } = deps;
  const visits: SiteVisitPorts = { ...deps, siteWaitMaxMs: options.siteWaitMaxMs };
  const lookupNeedsMs = options.siteWaitMaxMs + options.verifyTimeoutMs + RECORD_MARGIN_MS;

  /** The lookup of one listing, or 'busy' when its site stayed busy. Never throws for a site's fault. */
  async function lookUp(row: DueListing, directory: Directory | undefined): Promise<LookupAnswer | 'busy'> {
    if (!directory) return { result: 'no_lookup', error: 'the directory no longer exists' };
    if (!directory.definition.verify)
      return { result: 'no_lookup', error: 'the directory offers no lookup (its definition has no verify)' };
    if (!directory.active)
      return { result: 'inconclusive', error: 'the directory is inactive, so it was not looked up' };
    const profile = await deps.customers.get(row.customerId);
    if (!profile) return { result: 'no_lookup', error: 'the customer no longer exists' };
    try {
      const found = await visitSite(visits, directory.site, (page) =>
        verifyListing(page, directory.definition, profile, options.verifyTimeoutMs),
      );
      return { result: found.result, error: found.error, listingUrl: found.listingUrl };
    } catch (err) {
      if (err instanceof SiteBusyError) return 'busy';
      // The browser failed (not the site): the pool relaunches it; the lookup counts as inconclusive.
      log.warn('listing lookup failed', { directoryId: row.directoryId, error: describeError(err).name });
      return { result: 'inconclusive', error: 'the lookup failed (browser)' };
    }
  }

  return async function recheckListings(_event, context) {
    const started = Date.now();
    const budgetMs = Math.min(
      options.runBudgetMs,
      context?.getRemainingTimeInMillis() ?? Number.POSITIVE_INFINITY,
    );
    const timeLeft = () => budgetMs - (Date.now() - started) >= lookupNeedsMs;
    const stopping = () => deps.shutdown?.aborted === true;
    const report: RecheckReport = { entered: 0, lookedUp: 0, moved: {}, postponed: 0, refused: 0 };

    async function giveBack(row: DueListing, dueAt: Date): Promise<void> {
      await deps.lifecycle.release(row, dueAt);
      report.postponed += 1;
    }

    async function recheck(row: DueListing, directory: Directory | undefined): Promise<void> {
      if (stopping() || !timeLeft()) return giveBack(row, deps.clock.now());
      const answer = await lookUp(row, directory);
      const now = deps.clock.now();
      if (answer === 'busy') return giveBack(row, at(now, options.busyRetrySeconds));
      deps.metrics.addMetric(`ListingLookup_${answer.result}`, MetricUnit.Count, 1);
      const step = afterLookup(row, answer, now, options);
      if (!(await deps.lifecycle.record(row, step, now))) {
        report.refused += 1;
        log.warn('listing changed during its lookup; another run recorded it', {
          directoryId: row.directoryId,
          jobId: row.jobId,
        });
        return;
      }
      report.lookedUp += 1;
      if (step.to !== row.lifecycle) {
        report.moved[step.to] = (report.moved[step.to] ?? 0) + 1;
        deps.metrics.addMetric(`Listing_${step.to}`, MetricUnit.Count, 1);
        log.info('listing moved', {
          jobId: row.jobId,
          directoryId: row.directoryId,
          from: row.lifecycle,
          to: step.to,
        });
      }
    }

    try {
      report.entered = await deps.lifecycle.enterMissing(options.enterBatch);
      let claimed = 0;
      while (claimed < options.maxLookupsPerRun && timeLeft() && !stopping()) {
        const batch = await deps.lifecycle.claimDue(
          deps.clock.now(),
          Math.min(options.claimBatch, options.maxLookupsPerRun - claimed),
          options.claimLeaseSeconds,
        );
        if (batch.length === 0) break;
        claimed += batch.length;
        const directories = await deps.directories.getMany([...new Set(batch.map((r) => r.directoryId))]);
        const byId = new Map(directories.map((d) => [d.id, d]));
        await inLanes(
          batch,
          options.lanes,
          (row) => byId.get(row.directoryId)?.site ?? `?${row.directoryId}`,
          (row) =>
            recheck(row, byId.get(row.directoryId)).catch(async (err: unknown) => {
              // A database error on one row: the row's lease brings it back; the run goes on with the others.
              log.error('listing recheck failed', {
                directoryId: row.directoryId,
                error: describeError(err),
              });
            }),
        );
      }
      if (report.lookedUp + report.entered + report.postponed + report.refused > 0)
        log.info('listings rechecked', { ...report });
      return report;
    } finally {
      deps.metrics.publishStoredMetrics();
    }
  };
}

/**
 * Runs `work` over `rows` with at most `lanes` at once, never two rows of one site at once: each lane takes
 * a whole site's rows in turn (politeness would serialise them anyway, costing a lane its wait).
 */
async function inLanes<R>(
  rows: readonly R[],
  lanes: number,
  siteOf: (row: R) => string,
  work: (row: R) => Promise<void>,
): Promise<void> {
  const bySite = new Map<string, R[]>();
  for (const row of rows) bySite.set(siteOf(row), [...(bySite.get(siteOf(row)) ?? []), row]);
  const groups = [...bySite.values()];
  const lane = async () => {
    for (let group = groups.shift(); group; group = groups.shift()) {
      for (const row of group) await work(row);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(lanes, groups.length)) }, lane));
}

const at = (from: Date, seconds: number) => new Date(from.getTime() + seconds * 1000);
