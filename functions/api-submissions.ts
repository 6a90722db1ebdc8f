/** Lambda entry: the submissions routes (see functions/api/routes.ts). */
import { submissionsApiDepsFromEnv } from './api/deps.ts';
import { makeSubmissionsApi } from './api/submissions.ts';

export const handler = makeSubmissionsApi(await submissionsApiDepsFromEnv(process.env));
