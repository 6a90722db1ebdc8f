/** Lambda entry: the probes routes, dry runs in Chromium (see functions/api/routes.ts). */
import { probesApiDepsFromEnv } from './api/deps.ts';
import { makeProbesApi } from './api/probes.ts';

export const handler = makeProbesApi(await probesApiDepsFromEnv(process.env));
