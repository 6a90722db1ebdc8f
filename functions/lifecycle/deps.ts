/**
 * Builds recheck-listings' real adapters from its environment: the one wiring point for Lambda and local. In
 * Lambda it is a Chromium function of its own (a BrowserPool like the worker's, browserPoolFromEnv); the
 * local runtime hands it the worker's pool, so both visit through one browser as they would through one
 * image. Politeness is the worker's site_visits lease either way.
 */
import { hostname } from 'node:os';
import type { BrowserPool } from '#functions/worker/browser-pool';
import { browserPoolFromEnv, sitePolitenessFromEnv } from '#functions/worker/deps';
import { LIFECYCLE, WORKER } from '#policy';
import { PgCustomerStore } from '#shared/customer-store';
import { databaseFromEnv } from '#shared/database-config';
import type { Database } from '#shared/db';
import { PgDirectoryStore } from '#shared/directory-store';
import { type Env, intEnv } from '#shared/env';
import { createLogger, createMetrics } from '#shared/telemetry';
import { PgListingLifecycle } from './listing-lifecycle.ts';
import { type RecheckDeps, type RecheckOptions, systemClock } from './recheck.ts';
import { lifecycleSpeedUp, lifecycleTimingFromEnv } from './timing.ts';

export function recheckOptionsFromEnv(env: Env): RecheckOptions {
  const speedUp = lifecycleSpeedUp(env);
  return {
    ...lifecycleTimingFromEnv(env),
    claimBatch: LIFECYCLE.claimBatch,
    maxLookupsPerRun: LIFECYCLE.maxLookupsPerRun,
    lanes: LIFECYCLE.lanes,
    claimLeaseSeconds: LIFECYCLE.claimLeaseSeconds,
    busyRetrySeconds: LIFECYCLE.busyRetrySeconds / speedUp,
    siteWaitMaxMs: LIFECYCLE.siteWaitMaxMs,
    enterBatch: LIFECYCLE.enterBatch,
    // The worker's lookup budget: a recheck is the same lookup.
    verifyTimeoutMs: intEnv(env, 'VERIFY_TIMEOUT_MS', WORKER.verifyTimeoutMs),
    runBudgetMs: LIFECYCLE.recheckTimeoutSeconds * 1000,
  };
}

export async function recheckDepsFromEnv(
  env: Env,
  sharedDb?: Database,
  shared: { browser?: BrowserPool } = {},
): Promise<RecheckDeps> {
  const options = recheckOptionsFromEnv(env);
  const db = sharedDb ?? (await databaseFromEnv(env, 'formfleet-recheck-listings'));
  const logger = createLogger('recheck-listings');
  const metrics = createMetrics('recheck-listings', logger);
  return {
    lifecycle: new PgListingLifecycle(db, options),
    customers: new PgCustomerStore(db),
    directories: new PgDirectoryStore(db),
    browser: shared.browser ?? browserPoolFromEnv(env, logger, metrics),
    politeness: sitePolitenessFromEnv(env, db),
    holder: `recheck:${env.AWS_LAMBDA_LOG_STREAM_NAME ?? hostname()}:${process.pid}`,
    clock: systemClock,
    logger,
    metrics,
    options,
  };
}
