/** Lambda entry: /v1/jobs routes and GET /v1/customers/{id}/queue. */
import { jobsApiDepsFromEnv } from './api/deps.ts';
import { makeJobsApi } from './api/jobs.ts';

export const handler = makeJobsApi(await jobsApiDepsFromEnv(process.env));
