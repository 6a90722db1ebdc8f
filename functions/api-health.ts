/** Lambda entry: GET /health and GET /v1/health. */
import { healthApiDepsFromEnv } from './api/deps.ts';
import { makeHealthApi } from './api/health.ts';

export const handler = makeHealthApi(await healthApiDepsFromEnv(process.env));
