/**
 * Powertools idempotency (DynamoDB) guarding duplicate executions of one job message: the key is the job id
 * with its enqueue token, so the same message delivered twice, or sent twice past the FIFO deduplication
 * window, runs once. While a first execution runs, a duplicate is refused (IdempotencyAlreadyInProgressError)
 * and its message retried later; once it has finished, a duplicate gets the stored result.
 *
 * The ledger and the fencing token already make a second execution harmless; this saves it from driving a
 * browser only to be fenced out.
 */
import {
  IdempotencyAlreadyInProgressError,
  IdempotencyConfig,
  makeIdempotent,
} from '@aws-lambda-powertools/idempotency';
import { DynamoDBPersistenceLayer } from '@aws-lambda-powertools/idempotency/dynamodb';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { Context } from 'aws-lambda';

export interface IdempotencyGuard {
  /** Runs `fn` once per key; see the module comment for what a duplicate gets. */
  once<T extends Record<string, unknown>>(
    key: Record<string, unknown>,
    context: Context,
    fn: () => Promise<T>,
  ): Promise<T>;
}

export { IdempotencyAlreadyInProgressError };

/** For unit tests and tools that run the handler without a table: no guard at all. */
export const noIdempotency: IdempotencyGuard = { once: (_key, _context, fn) => fn() };

export interface PowertoolsIdempotencyOptions {
  tableName: string;
  client: DynamoDBClient;
  /** How long a finished execution's record answers duplicates. */
  expiresAfterSeconds: number;
  /**
   * Longest an in-progress record may lock its key: the message's visibility timeout. A message is only
   * redelivered after its visibility lapsed, i.e. after the worker holding it stopped heartbeating (it
   * crashed or was frozen), so by then the lock must have lapsed too, or the crash would block the job.
   */
  inProgressMaxMs: () => number;
}

export class PowertoolsIdempotency implements IdempotencyGuard {
  private readonly store: DynamoDBPersistenceLayer;

  constructor(private readonly options: PowertoolsIdempotencyOptions) {
    this.store = new DynamoDBPersistenceLayer({
      tableName: options.tableName,
      awsSdkV3Client: options.client,
    });
  }

  once<T extends Record<string, unknown>>(
    key: Record<string, unknown>,
    context: Context,
    fn: () => Promise<T>,
  ): Promise<T> {
    // A config per execution: the in-progress expiry comes from this invocation's own context.
    const config = new IdempotencyConfig({ expiresAfterSeconds: this.options.expiresAfterSeconds });
    const limit = this.options.inProgressMaxMs();
    config.registerLambdaContext({
      ...context,
      getRemainingTimeInMillis: () => Math.min(context.getRemainingTimeInMillis(), limit),
    });
    const processJobMessage = makeIdempotent(async (_key: Record<string, unknown>) => fn(), {
      persistenceStore: this.store,
      config,
      keyPrefix: 'formfleet-worker.job',
    });
    return processJobMessage(key) as Promise<T>;
  }
}
