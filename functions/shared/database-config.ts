/**
 * Where a handler's Postgres is, and how it is trusted, resolved once per container:
 *  - the request-path connection: DATABASE_URL locally, or in AWS a Secrets Manager secret named by
 *    DATABASE_SECRET_ARN (an existing Postgres such as Supabase or RDS, directly or through a transaction
 *    pooler: nothing on the request path keeps session state);
 *  - the direct (session) connection migrations need for their session lock: DATABASE_DIRECT_URL or
 *    DATABASE_DIRECT_SECRET_ARN, defaulting to the request-path one (right when that is not a transaction
 *    pooler);
 *  - the stage's CA (Supabase's root, a private CA), if it names one: DATABASE_CA_FILE (a PEM file) or
 *    DATABASE_CA_SECRET_ARN (a secret holding the PEM). See #shared/database-tls for what is trusted when.
 */
import { readFile } from 'node:fs/promises';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { DATABASE } from '#policy';
import { awsClientConfig } from '#shared/aws';
import type { NamedCa } from '#shared/database-tls';
import { createDatabase, type Database } from '#shared/db';
import { ConfigError, type Env, intEnv } from '#shared/env';
import { createLogger, describeError, registerSecret } from '#shared/telemetry';

/**
 * The secret may hold a connection string, JSON with `url`/`connectionString`, or the RDS JSON shape
 * (host, port, username, password, dbname), which connects with sslmode=verify-full.
 */
export function connectionStringFromSecret(secret: string): string {
  const trimmed = secret.trim();
  if (/^postgres(ql)?:\/\//.test(trimmed)) return trimmed;
  let value: Record<string, unknown>;
  try {
    value = JSON.parse(trimmed) as Record<string, unknown>;
  } catch {
    throw new ConfigError('database secret is neither a postgres:// URL nor JSON');
  }
  const direct = value.url ?? value.connectionString;
  if (typeof direct === 'string') return direct;
  const { host, port, username, password, dbname } = value;
  if (typeof host !== 'string' || typeof username !== 'string' || typeof password !== 'string') {
    throw new ConfigError('database secret JSON needs url, or host + username + password');
  }
  const url = new URL('postgres://localhost');
  url.hostname = host;
  url.port = String(port ?? 5432);
  url.username = encodeURIComponent(username);
  url.password = encodeURIComponent(password);
  url.pathname = `/${typeof dbname === 'string' ? dbname : 'postgres'}`;
  url.searchParams.set('sslmode', 'verify-full');
  return url.toString();
}

/** A secret's text from Secrets Manager (what a stage names by ARN). */
export async function secretString(env: Env, arn: string, what: string): Promise<string> {
  const client = new SecretsManagerClient(awsClientConfig(env));
  try {
    const res = await client.send(new GetSecretValueCommand({ SecretId: arn }));
    if (!res.SecretString) throw new ConfigError(`${what} secret has no SecretString`);
    return res.SecretString;
  } finally {
    client.destroy();
  }
}

/** The request-path connection string. */
export async function resolveDatabaseUrl(env: Env): Promise<string> {
  if (env.DATABASE_URL) return env.DATABASE_URL;
  if (!env.DATABASE_SECRET_ARN) {
    throw new ConfigError('missing required environment variable(s): DATABASE_URL or DATABASE_SECRET_ARN');
  }
  return connectionStringFromSecret(await secretString(env, env.DATABASE_SECRET_ARN, 'database'));
}

/** The direct (session) connection string for migrations; the request-path one when none is named. */
export async function resolveDirectDatabaseUrl(env: Env): Promise<string> {
  if (env.DATABASE_DIRECT_URL) return env.DATABASE_DIRECT_URL;
  if (env.DATABASE_DIRECT_SECRET_ARN) {
    return connectionStringFromSecret(
      await secretString(env, env.DATABASE_DIRECT_SECRET_ARN, 'direct database'),
    );
  }
  return resolveDatabaseUrl(env);
}

/** The stage's CA bundle (PEM), when it names one. */
export async function resolveDatabaseCa(env: Env): Promise<NamedCa | undefined> {
  if (env.DATABASE_CA_FILE) {
    try {
      return {
        pem: await readFile(env.DATABASE_CA_FILE, 'utf8'),
        source: `DATABASE_CA_FILE ${env.DATABASE_CA_FILE}`,
      };
    } catch (err) {
      throw new ConfigError(
        `DATABASE_CA_FILE ${env.DATABASE_CA_FILE} cannot be read (${(err as NodeJS.ErrnoException).code ?? describeError(err).message})`,
      );
    }
  }
  if (env.DATABASE_CA_SECRET_ARN) {
    return {
      pem: await secretString(env, env.DATABASE_CA_SECRET_ARN, 'database CA'),
      source: 'DATABASE_CA_SECRET_ARN',
    };
  }
  return undefined;
}

/** How long a connection may take before it fails (policy DATABASE.connectTimeoutMs). */
export const connectTimeoutFromEnv = (env: Env) =>
  intEnv(env, 'DATABASE_CONNECT_TIMEOUT_MS', DATABASE.connectTimeoutMs);

/** Pool size when DATABASE_POOL_MAX is unset (locally, in tests): as many as any function kind gets. */
const FALLBACK_POOL_MAX = Math.max(...Object.values(DATABASE.poolMax));

/**
 * The handler's database, its URL registered as a secret so it never reaches a log line. The connection
 * is tried at once: a certificate, password or name that cannot work fails the cold start with an error
 * that says what to change; an unreachable server only logs, since an outage may end before the first
 * request (which then answers as it does in any outage).
 */
export async function databaseFromEnv(env: Env, applicationName: string): Promise<Database> {
  const [url, ca] = await Promise.all([resolveDatabaseUrl(env), resolveDatabaseCa(env)]);
  registerSecret(url);
  const max = intEnv(env, 'DATABASE_POOL_MAX', FALLBACK_POOL_MAX);
  if (max < 1) throw new ConfigError(`DATABASE_POOL_MAX must be at least 1 (got ${max})`);
  const db = createDatabase({
    connectionString: url,
    ca,
    applicationName,
    max,
    connectionTimeoutMillis: connectTimeoutFromEnv(env),
  });
  try {
    await db.check();
  } catch (err) {
    if ((err as { permanent?: boolean }).permanent) {
      await db.end().catch(() => {});
      throw err;
    }
    createLogger('database').warn('database not reachable at cold start; requests will retry', {
      error: describeError(err),
    });
  }
  return db;
}
