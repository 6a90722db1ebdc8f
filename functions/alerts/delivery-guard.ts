/**
 * Remembers which alerts reached Slack, so an SNS redelivery, a retried invocation or a replay from the
 * on-failure queue does not post the same alert twice. Powertools Idempotency on DynamoDB does the work:
 * keyed by the alert id, an in-progress record stops a concurrent duplicate, a failed delivery deletes its
 * record (so the retry posts), and a completed one answers every later copy without posting.
 *
 * DynamoDB rather than Postgres on purpose: an alarm saying "the database is down" must still reach Slack.
 * Exactly once "as far as we can know": a post that timed out may have reached Slack, and its retry posts.
 */

import { IdempotencyConfig, makeIdempotent } from '@aws-lambda-powertools/idempotency';
import { DynamoDBPersistenceLayer } from '@aws-lambda-powertools/idempotency/dynamodb';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { Context } from 'aws-lambda';
import { ALERTS } from '#policy';
import type { Alert } from './alert.ts';

export type DeliveryOutcome = 'delivered' | 'duplicate';

export interface DeliveryGuard {
  /** Runs `deliver` unless the alert with this id was delivered before. */
  once(alert: Alert, deliver: () => Promise<void>, context?: Context): Promise<DeliveryOutcome>;
}

interface DeliveryRecord {
  id: string;
  deliveredAt: string;
  duplicate?: boolean;
}

export class IdempotentDeliveryGuard implements DeliveryGuard {
  private readonly config: IdempotencyConfig;
  private readonly run: (alert: Alert, deliver: () => Promise<void>) => Promise<DeliveryRecord>;

  constructor(options: {
    client: DynamoDBClient;
    tableName: string;
    /** Separates this use of a shared idempotency table from others. @default 'slack-notifier' */
    keyPrefix?: string;
    expiresAfterSeconds?: number;
  }) {
    this.config = new IdempotencyConfig({
      eventKeyJmesPath: 'id',
      throwOnNoIdempotencyKey: true,
      expiresAfterSeconds: options.expiresAfterSeconds ?? ALERTS.dedupeWindowSeconds,
      // Called only when a stored result answers the call: that is how a duplicate shows itself.
      responseHook: (response) => ({ ...(response as object), duplicate: true }),
    });
    this.run = makeIdempotent(
      async (alert: Alert, deliver: () => Promise<void>): Promise<DeliveryRecord> => {
        await deliver();
        return { id: alert.id, deliveredAt: new Date().toISOString() };
      },
      {
        persistenceStore: new DynamoDBPersistenceLayer({
          tableName: options.tableName,
          awsSdkV3Client: options.client,
        }),
        config: this.config,
        keyPrefix: options.keyPrefix ?? 'slack-notifier',
        dataIndexArgument: 0,
      },
    );
  }

  async once(alert: Alert, deliver: () => Promise<void>, context?: Context): Promise<DeliveryOutcome> {
    // The in-progress record expires with the invocation, so a timed-out invocation's retry is not blocked.
    if (context) this.config.registerLambdaContext(context);
    const record = await this.run(alert, deliver);
    return record.duplicate ? 'duplicate' : 'delivered';
  }
}
