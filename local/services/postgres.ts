/**
 * Postgres for the local runtime and the tests, in order of preference:
 *  1. DATABASE_URL, when set: an existing server (CI starts Debian's cluster; a developer may point at any).
 *  2. A throwaway server from the installed PostgreSQL binaries (initdb + postgres) on a free loopback
 *     port, owned by this process and stopped with it.
 *  3. PGlite (Postgres compiled to WASM) behind its wire-protocol socket server, where no binaries exist.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { chmod, chown, copyFile, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { freePort, waitFor } from './ports.ts';
import { awaitReady, type ManagedProcess, spawnManaged } from './processes.ts';

const run = promisify(execFile);

export type PostgresKind = 'external' | 'throwaway' | 'pglite';

export interface PostgresServer {
  readonly kind: PostgresKind;
  /** Connection string of the server's default database. */
  readonly url: string;
  /** Where the data is kept across runs, when it is (a throwaway cluster or PGlite given a dataDir). */
  readonly dataDir?: string;
  stop(): Promise<void>;
}

export interface StartPostgresOptions {
  /** Use this server instead of starting one (defaults to process.env.DATABASE_URL). */
  databaseUrl?: string | undefined;
  /** Force a kind (tests of the fallbacks); otherwise the first available in the order above. */
  kind?: PostgresKind;
  /** Keep the throwaway cluster's data here across runs (npm start); a temp dir otherwise. */
  dataDir?: string;
  /**
   * Loopback port of the throwaway server (a free one otherwise). With `dataDir`, a server stopped and
   * started again keeps its URL and data: the outage tests restart the database under a running system.
   */
  port?: number;
  /**
   * Serve TLS with this certificate and key (PEM files; copied into the cluster's directory, since Postgres
   * wants the key owned by its user with mode 0600). Plain connections are still accepted.
   */
  tls?: ServerCertificate;
  log?: (line: string) => void;
}

export interface ServerCertificate {
  readonly certFile: string;
  readonly keyFile: string;
}

/** A throwaway server started with `tls`: its certificate can be swapped while it runs. */
export interface TlsPostgresServer extends PostgresServer {
  /** Serves `certificate` to connections made from now on (reloads the server's configuration). */
  useCertificate(certificate: ServerCertificate): Promise<void>;
}

export async function startPostgres(
  options: StartPostgresOptions & { tls: ServerCertificate },
): Promise<TlsPostgresServer>;
export async function startPostgres(options?: StartPostgresOptions): Promise<PostgresServer>;
export async function startPostgres(options: StartPostgresOptions = {}): Promise<PostgresServer> {
  const url = options.databaseUrl ?? process.env.DATABASE_URL;
  const kind = options.kind ?? (url ? 'external' : findPostgresBinDir() ? 'throwaway' : 'pglite');
  if (kind === 'external') {
    if (!url) throw new Error('DATABASE_URL is not set, so there is no external Postgres to use');
    await waitFor('Postgres at DATABASE_URL', () => canConnect(url), { timeoutMs: 15_000, intervalMs: 250 });
    return { kind, url, stop: async () => {} };
  }
  if (options.tls && kind !== 'throwaway') {
    throw new Error('a TLS Postgres needs the PostgreSQL server binaries (a throwaway cluster)');
  }
  if (kind === 'throwaway') return startThrowaway(options);
  return startPglite(options);
}

/** The bin directory of the newest installed PostgreSQL, if any. */
export function findPostgresBinDir(): string | undefined {
  if (process.env.PG_BIN_DIR && existsSync(join(process.env.PG_BIN_DIR, 'initdb')))
    return process.env.PG_BIN_DIR;
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root)
    .filter((v) => existsSync(join(root, v, 'bin', 'initdb')))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] ? join(root, versions[0], 'bin') : undefined;
}

/** Whether a server at `url` answers a query (rejects with why not). */
export async function canConnect(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2_000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } finally {
    await client.end().catch(() => {});
  }
}

/**
 * initdb refuses to run as root (and so does PgBouncer), so as root the cluster runs as the `postgres`
 * system user.
 */
export async function runAsIdentity(): Promise<{ uid: number; gid: number } | undefined> {
  if (process.getuid?.() !== 0) return undefined;
  try {
    const uid = Number((await run('id', ['-u', 'postgres'])).stdout.trim());
    const gid = Number((await run('id', ['-g', 'postgres'])).stdout.trim());
    return { uid, gid };
  } catch {
    throw new Error('running as root needs a "postgres" system user to own the throwaway cluster');
  }
}

/** Whether `identity` (the postgres user) can enter `dir`, every directory above it included. */
async function reachableBy(identity: { uid: number; gid: number }, dir: string): Promise<boolean> {
  try {
    await run('test', ['-x', dir], { uid: identity.uid, gid: identity.gid });
    return true;
  } catch {
    return false;
  }
}

async function startThrowaway(options: StartPostgresOptions): Promise<TlsPostgresServer> {
  const bin = findPostgresBinDir();
  if (!bin) throw new Error('no PostgreSQL server binaries found (looked in /usr/lib/postgresql/*/bin)');
  const identity = await runAsIdentity();
  const persistent = options.dataDir !== undefined;
  let base = options.dataDir ?? (await mkdtemp(join(tmpdir(), 'formfleet-pg-')));
  if (identity && persistent && !(await reachableBy(identity, dirname(base)))) {
    // As root in a checkout the postgres user cannot enter (a 0700 home or mktemp directory): the cluster
    // lives under the temp directory instead, at a path fixed by the checkout's, so it persists as well.
    const moved = join(
      tmpdir(),
      `formfleet-pg-${createHash('sha256').update(base).digest('hex').slice(0, 12)}`,
    );
    options.log?.(`the postgres user cannot reach ${base}; the cluster lives in ${moved}`);
    base = moved;
  }
  const dataDir = join(base, 'data');
  const socketDir = join(base, 'socket');
  await mkdir(base, { recursive: true });
  await mkdir(socketDir, { recursive: true });
  if (identity) {
    await chown(base, identity.uid, identity.gid);
    await chown(socketDir, identity.uid, identity.gid);
  }
  const asUser = identity ? { uid: identity.uid, gid: identity.gid } : {};
  const env = { ...process.env, LC_ALL: 'C.UTF-8', LANG: 'C.UTF-8' };
  if (!existsSync(join(dataDir, 'PG_VERSION'))) {
    options.log?.(`initdb ${dataDir}`);
    await new Promise<void>((resolve, reject) => {
      execFile(
        join(bin, 'initdb'),
        ['-D', dataDir, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--no-sync', '--locale=C.UTF-8'],
        { ...asUser, env, cwd: base },
        (err, _stdout, stderr) =>
          err ? reject(new Error(`initdb failed: ${stderr || err.message}`)) : resolve(),
      );
    });
  }
  const port = options.port ?? (await freePort());
  const tlsDir = join(base, 'tls');
  const installCertificate = async (certificate: ServerCertificate) => {
    await mkdir(tlsDir, { recursive: true });
    await copyFile(certificate.certFile, join(tlsDir, 'server.crt'));
    await copyFile(certificate.keyFile, join(tlsDir, 'server.key'));
    await chmod(join(tlsDir, 'server.key'), 0o600);
    if (identity) {
      for (const f of ['', 'server.crt', 'server.key'])
        await chown(join(tlsDir, f), identity.uid, identity.gid);
    }
  };
  if (options.tls) await installCertificate(options.tls);
  const tlsArgs = options.tls
    ? [
        '-c',
        'ssl=on',
        '-c',
        `ssl_cert_file=${join(tlsDir, 'server.crt')}`,
        '-c',
        `ssl_key_file=${join(tlsDir, 'server.key')}`,
      ]
    : [];
  const proc: ManagedProcess = spawnManaged(
    'postgres',
    join(bin, 'postgres'),
    [
      '-D',
      dataDir,
      '-p',
      String(port),
      '-k',
      socketDir,
      '-c',
      'listen_addresses=127.0.0.1',
      // A disposable development database: durability traded for speed.
      '-c',
      'fsync=off',
      '-c',
      'synchronous_commit=off',
      '-c',
      'full_page_writes=off',
      '-c',
      'max_connections=300',
      '-c',
      'shared_buffers=256MB',
      ...tlsArgs,
    ],
    { ...asUser, env, cwd: base },
  );
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  await awaitReady(proc, 'the throwaway Postgres server', () => canConnect(url), 30_000);
  options.log?.(`postgres ${url} (data in ${dataDir})`);
  return {
    kind: 'throwaway',
    url,
    ...(persistent ? { dataDir: base } : {}),
    async useCertificate(certificate: ServerCertificate) {
      if (!options.tls) throw new Error('this Postgres was started without TLS');
      await installCertificate(certificate);
      await reloadConfiguration(url);
    },
    async stop() {
      // SIGINT is Postgres's "fast shutdown": disconnect clients, checkpoint, exit.
      if (proc.child.exitCode === null) proc.child.kill('SIGINT');
      await Promise.race([proc.exited, new Promise((r) => setTimeout(r, 10_000))]);
      await proc.stop(1_000);
      if (!persistent) await rm(base, { recursive: true, force: true });
    },
  };
}

/** Reloads the server's configuration (and TLS files) and waits until new connections see it. */
async function reloadConfiguration(url: string): Promise<void> {
  const loadTime = async () => {
    const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2_000 });
    await client.connect();
    try {
      return (await client.query<{ t: string }>('SELECT pg_conf_load_time()::text AS t')).rows[0]?.t;
    } finally {
      await client.end().catch(() => {});
    }
  };
  const before = await loadTime();
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  try {
    await admin.query('SELECT pg_reload_conf()');
  } finally {
    await admin.end();
  }
  await waitFor('the configuration reload', async () => (await loadTime()) !== before, {
    timeoutMs: 10_000,
    intervalMs: 50,
  });
}

async function startPglite(options: StartPostgresOptions): Promise<PostgresServer> {
  // Imported lazily: only the no-binaries fallback pays for loading the WASM build.
  const { PGlite } = await import('@electric-sql/pglite');
  const { PGLiteSocketServer } = await import('@electric-sql/pglite-socket');
  const db = options.dataDir ? new PGlite(options.dataDir) : new PGlite();
  await db.waitReady;
  const port = await freePort();
  const server = new PGLiteSocketServer({ db, port, host: '127.0.0.1' });
  await server.start();
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  options.log?.(`pglite ${url}`);
  return {
    kind: 'pglite',
    url,
    ...(options.dataDir ? { dataDir: options.dataDir } : {}),
    async stop() {
      await server.stop();
      await db.close();
    },
  };
}

/**
 * Creates a fresh, empty database on `serverUrl` and returns its URL and a drop function. Tests use one per
 * file, so they can run in parallel against one server. (PGlite has a single database: it returns the
 * server's own, and drop is a no-op.)
 */
export async function createScratchDatabase(
  serverUrl: string,
  name: string,
): Promise<{ url: string; drop(): Promise<void> }> {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(name)) throw new Error(`invalid database name ${name}`);
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const c = new pg.Client({ connectionString: serverUrl });
      await c.connect();
      try {
        await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await c.end();
      }
    },
  };
}
