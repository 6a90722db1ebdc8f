/** Lambda entry: the webhook dispatcher (scheduled every minute; see functions/webhooks/dispatch.ts). */
import { webhookDispatchDepsFromEnv } from './webhooks/deps.ts';
import { makeDispatcher } from './webhooks/dispatch.ts';

export const handler = makeDispatcher(await webhookDispatchDepsFromEnv(process.env)).run;
