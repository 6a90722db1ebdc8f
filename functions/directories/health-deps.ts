/**
 * Builds directory-health's real adapters from its environment: the one wiring point for Lambda and local.
 * In Lambda it is a Chromium function of its own (browserPoolFromEnv, as recheck-listings); the local runtime
 * hands it the worker's pool. Politeness is the worker's site_visits lease either way.
 */
import { hostname } from 'node:os';
import { PgAlertOutbox } from '#functions/alerts/alert-outbox';
import { alertsFromEnv } from '#functions/alerts/alerts';
import type { BrowserPool } from '#functions/worker/browser-pool';
import { browserPoolFromEnv, sitePolitenessFromEnv } from '#functions/worker/deps';
import { DIRECTORY_HEALTH, EVIDENCE, PROBES } from '#policy';
import { databaseFromEnv } from '#shared/database-config';
import type { Database } from '#shared/db';
import { PgDirectoryStore } from '#shared/directory-store';
import type { Env } from '#shared/env';
import { createLogger, createMetrics } from '#shared/telemetry';
import type { HealthDeps, HealthOptions } from './health.ts';
import { PgDirectoryHealthStore } from './health-store.ts';

export const HEALTH_OPTIONS: HealthOptions = {
  checkIntervalSeconds: DIRECTORY_HEALTH.checkIntervalSeconds,
  maxChecksPerRun: DIRECTORY_HEALTH.maxChecksPerRun,
  driftSubmissions: DIRECTORY_HEALTH.driftSubmissions,
  siteWaitMaxMs: DIRECTORY_HEALTH.siteWaitMaxMs,
  stepTimeoutMs: PROBES.stepTimeoutMs,
  directoryTimeoutMs: PROBES.directoryTimeoutMs,
  transientRetries: PROBES.transientRetries,
  retryDelayMs: PROBES.retryDelayMs,
  screenshots: EVIDENCE,
  runBudgetMs: DIRECTORY_HEALTH.timeoutSeconds * 1000,
};

export async function healthDepsFromEnv(
  env: Env,
  sharedDb?: Database,
  shared: { browser?: BrowserPool } = {},
): Promise<HealthDeps> {
  const db = sharedDb ?? (await databaseFromEnv(env, 'formfleet-directory-health'));
  const logger = createLogger('directory-health');
  const metrics = createMetrics('directory-health', logger);
  const outbox = new PgAlertOutbox(db);
  return {
    store: new PgDirectoryHealthStore(db, outbox),
    directories: new PgDirectoryStore(db),
    outbox,
    alerts: alertsFromEnv(env),
    browser: shared.browser ?? browserPoolFromEnv(env, logger, metrics),
    politeness: sitePolitenessFromEnv(env, db),
    holder: `health:${env.AWS_LAMBDA_LOG_STREAM_NAME ?? hostname()}:${process.pid}`,
    logger,
    metrics,
    options: HEALTH_OPTIONS,
  };
}
