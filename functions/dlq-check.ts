/** Lambda entry: the DLQ check (EventBridge schedule; depth, peek, alert on news only). */
import { dlqCheckDepsFromEnv } from './recovery/deps.ts';
import { makeDlqCheckHandler } from './recovery/dlq-check.ts';

export const handler = makeDlqCheckHandler(await dlqCheckDepsFromEnv(process.env));
