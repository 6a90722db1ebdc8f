/** Builds the webhook functions' real adapters from their environment: the one wiring point for Lambda and local. */
import { SQSClient } from '@aws-sdk/client-sqs';
import { PgAlertOutbox } from '#functions/alerts/alert-outbox';
import { alertsFromEnv } from '#functions/alerts/alerts';
import { WEBHOOKS } from '#policy';
import { awsClientConfig } from '#shared/aws';
import { databaseFromEnv } from '#shared/database-config';
import type { Database } from '#shared/db';
import { ConfigError, type Env, intEnv } from '#shared/env';
import { createLogger, createMetrics } from '#shared/telemetry';
import { DEFAULT_DELIVERY_OPTIONS, type DeliveryDeps } from './delivery.ts';
import { urlPolicyFromEnv } from './destination.ts';
import { DEFAULT_DISPATCH_OPTIONS, type DispatchDeps } from './dispatch.ts';
import { SecretCache, sealerFromEnv } from './secrets.ts';
import { PgWebhookStore } from './store.ts';
import { SqsWakeQueue } from './wake-queue.ts';

/**
 * Every variable missing, in one error: `names`, the database's (unless one is given), and with `sealer` the
 * signing-secret key's.
 */
export function requireWebhookEnv(
  env: Env,
  names: readonly string[],
  db: Database | undefined,
  options: { sealer?: boolean } = {},
): void {
  const missing = names.filter((n) => !env[n]);
  if (!db && !env.DATABASE_URL && !env.DATABASE_SECRET_ARN)
    missing.unshift('DATABASE_URL or DATABASE_SECRET_ARN');
  if (options.sealer && !env.WEBHOOK_KMS_KEY_ID && !env.WEBHOOK_LOCAL_KEY) {
    missing.push('WEBHOOK_KMS_KEY_ID or WEBHOOK_LOCAL_KEY');
  }
  if (missing.length > 0)
    throw new ConfigError(`missing required environment variable(s): ${missing.join(', ')}`);
}

export async function webhookDispatchDepsFromEnv(env: Env, db?: Database): Promise<DispatchDeps> {
  requireWebhookEnv(env, ['WEBHOOK_QUEUE_URL', 'ALERTS_TOPIC_ARN'], db);
  const database = db ?? (await databaseFromEnv(env, 'formfleet-webhook-dispatch'));
  const outbox = new PgAlertOutbox(database);
  const logger = createLogger('webhook-dispatch');
  return {
    store: new PgWebhookStore(database, outbox),
    queue: new SqsWakeQueue(new SQSClient(awsClientConfig(env)), env.WEBHOOK_QUEUE_URL as string),
    outbox,
    alerts: alertsFromEnv(env),
    logger,
    metrics: createMetrics('webhook-dispatch', logger),
    options: {
      ...DEFAULT_DISPATCH_OPTIONS,
      windowMs: Math.max(0, intEnv(env, 'WEBHOOK_DISPATCH_WINDOW_MS', WEBHOOKS.dispatchWindowSeconds * 1000)),
    },
  };
}

export async function webhookDeliveryDepsFromEnv(env: Env, db?: Database): Promise<DeliveryDeps> {
  requireWebhookEnv(env, [], db, { sealer: true });
  const urls = urlPolicyFromEnv(env);
  const sealer = sealerFromEnv(env);
  const timeoutMs = intEnv(env, 'WEBHOOK_TIMEOUT_MS', WEBHOOKS.timeoutMs);
  if (timeoutMs < 1 || timeoutMs > (WEBHOOKS.attemptLeaseSeconds - 5) * 1000) {
    throw new ConfigError(
      `WEBHOOK_TIMEOUT_MS must be from 1 to ${(WEBHOOKS.attemptLeaseSeconds - 5) * 1000} (shorter than an attempt's claim)`,
    );
  }
  const database = db ?? (await databaseFromEnv(env, 'formfleet-webhook-delivery'));
  const logger = createLogger('webhook-delivery');
  return {
    store: new PgWebhookStore(database, new PgAlertOutbox(database)),
    secrets: new SecretCache(sealer),
    urls,
    logger,
    metrics: createMetrics('webhook-delivery', logger),
    options: { ...DEFAULT_DELIVERY_OPTIONS, timeoutMs },
  };
}
