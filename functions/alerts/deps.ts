/** Builds the Slack notifier's real adapters from its environment: the one wiring point for Lambda and local. */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { ALERTS, PAGERDUTY } from '#policy';
import { awsClientConfig } from '#shared/aws';
import { secretString } from '#shared/database-config';
import { ConfigError, type Env, intEnv, requireEnv } from '#shared/env';
import { createLogger, createMetrics, registerSecret } from '#shared/telemetry';
import { IdempotentDeliveryGuard } from './delivery-guard.ts';
import type { NotifierDeps } from './notifier.ts';
import { Pacer } from './pacer.ts';
import { DynamoPagerDutyOrder } from './pagerduty.ts';
import { EventsApiClient } from './pagerduty-client.ts';
import type { PagerDutyNotifierDeps } from './pagerduty-notifier.ts';
import { WebhookSlackClient } from './slack-webhook.ts';

/** The secret may hold the URL itself or JSON with `url` / `webhookUrl`. */
export function webhookUrlFromSecret(secret: string): string {
  const trimmed = secret.trim();
  if (/^https?:\/\//.test(trimmed)) return trimmed;
  try {
    const value = JSON.parse(trimmed) as Record<string, unknown>;
    const url = value.url ?? value.webhookUrl;
    if (typeof url === 'string' && /^https?:\/\//.test(url)) return url;
  } catch {
    // fall through to the error below
  }
  throw new ConfigError('Slack webhook secret is neither a URL nor JSON with "url"');
}

/** SLACK_WEBHOOK_URL locally; in AWS the Secrets Manager secret named by SLACK_WEBHOOK_SECRET_ARN. */
export async function resolveWebhookUrl(env: Env): Promise<string> {
  if (env.SLACK_WEBHOOK_URL) return webhookUrlFromSecret(env.SLACK_WEBHOOK_URL);
  if (!env.SLACK_WEBHOOK_SECRET_ARN) {
    throw new ConfigError(
      'missing required environment variable(s): SLACK_WEBHOOK_URL or SLACK_WEBHOOK_SECRET_ARN',
    );
  }
  return webhookUrlFromSecret(await secretString(env, env.SLACK_WEBHOOK_SECRET_ARN, 'Slack webhook'));
}

/** The secret may hold the routing key itself or JSON with `routingKey` / `routing_key`. */
export function routingKeyFromSecret(secret: string): string {
  const trimmed = secret.trim();
  if (/^[A-Za-z0-9]{20,64}$/.test(trimmed)) return trimmed;
  try {
    const value = JSON.parse(trimmed) as Record<string, unknown>;
    const key = value.routingKey ?? value.routing_key;
    if (typeof key === 'string' && /^[A-Za-z0-9]{20,64}$/.test(key)) return key;
  } catch {
    // fall through to the error below
  }
  throw new ConfigError(
    'PagerDuty secret is neither a routing key (32 letters and digits) nor JSON with "routingKey"',
  );
}

/**
 * The PagerDuty notifier's adapters: the routing key (PAGERDUTY_ROUTING_KEY locally, the stage's secret named
 * by PAGERDUTY_ROUTING_KEY_SECRET_ARN in AWS), the Events API (PAGERDUTY_EVENTS_URL for the local sink or
 * PagerDuty's EU service region), and the per-incident order kept in the idempotency table.
 */
export async function pagerDutyNotifierDepsFromEnv(env: Env): Promise<PagerDutyNotifierDeps> {
  const missing = [
    ...(env.IDEMPOTENCY_TABLE ? [] : ['IDEMPOTENCY_TABLE']),
    ...(env.PAGERDUTY_ROUTING_KEY || env.PAGERDUTY_ROUTING_KEY_SECRET_ARN
      ? []
      : ['PAGERDUTY_ROUTING_KEY or PAGERDUTY_ROUTING_KEY_SECRET_ARN']),
  ];
  if (missing.length > 0)
    throw new ConfigError(`missing required environment variable(s): ${missing.join(', ')}`);
  const { IDEMPOTENCY_TABLE } = requireEnv(env, ['IDEMPOTENCY_TABLE']);
  const routingKey = routingKeyFromSecret(
    env.PAGERDUTY_ROUTING_KEY ??
      (await secretString(env, env.PAGERDUTY_ROUTING_KEY_SECRET_ARN as string, 'PagerDuty routing key')),
  );
  registerSecret(routingKey);
  const logger = createLogger('pagerduty-notifier');
  return {
    pagerDuty: new EventsApiClient(
      routingKey,
      env.PAGERDUTY_EVENTS_URL || PAGERDUTY.eventsUrl,
      intEnv(env, 'PAGERDUTY_TIMEOUT_MS', PAGERDUTY.timeoutMs),
    ),
    order: new DynamoPagerDutyOrder(new DynamoDBClient(awsClientConfig(env)), IDEMPOTENCY_TABLE),
    runbookBaseUrl: env.RUNBOOK_BASE_URL,
    logger,
    metrics: createMetrics('pagerduty-notifier', logger),
  };
}

export async function notifierDepsFromEnv(env: Env): Promise<NotifierDeps> {
  const missing = [
    ...(env.IDEMPOTENCY_TABLE ? [] : ['IDEMPOTENCY_TABLE']),
    ...(env.SLACK_WEBHOOK_URL || env.SLACK_WEBHOOK_SECRET_ARN
      ? []
      : ['SLACK_WEBHOOK_URL or SLACK_WEBHOOK_SECRET_ARN']),
  ];
  if (missing.length > 0) {
    throw new ConfigError(`missing required environment variable(s): ${missing.join(', ')}`);
  }
  const { IDEMPOTENCY_TABLE } = requireEnv(env, ['IDEMPOTENCY_TABLE']);
  const url = await resolveWebhookUrl(env);
  // The URL is the credential: from now on it is redacted wherever it would appear in a log line.
  registerSecret(url);
  registerSecret(new URL(url).pathname);
  const pacer = new Pacer(intEnv(env, 'SLACK_MIN_INTERVAL_MS', ALERTS.minIntervalMs));
  const logger = createLogger('slack-notifier');
  return {
    slack: new WebhookSlackClient(url, {
      pacer,
      timeoutMs: intEnv(env, 'SLACK_TIMEOUT_MS', ALERTS.slackTimeoutMs),
      inlineRetries: intEnv(env, 'SLACK_INLINE_RETRIES', ALERTS.slackInlineRetries),
      retryBaseMs: intEnv(env, 'SLACK_RETRY_BASE_MS', ALERTS.slackRetryBaseMs),
    }),
    guard: new IdempotentDeliveryGuard({
      client: new DynamoDBClient(awsClientConfig(env)),
      tableName: IDEMPOTENCY_TABLE,
    }),
    format: { runbookBaseUrl: env.RUNBOOK_BASE_URL },
    logger,
    metrics: createMetrics('slack-notifier', logger),
  };
}
