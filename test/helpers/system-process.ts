/**
 * The local system in a process of its own, for runs that must not share one with it: the security test
 * captures everything the system writes to stdout and stderr, and the API benchmark keeps its load
 * generator off the system's event loop. Prints "ready <url>" once serving (nothing secret: the caller
 * chose the keys); SIGTERM stops it.
 *
 * Environment (besides what the handlers read, e.g. POWERTOOLS_LOG_LEVEL):
 *   DATABASE_URL, FORMFLEET_MOTO_ENDPOINT, FORMFLEET_ADMIN_KEY, FORMFLEET_CLIENT_KEY   required
 *   FORMFLEET_QUEUE_PREFIX          queue name prefix on the shared moto server
 *   FORMFLEET_EXTRA_CLIENT_KEYS     JSON {"key value": "key id"} of more client keys
 *   FORMFLEET_FIXTURES              comma-separated fixture variant ids (default: every variant)
 *   FORMFLEET_WORKERS               "false": no worker pollers
 *   FORMFLEET_DRAIN_QUEUES          "true": delete tier messages unprocessed, keeping the queues empty
 *                                   (moto's FIFO send slows down with the depth of the queue; SQS does not)
 *   FORMFLEET_SCHEDULE_SPEED_UP     run the scheduled handlers this many times faster than policy
 *   FORMFLEET_VISIBILITY_SECONDS    tier queue visibility timeout
 *   FORMFLEET_ALERT_RETRY_SECONDS   delay before a failed alert delivery is retried
 *   SLACK_WEBHOOK_URL               post alerts to this webhook instead of the local sink
 *   FORMFLEET_HANDLER_ENV           JSON of variables layered over the handlers' environment
 */
import { allVariants } from '#local/fixtures/variants';
import { type LocalSystemOptions, startLocalSystem } from '#local/runtime';
import { startPoller } from '#local/sqs-poller';
import { requireEnv } from '#shared/env';

const env = process.env;
const required = requireEnv(env, [
  'DATABASE_URL',
  'FORMFLEET_MOTO_ENDPOINT',
  'FORMFLEET_ADMIN_KEY',
  'FORMFLEET_CLIENT_KEY',
]);
const chosen = env.FORMFLEET_FIXTURES?.split(',').filter(Boolean);
const json = <T>(name: string): T | undefined =>
  env[name] ? (JSON.parse(env[name] as string) as T) : undefined;
const retry = env.FORMFLEET_ALERT_RETRY_SECONDS;
const options: LocalSystemOptions = {
  port: 0,
  databaseUrl: required.DATABASE_URL as string,
  motoEndpoint: required.FORMFLEET_MOTO_ENDPOINT as string,
  adminKey: required.FORMFLEET_ADMIN_KEY as string,
  clientKey: required.FORMFLEET_CLIENT_KEY as string,
  ...(env.FORMFLEET_QUEUE_PREFIX ? { queuePrefix: env.FORMFLEET_QUEUE_PREFIX } : {}),
  extraClientKeys: json<Record<string, string>>('FORMFLEET_EXTRA_CLIENT_KEYS') ?? {},
  fixtures: chosen ? allVariants().filter((v) => chosen.includes(v.id)) : allVariants(),
  workers: env.FORMFLEET_WORKERS !== 'false',
  env: json<Record<string, string>>('FORMFLEET_HANDLER_ENV') ?? {},
  schedules: { speedUp: Number(env.FORMFLEET_SCHEDULE_SPEED_UP ?? 1) },
  ...(env.FORMFLEET_VISIBILITY_SECONDS
    ? { visibilityTimeoutSeconds: Number(env.FORMFLEET_VISIBILITY_SECONDS) }
    : {}),
  alerts: {
    ...(env.SLACK_WEBHOOK_URL ? { slackWebhookUrl: env.SLACK_WEBHOOK_URL } : {}),
    ...(retry ? { retryDelaySeconds: Number(retry) } : {}),
  },
};
const system = await startLocalSystem(options);

const drains =
  env.FORMFLEET_DRAIN_QUEUES === 'true'
    ? system.queues.map((q) =>
        startPoller({
          sqs: system.sqs,
          queueUrl: q.url,
          queueArn: q.arn,
          handler: async () => ({ batchItemFailures: [] }),
          batchSize: 10,
          maxConcurrency: 2,
          functionName: 'drain',
        }),
      )
    : [];

process.stdout.write(`ready ${system.url}\n`);

process.on('SIGTERM', () => {
  void (async () => {
    await Promise.all(drains.map((d) => d.stop(1_000)));
    await system.stop();
    process.exit(0);
  })();
});
