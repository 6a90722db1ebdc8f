/**
 * Builds mail-inbound's real adapters from its environment: the one wiring point for Lambda and local. Like
 * recheck-listings, a Chromium function of its own in Lambda (browserPoolFromEnv, behind the network guard);
 * the local runtime hands it the worker's pool. Politeness is the worker's site_visits lease either way.
 */
import { hostname } from 'node:os';
import { PgListingLifecycle } from '#functions/lifecycle/listing-lifecycle';
import { systemClock } from '#functions/lifecycle/recheck';
import { lifecycleTimingFromEnv } from '#functions/lifecycle/timing';
import type { BrowserPool } from '#functions/worker/browser-pool';
import { browserPoolFromEnv, sitePolitenessFromEnv } from '#functions/worker/deps';
import { ASYNC_INVOKE, MAIL } from '#policy';
import { databaseFromEnv } from '#shared/database-config';
import type { Database } from '#shared/db';
import { PgDirectoryStore } from '#shared/directory-store';
import { type Env, intEnv, requireEnv } from '#shared/env';
import { recordsPrefix, recordsStoreFromEnv } from '#shared/object-store';
import { createLogger, createMetrics } from '#shared/telemetry';
import type { MailInboundDeps, MailInboundOptions } from './inbound.ts';
import { PgMailStore } from './mail-store.ts';

export function mailInboundOptionsFromEnv(env: Env): MailInboundOptions {
  const { INBOUND_MAIL_DOMAIN } = requireEnv(env, ['INBOUND_MAIL_DOMAIN', 'RECORDS_BUCKET']);
  return {
    domain: INBOUND_MAIL_DOMAIN,
    prefix: recordsPrefix('mail'),
    maxBytes: intEnv(env, 'MAIL_MAX_BYTES', MAIL.maxBytes),
    maxLinks: MAIL.maxLinks,
    visitTimeoutMs: MAIL.visitTimeoutMs,
    siteWaitMaxMs: MAIL.siteWaitMaxMs,
    // Lambda's asynchronous invocation: the first try and its retries (the SES Lambda action is 'Event').
    maxTries: intEnv(env, 'MAIL_MAX_TRIES', ASYNC_INVOKE.mailRetryAttempts + 1),
  };
}

export async function mailInboundDepsFromEnv(
  env: Env,
  sharedDb?: Database,
  shared: { browser?: BrowserPool } = {},
): Promise<MailInboundDeps> {
  const options = mailInboundOptionsFromEnv(env);
  const db = sharedDb ?? (await databaseFromEnv(env, 'formfleet-mail-inbound'));
  const logger = createLogger('mail-inbound');
  const metrics = createMetrics('mail-inbound', logger);
  return {
    store: new PgMailStore(db),
    objects: recordsStoreFromEnv(env),
    directories: new PgDirectoryStore(db),
    lifecycle: new PgListingLifecycle(db, lifecycleTimingFromEnv(env)),
    browser: shared.browser ?? browserPoolFromEnv(env, logger, metrics),
    politeness: sitePolitenessFromEnv(env, db),
    holder: `mail:${env.AWS_LAMBDA_LOG_STREAM_NAME ?? hostname()}:${process.pid}`,
    clock: systemClock,
    logger,
    metrics,
    options,
  };
}
