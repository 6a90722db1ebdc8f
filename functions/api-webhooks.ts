/** Lambda entry: the webhooks routes (see functions/api/routes.ts). */
import { webhooksApiDepsFromEnv } from './api/deps.ts';
import { makeWebhooksApi } from './api/webhooks.ts';

export const handler = makeWebhooksApi(await webhooksApiDepsFromEnv(process.env));
