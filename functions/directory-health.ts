/** Lambda entry: daily directory health (EventBridge schedule, policy SCHEDULES.directoryHealth; Chromium). */

import { makeDirectoryHealthHandler } from './directories/health.ts';
import { healthDepsFromEnv } from './directories/health-deps.ts';

export const handler = makeDirectoryHealthHandler(await healthDepsFromEnv(process.env));
