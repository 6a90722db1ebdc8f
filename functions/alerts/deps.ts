/** Builds the Slack notifier's real adapters from its environment: the one wiring point for Lambda and local. */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { ALERTS } from '#policy';
import { awsClientConfig } from '#shared/aws';
import { ConfigError, type Env, intEnv, requireEnv } from '#shared/env';
import { createLogger, createMetrics, registerSecret } from '#shared/telemetry';
import { IdempotentDeliveryGuard } from './delivery-guard.ts';
import type { NotifierDeps } from './notifier.ts';
import { Pacer } from './pacer.ts';
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
  const client = new SecretsManagerClient(awsClientConfig(env));
  try {
    const res = await client.send(new GetSecretValueCommand({ SecretId: env.SLACK_WEBHOOK_SECRET_ARN }));
    if (!res.SecretString) throw new ConfigError('Slack webhook secret has no SecretString');
    return webhookUrlFromSecret(res.SecretString);
  } finally {
    client.destroy();
  }
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
