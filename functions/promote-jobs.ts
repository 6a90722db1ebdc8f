/** Lambda entry: aging promotion of waiting jobs (EventBridge schedule, policy SCHEDULES.promoteJobs). */

import { makePromoteJobsHandler } from './worker/promotion.ts';
import { promoteJobsDepsFromEnv } from './worker/promotion-deps.ts';

export const handler = makePromoteJobsHandler(await promoteJobsDepsFromEnv(process.env));
