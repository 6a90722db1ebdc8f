/**
 * The probes API (dry runs, discovery) over a test database, a records bucket on moto and a browser pool
 * whose network guard lets in the fixture sites: what the onboarding tests call as Lambda calls it.
 */
import { makeProbesApi, type ProbeOptions } from '#functions/api/probes';
import type { ApiHandler } from '#functions/api/router';
import type { BrowserPool } from '#functions/worker/browser-pool';
import { PgSitePoliteness } from '#functions/worker/site-politeness';
import { EVIDENCE } from '#policy';
import { PgCustomerStore } from '#shared/customer-store';
import type { Sql } from '#shared/db';
import { PgDirectoryStore } from '#shared/directory-store';
import { baseDeps } from './api.ts';
import type { TestRecords } from './records.ts';

/** Short budgets for the fixture sites on loopback (policy PROBES is for real sites). */
export const TEST_PROBE_OPTIONS: ProbeOptions = {
  stepTimeoutMs: 3_000,
  directoryTimeoutMs: 10_000,
  transientRetries: 2,
  retryDelayMs: 200,
  siteWaitMaxMs: 1_000,
  presignedUrlSeconds: 600,
  uploadTimeoutMs: 5_000,
  screenshots: EVIDENCE,
  formWaitMs: 3_000,
  maxPages: 5,
  screenshotsPerProbe: 5,
};

export function testProbesApi(
  db: Sql,
  browser: BrowserPool,
  records: TestRecords,
  options: Partial<ProbeOptions> = {},
): ApiHandler {
  return makeProbesApi({
    ...baseDeps(db),
    directories: new PgDirectoryStore(db),
    customers: new PgCustomerStore(db),
    // No minimum gap between visits: the tests visit each site many times in a row.
    visits: { browser, politeness: new PgSitePoliteness(db, 0), holder: 'probe:test' },
    objects: records.store,
    options: { ...TEST_PROBE_OPTIONS, ...options },
  });
}
