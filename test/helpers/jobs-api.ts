/**
 * The jobs and customers API handlers on a real Postgres, as Lambda runs them, with directories to name and
 * an in-test queue port that records what was sent (the SQS adapter is proven on moto elsewhere).
 */
import { makeCustomersApi } from '#functions/api/customers';
import { PgJobQueries } from '#functions/api/job-queries';
import { makeJobsApi } from '#functions/api/jobs';
import type { ApiHandler } from '#functions/api/router';
import { simpleForm } from '#local/fixtures/sites';
import { PgBrandStore } from '#shared/brand-store';
import { PgCustomerStore } from '#shared/customer-store';
import type { Sql } from '#shared/db';
import { PgDirectoryStore } from '#shared/directory-store';
import type { JobQueue } from '#shared/job-queue';
import { PgJobStore } from '#shared/job-store';
import { PgSubmissionLedger } from '#shared/submission-ledger';
import { baseDeps } from './api.ts';
import { mediaDepsOn, proofLinksOn } from './records.ts';

export interface DirectorySpec {
  id: string;
  tier?: number;
  domainAuthority?: number;
  active?: boolean;
}

export interface JobsApiBench {
  jobsApi: ApiHandler;
  customersApi: ApiHandler;
  jobs: PgJobStore;
  ledger: PgSubmissionLedger;
  directories: PgDirectoryStore;
}

export async function jobsApiOn(
  db: Sql,
  queue: JobQueue,
  directorySpecs: readonly DirectorySpec[],
): Promise<JobsApiBench> {
  const directories = new PgDirectoryStore(db);
  for (const d of directorySpecs) {
    await directories.upsert({
      id: d.id,
      name: d.id,
      site: 'http://127.0.0.1:9',
      submissionUrl: 'http://127.0.0.1:9/add',
      category: 'general',
      tier: d.tier ?? 1,
      domainAuthority: d.domainAuthority ?? 50,
      active: d.active ?? true,
      hasCaptcha: false,
      requiresLogin: false,
      definition: simpleForm.definition('http://127.0.0.1:9'),
    });
  }
  const jobs = new PgJobStore(db);
  const ledger = new PgSubmissionLedger(db);
  return {
    jobs,
    ledger,
    directories,
    customersApi: makeCustomersApi({
      ...baseDeps(db),
      customers: new PgCustomerStore(db),
      ...mediaDepsOn(db),
    }),
    jobsApi: makeJobsApi({
      ...baseDeps(db),
      jobs,
      queries: new PgJobQueries(db),
      ledger,
      customers: new PgCustomerStore(db),
      directories,
      queue,
      proofs: proofLinksOn(db),
      brands: new PgBrandStore(db),
    }),
  };
}
