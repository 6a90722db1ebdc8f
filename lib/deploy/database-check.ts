/**
 * The preflight's database check (the CheckDatabase port): the stage's Postgres reachable, over TLS that
 * verifies the server unless it is on this machine, and the sql/ migrations the next deploy will apply.
 * Built on the runtime's own createDatabase and migration list, so it connects as the functions do.
 * (functions/shared/database-check.ts, with the CA bundles the functions trust, may replace it.)
 */
import { createDatabase } from '#shared/db';
import { loadMigrations } from '#shared/migrate';
import type { CheckDatabase } from './preflight.ts';

const LOOPBACK = /^(localhost|127(\.\d+){3}|\[?::1\]?)$/;

export const checkDatabase: CheckDatabase = async (connectionString) => {
  let url: URL;
  try {
    url = new URL(connectionString);
  } catch {
    return {
      ok: false,
      detail: 'the connection string is not a URL',
      fix: 'store a postgres:// URL in the database secret',
    };
  }
  const where = `${url.hostname}:${url.port || 5432}${url.pathname}`;
  const sslmode = url.searchParams.get('sslmode');
  if (!LOOPBACK.test(url.hostname) && sslmode !== 'verify-full') {
    return {
      ok: false,
      detail: `${where} with sslmode=${sslmode ?? '(none)'}: the server's certificate would not be verified`,
      fix: 'end the connection string in the database secret with ?sslmode=verify-full (RDS and Supabase: see docs/infrastructure.md, "Secrets")',
    };
  }
  const db = createDatabase({
    connectionString,
    max: 1,
    applicationName: 'formfleet-preflight',
    connectionTimeoutMillis: 5_000,
  });
  try {
    const { rows } = await db.query<{ version: string }>('SELECT current_setting($1) AS version', [
      'server_version',
    ]);
    const exists = await db.query<{ t: string | null }>("SELECT to_regclass('schema_migrations')::text AS t");
    const applied = new Set(
      exists.rows[0]?.t
        ? (await db.query<{ version: string }>('SELECT version FROM schema_migrations')).rows.map(
            (r) => r.version,
          )
        : [],
    );
    const pending = (await loadMigrations()).filter((m) => !applied.has(m.version)).map((m) => m.file);
    return {
      ok: true,
      detail: `PostgreSQL ${rows[0]?.version ?? '?'} at ${where}${sslmode ? ` (sslmode=${sslmode})` : ' (on this machine, no TLS)'}; ${
        pending.length === 0
          ? 'no migration pending'
          : `${pending.length} migration(s) the deploy will apply: ${pending.join(', ')}`
      }`,
    };
  } catch (err) {
    return {
      ok: false,
      detail: `cannot use ${where}: ${(err as Error).message}`,
      fix: 'check the host, port, user and password in the database secret, that the server accepts connections from AWS Lambda (no VPC: public endpoint), and its certificate',
    };
  } finally {
    await db.end().catch(() => {});
  }
};
