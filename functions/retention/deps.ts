/** Builds the retention run's real adapters from its environment: the one wiring point for Lambda and local. */
import { databaseFromEnv } from '#shared/database-config';
import type { Database } from '#shared/db';
import type { Env } from '#shared/env';
import { recordsStoreFromEnv } from '#shared/object-store';
import { createLogger } from '#shared/telemetry';
import { type RetentionDeps, retentionOptions } from './retention.ts';

export async function retentionDepsFromEnv(env: Env, db?: Database): Promise<RetentionDeps> {
  const store = recordsStoreFromEnv(env);
  return {
    db: db ?? (await databaseFromEnv(env, 'formfleet-retention')),
    store,
    logger: createLogger('retention'),
    options: retentionOptions(),
  };
}
