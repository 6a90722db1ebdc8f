/**
 * PgBouncer in front of a Postgres server, for the tests' pooler mode (FORMFLEET_TEST_POOLER=pgbouncer):
 * Debian's `pgbouncer` binary on a free loopback port, in transaction pooling by default, the way Supabase's
 * transaction port and a PgBouncer in production hand a server connection to a client for one transaction
 * only. Any database name is passed through to the server, so tests' scratch databases work unchanged.
 * PgBouncer 1.18 (Debian 12) has no prepared-statement support in transaction mode: node-postgres's unnamed
 * statements are fine, named ones would fail, which is part of what the mode proves.
 */
import { existsSync } from 'node:fs';
import { chown, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './ports.ts';
import { canConnect, runAsIdentity } from './postgres.ts';
import { awaitReady, type ManagedProcess, spawnManaged } from './processes.ts';

export interface PgBouncer {
  /** PgBouncer's address for the server's default database. */
  readonly url: string;
  /** The same database as `serverDatabaseUrl` (a URL on the server), reached through PgBouncer. */
  urlFor(serverDatabaseUrl: string): string;
  stop(): Promise<void>;
}

export interface StartPgBouncerOptions {
  /** The Postgres server to pool (any database on it). */
  serverUrl: string;
  /** @default 'transaction' */
  poolMode?: 'transaction' | 'session' | 'statement';
  /** Server connections per database. @default 20 */
  poolSize?: number;
  log?: (line: string) => void;
}

const CANDIDATES = [process.env.PGBOUNCER_PATH, '/usr/sbin/pgbouncer', '/usr/bin/pgbouncer'];

export function findPgBouncer(): string | undefined {
  return CANDIDATES.find((p): p is string => typeof p === 'string' && existsSync(p));
}

export async function startPgBouncer(options: StartPgBouncerOptions): Promise<PgBouncer> {
  const binary = findPgBouncer();
  if (!binary) {
    throw new Error('pgbouncer is not installed (apt-get install pgbouncer), or set PGBOUNCER_PATH');
  }
  const server = new URL(options.serverUrl);
  const identity = await runAsIdentity();
  const base = await mkdtemp(join(tmpdir(), 'formfleet-pgbouncer-'));
  const port = await freePort();
  const quote = (v: string) => `'${v.replace(/'/g, "''")}'`;
  const target = [
    `host=${server.hostname}`,
    `port=${server.port || 5432}`,
    `user=${quote(decodeURIComponent(server.username) || 'postgres')}`,
    ...(server.password ? [`password=${quote(decodeURIComponent(server.password))}`] : []),
  ].join(' ');
  const config = join(base, 'pgbouncer.ini');
  await writeFile(
    config,
    [
      '[databases]',
      // Every database name a client asks for, on the server, as the server URL's user.
      `* = ${target}`,
      '[pgbouncer]',
      'listen_addr = 127.0.0.1',
      `listen_port = ${port}`,
      'unix_socket_dir =',
      // Loopback test traffic only: clients are not authenticated, the server login is the one above.
      'auth_type = any',
      `pool_mode = ${options.poolMode ?? 'transaction'}`,
      `default_pool_size = ${options.poolSize ?? 20}`,
      'max_client_conn = 2000',
      'server_check_delay = 0',
      'logfile =',
      'pidfile =',
      '',
    ].join('\n'),
    { mode: 0o600 },
  );
  if (identity) {
    await chown(base, identity.uid, identity.gid);
    await chown(config, identity.uid, identity.gid);
  }
  const proc: ManagedProcess = spawnManaged('pgbouncer', binary, [config], {
    ...(identity ? { uid: identity.uid, gid: identity.gid } : {}),
    cwd: base,
  });
  const urlFor = (serverDatabaseUrl: string) => {
    const url = new URL(serverDatabaseUrl);
    url.hostname = '127.0.0.1';
    url.port = String(port);
    return url.toString();
  };
  const url = urlFor(options.serverUrl);
  try {
    await awaitReady(proc, 'PgBouncer', () => canConnect(url), 15_000);
  } catch (err) {
    await rm(base, { recursive: true, force: true });
    throw err;
  }
  options.log?.(`pgbouncer ${url} (${options.poolMode ?? 'transaction'} pooling) in front of ${server.host}`);
  return {
    url,
    urlFor,
    async stop() {
      // SIGTERM: PgBouncer's immediate shutdown (the clients are done by then).
      await proc.stop(2_000);
      await rm(base, { recursive: true, force: true });
    },
  };
}
