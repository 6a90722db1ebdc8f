/** Lambda entry: the dlq routes (see functions/api/routes.ts). */
import { dlqApiDepsFromEnv } from './api/deps.ts';
import { makeDlqApi } from './api/dlq.ts';

export const handler = makeDlqApi(await dlqApiDepsFromEnv(process.env));
