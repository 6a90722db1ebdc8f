/**
 * The migrate-on-deploy trigger: CDK's Trigger invokes it synchronously during `cdk deploy`, after the data
 * stack exists and before any other function's new code is live. It applies the pending sql/ migrations to
 * the stage's existing Postgres (Supabase, RDS...) through the one migrate entry point; a failure throws, so
 * CloudFormation fails the deploy and rolls the stack back while the old code keeps running.
 */
import { join } from 'node:path';
import type pg from 'pg';
import { connectTimeoutFromEnv, resolveDatabaseCa, resolveDirectDatabaseUrl } from '#shared/database-config';
import { pgConnectionConfig } from '#shared/database-tls';
import { connectSession } from '#shared/db';
import type { Env } from '#shared/env';
import { DEFAULT_MIGRATIONS_DIR, type MigrationReport, migrate } from '#shared/migrate';
import { createLogger, describeError, type Logger, registerSecret } from '#shared/telemetry';

/** One dedicated connection: a no-transaction migration holds a session advisory lock. */
export interface MigrationConnection extends pg.ClientBase {
  end(): Promise<void>;
}

export interface MigrateTriggerDeps {
  connect(): Promise<MigrationConnection>;
  /** Directory holding NNN_name.sql files. */
  migrationsDir: string;
  logger: Logger;
}

export type MigrateTriggerHandler = () => Promise<MigrationReport>;

export function makeMigrateTrigger(deps: MigrateTriggerDeps): MigrateTriggerHandler {
  return async function migrateTrigger() {
    const { logger } = deps;
    let client: MigrationConnection;
    try {
      client = await deps.connect();
    } catch (err) {
      // A DatabaseConnectionError: what failed (certificate, login, network) and what to change.
      logger.error('cannot connect to the database; the deploy will roll back', {
        error: describeError(err),
      });
      throw err;
    }
    try {
      const report = await migrate(client, {
        dir: deps.migrationsDir,
        log: (line) => logger.info(line),
      });
      logger.info('migrations up to date', {
        applied: report.applied,
        alreadyApplied: report.skipped.length,
      });
      return report;
    } catch (err) {
      // The message names the failing file; CloudFormation shows it as the reason the deploy failed.
      logger.error('migration failed; the deploy will roll back', { error: describeError(err) });
      throw err;
    } finally {
      await client.end().catch(() => {});
    }
  };
}

/**
 * Where the migrations are: MIGRATIONS_DIR if set; in Lambda `$LAMBDA_TASK_ROOT/sql` (CDK copies sql/ into
 * the bundle, see the manifest's `assets`); otherwise the repository's sql/.
 */
export function migrationsDirFromEnv(env: Env): string {
  if (env.MIGRATIONS_DIR) return env.MIGRATIONS_DIR;
  if (env.LAMBDA_TASK_ROOT) return join(env.LAMBDA_TASK_ROOT, 'sql');
  return DEFAULT_MIGRATIONS_DIR;
}

/**
 * The migrations' connection: the direct (session) one (DATABASE_DIRECT_SECRET_ARN, else the request-path
 * secret), with the stage's CA. Its TLS settings are checked at cold start (a ConfigError says what to write
 * instead); a certificate or login that does not work fails the invocation, and so the deploy, at once.
 */
export async function migrateTriggerDepsFromEnv(env: Env): Promise<MigrateTriggerDeps> {
  const [connectionString, ca] = await Promise.all([resolveDirectDatabaseUrl(env), resolveDatabaseCa(env)]);
  registerSecret(connectionString);
  pgConnectionConfig(connectionString, { ca });
  const connectionTimeoutMillis = connectTimeoutFromEnv(env);
  return {
    connect: () =>
      connectSession({ connectionString, ca, applicationName: 'formfleet-migrate', connectionTimeoutMillis }),
    migrationsDir: migrationsDirFromEnv(env),
    logger: createLogger('migrate'),
  };
}
