/**
 * Where a handler's Postgres is: DATABASE_URL locally, or in AWS a Secrets Manager secret named by
 * DATABASE_SECRET_ARN (an existing Postgres such as Supabase or RDS). Resolved once per container.
 */
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { awsClientConfig } from '#shared/aws';
import { createDatabase, type Database } from '#shared/db';
import { ConfigError, type Env } from '#shared/env';
import { registerSecret } from '#shared/telemetry';

/**
 * The secret may hold a connection string, JSON with `url`/`connectionString`, or the RDS JSON shape
 * (host, port, username, password, dbname).
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
  url.searchParams.set('sslmode', 'require');
  return url.toString();
}

export async function resolveDatabaseUrl(env: Env): Promise<string> {
  if (env.DATABASE_URL) return env.DATABASE_URL;
  if (!env.DATABASE_SECRET_ARN) {
    throw new ConfigError('missing required environment variable(s): DATABASE_URL or DATABASE_SECRET_ARN');
  }
  const client = new SecretsManagerClient(awsClientConfig(env));
  const res = await client.send(new GetSecretValueCommand({ SecretId: env.DATABASE_SECRET_ARN }));
  if (!res.SecretString) throw new ConfigError('database secret has no SecretString');
  return connectionStringFromSecret(res.SecretString);
}

/** The handler's database, its URL registered as a secret so it never reaches a log line. */
export async function databaseFromEnv(env: Env, applicationName: string, max = 2): Promise<Database> {
  const url = await resolveDatabaseUrl(env);
  registerSecret(url);
  return createDatabase({ connectionString: url, applicationName, max });
}
