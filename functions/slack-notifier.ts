/** Lambda entry: the Slack notifier (subscribed to the alerts topic, reserved concurrency 1). */
import { notifierDepsFromEnv } from './alerts/deps.ts';
import { makeSlackNotifierHandler } from './alerts/notifier.ts';

export const handler = makeSlackNotifierHandler(await notifierDepsFromEnv(process.env));
