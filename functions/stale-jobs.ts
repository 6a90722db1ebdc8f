/** Lambda entry: the stale-job handler (EventBridge schedule; requeue, pending sweep, stuck steps). */
import { staleJobsDepsFromEnv } from './recovery/deps.ts';
import { makeStaleJobsHandler } from './recovery/stale-jobs.ts';

export const handler = makeStaleJobsHandler(await staleJobsDepsFromEnv(process.env));
