/** Lambda entry: the PagerDuty notifier (subscribed to the alerts topic when the stage names a routing key). */
import { pagerDutyNotifierDepsFromEnv } from './alerts/deps.ts';
import { makePagerDutyNotifierHandler } from './alerts/pagerduty-notifier.ts';

export const handler = makePagerDutyNotifierHandler(await pagerDutyNotifierDepsFromEnv(process.env));
