/**
 * Postgres over verified TLS, on a real server: a throwaway Postgres serving certificates from a CA this
 * test makes with openssl. verify-full connects (the stage's CA, sslrootcert, or Node's store extended by
 * NODE_EXTRA_CA_CERTS, which is how Lambda trusts the RDS CAs); a wrong CA, an expired certificate and a
 * certificate for another host each fail fast with an error that says what failed and what to change, in
 * a handler's cold start and in the migrate trigger alike; sslmode=require is refused before connecting.
 * The preflight's database check reports the same, and names the certificate the server presented.
 */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeMigrateTrigger, migrateTriggerDepsFromEnv } from '#functions/migrate/trigger';
import {
  createScratchDatabase,
  type ServerCertificate,
  startPostgres,
  type TlsPostgresServer,
} from '#local/services/postgres';
import { PROJECT_ROOT } from '#local/services/python';
import { checkDatabase } from '#shared/database-check';
import { databaseFromEnv } from '#shared/database-config';
import { type ConnectionFailure, DatabaseConnectionError, type NamedCa } from '#shared/database-tls';
import { connectSession, createDatabase } from '#shared/db';
import { ConfigError, type Env } from '#shared/env';
import { loadMigrations } from '#shared/migrate';
import { makeTestPki, type TestPki } from '#test/tls';

const run = promisify(execFile);

/** A TLS failure is found in the handshake: far below the connect timeout, never a hang. */
const FAST_MS = 3_000;

let pki: TestPki;
let server: TlsPostgresServer;
let port: string;
let ca: NamedCa;
let otherCa: NamedCa;
const drops: Array<() => Promise<void>> = [];

/** A fresh database on the TLS server, and its URL for `host` with `sslmode`. */
async function database(label: string): Promise<(host: string, sslmode: string) => string> {
  const scratch = await createScratchDatabase(server.url, `ff_tls_${label}`);
  drops.push(scratch.drop);
  const name = new URL(scratch.url).pathname;
  return (host, sslmode) => `postgres://postgres@${host}:${port}${name}?sslmode=${sslmode}`;
}

async function failureOf(attempt: Promise<unknown>): Promise<{ error: unknown; ms: number }> {
  const started = Date.now();
  const error = await attempt.then(
    () => undefined,
    (err: unknown) => err,
  );
  return { error, ms: Date.now() - started };
}

function expectConnectionFailure(
  outcome: { error: unknown; ms: number },
  kind: ConnectionFailure,
  message: RegExp,
) {
  expect(outcome.error).toBeInstanceOf(DatabaseConnectionError);
  const err = outcome.error as DatabaseConnectionError;
  expect(err.kind).toBe(kind);
  expect(err.permanent).toBe(true);
  expect(err.message).toMatch(message);
  expect(outcome.ms).toBeLessThan(FAST_MS);
}

/** Whether migrations ran: the tracking table exists. */
async function migrated(url: string): Promise<boolean> {
  const plain = new URL(url);
  plain.hostname = '127.0.0.1';
  plain.searchParams.set('sslmode', 'disable');
  const session = await connectSession({ connectionString: plain.toString(), applicationName: 'probe' });
  try {
    const { rows } = await session.query<{ t: string | null }>(
      `SELECT to_regclass('schema_migrations')::text AS t`,
    );
    return rows[0]?.t !== null;
  } finally {
    await session.end();
  }
}

beforeAll(async () => {
  pki = await makeTestPki();
  server = await startPostgres({ kind: 'throwaway', tls: pki.server });
  port = new URL(server.url).port;
  ca = { pem: await readFile(pki.caFile, 'utf8'), source: 'the test CA' };
  otherCa = { pem: await readFile(pki.otherCaFile, 'utf8'), source: 'another CA' };
});
afterAll(async () => {
  for (const drop of drops) await drop().catch(() => {});
  await server?.stop();
  await pki?.remove();
});

describe('verify-full against a CA the deployment names', () => {
  it('connects by IP address and by host name, and the session is TLS', async () => {
    const url = await database('names');
    for (const host of ['127.0.0.1', 'localhost']) {
      const db = createDatabase({ connectionString: url(host, 'verify-full'), ca, max: 1 });
      try {
        const { rows } = await db.query<{ ssl: boolean; version: string }>(
          'SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()',
        );
        expect(rows[0]?.ssl, host).toBe(true);
        expect(rows[0]?.version).toMatch(/^TLSv1\.[23]$/);
      } finally {
        await db.end();
      }
    }
  });

  it('takes the CA from sslrootcert in the connection string as libpq does', async () => {
    const url = await database('rootcert');
    const db = createDatabase({
      connectionString: `${url('localhost', 'verify-full')}&sslrootcert=${pki.caFile}`,
    });
    try {
      expect((await db.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    } finally {
      await db.end();
    }
  });

  it('builds a handler database at cold start from DATABASE_URL and DATABASE_CA_FILE', async () => {
    const url = await database('cold_start');
    const db = await databaseFromEnv(
      { DATABASE_URL: url('127.0.0.1', 'verify-full'), DATABASE_CA_FILE: pki.caFile },
      'test',
    );
    try {
      expect(db.target).toMatchObject({ host: '127.0.0.1', sslmode: 'verify-full' });
      expect(db.target.trust).toMatch(/DATABASE_CA_FILE .*ca\.crt: CN=formfleet test CA/);
      expect((await db.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    } finally {
      await db.end();
    }
  });

  it('migrates over verified TLS through the direct connection, the request-path one left alone', async () => {
    const url = await database('migrate_ok');
    const env: Env = {
      DATABASE_URL: 'postgres://nobody@127.0.0.1:1/never?sslmode=verify-full',
      DATABASE_DIRECT_URL: url('localhost', 'verify-full'),
      DATABASE_CA_FILE: pki.caFile,
    };
    const report = await makeMigrateTrigger(await migrateTriggerDepsFromEnv(env))();
    expect(report.applied).toEqual((await loadMigrations()).map((m) => m.file));
  });

  it('checks names only against a named CA with verify-ca, and refuses verify-ca without one', async () => {
    const url = await database('verify_ca');
    await server.useCertificate(pki.mismatched);
    try {
      const db = createDatabase({ connectionString: url('127.0.0.1', 'verify-ca'), ca });
      try {
        expect((await db.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
      } finally {
        await db.end();
      }
      expect(() => createDatabase({ connectionString: url('127.0.0.1', 'verify-ca') })).toThrow(
        /verify-ca skips the host name check.*name the CA, or write sslmode=verify-full/,
      );
    } finally {
      await server.useCertificate(pki.server);
    }
  });
});

describe('Lambda trusts the RDS CAs through NODE_EXTRA_CA_CERTS', () => {
  /** Runs the migrate trigger's Lambda entry in a fresh Node process (NODE_EXTRA_CA_CERTS is read at start). */
  async function migrateEntry(env: Record<string, string>) {
    const script = `const m = await import('#functions/migrate-trigger'); console.log(JSON.stringify(await m.handler()));`;
    const { NODE_EXTRA_CA_CERTS: _, DATABASE_URL: __, ...parent } = process.env;
    return run(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: PROJECT_ROOT,
      env: { ...parent, POWERTOOLS_LOG_LEVEL: 'SILENT', ...env },
      timeout: 60_000,
    });
  }

  it('verifies a server whose CA is only in the NODE_EXTRA_CA_CERTS bundle, as the migrate trigger runs in Lambda', async () => {
    const url = await database('extra_ca');

    const { stdout } = await migrateEntry({
      DATABASE_URL: url('localhost', 'verify-full'),
      NODE_EXTRA_CA_CERTS: pki.caFile,
    });

    expect(JSON.parse(stdout).applied).toEqual((await loadMigrations()).map((m) => m.file));
  });

  it('without the bundle, fails the deploy naming the untrusted certificate and where trust comes from', async () => {
    const url = await database('no_extra_ca');

    const failed = await migrateEntry({ DATABASE_URL: url('localhost', 'verify-full') }).then(
      () => undefined,
      (err: { code: number; stderr: string }) => err,
    );

    expect(failed?.code).not.toBe(0);
    expect(failed?.stderr).toMatch(
      /does not chain to a trusted CA \(UNABLE_TO_VERIFY_LEAF_SIGNATURE; trusted: Node's default CAs/,
    );
    expect(failed?.stderr).toMatch(/NODE_EXTRA_CA_CERTS=\/var\/runtime\/ca-cert\.pem/);
    expect(await migrated(url('localhost', 'verify-full'))).toBe(false);
  });
});

describe('certificates that must not be trusted fail fast, with what to change', () => {
  /**
   * With the server presenting `certificate`, a handler's cold start and the migrate trigger both fail
   * fast with `kind` and `message`, and nothing is migrated.
   */
  async function refusedEverywhere(
    label: string,
    setup: { certificate: ServerCertificate; host: string; caFile: string },
    kind: ConnectionFailure,
    message: RegExp,
  ): Promise<void> {
    const url = (await database(label))(setup.host, 'verify-full');
    await server.useCertificate(setup.certificate);
    try {
      const env: Env = { DATABASE_URL: url, DATABASE_CA_FILE: setup.caFile };

      const coldStart = await failureOf(databaseFromEnv(env, 'test'));
      const trigger = await failureOf(
        migrateTriggerDepsFromEnv(env).then((deps) => makeMigrateTrigger(deps)()),
      );

      for (const outcome of [coldStart, trigger]) expectConnectionFailure(outcome, kind, message);
      expect(await migrated(url)).toBe(false);
    } finally {
      await server.useCertificate(pki.server);
    }
  }

  it('a wrong CA: the handler cold start and the migrate trigger both refuse, pointing at the CA secret', async () => {
    await refusedEverywhere(
      'wrong_ca',
      { certificate: pki.server, host: 'localhost', caFile: pki.otherCaFile },
      'tls-untrusted',
      /does not chain to a trusted CA .*trusted: the named CA \(DATABASE_CA_FILE .*CN=some other CA.*databaseCaSecretArn/,
    );
  });

  it("no CA named: Node's default store does not know the test CA", async () => {
    const url = await database('default_store');
    const outcome = await failureOf(
      databaseFromEnv({ DATABASE_URL: url('127.0.0.1', 'verify-full') }, 'test'),
    );
    expectConnectionFailure(outcome, 'tls-untrusted', /trusted: Node's default CAs/);
  });

  it('a certificate for another host: refused with the names it does hold', async () => {
    await refusedEverywhere(
      'mismatch',
      { certificate: pki.mismatched, host: '127.0.0.1', caFile: pki.caFile },
      'tls-hostname',
      /certificate is not for 127\.0\.0\.1 \(it names DNS:db\.example\.test\)\. Connect by a name the certificate lists/,
    );
  });

  it('an expired certificate: refused, saying it expired', async () => {
    await refusedEverywhere(
      'expired',
      { certificate: pki.expired, host: 'localhost', caFile: pki.caFile },
      'tls-expired',
      /certificate has expired\. Renew the server certificate/,
    );
  });
});

describe('modes that would not verify are refused at cold start, before any connection', () => {
  it.each(['require', 'prefer', 'allow', 'no-verify'])(
    'sslmode=%s says to write verify-full instead',
    async (mode) => {
      const url = await database(`mode_${mode.replace('-', '_')}`);
      const env: Env = { DATABASE_URL: url('localhost', mode) };

      const coldStart = await failureOf(databaseFromEnv(env, 'test'));
      const trigger = await failureOf(migrateTriggerDepsFromEnv(env));

      for (const outcome of [coldStart, trigger]) {
        expect(outcome.error).toBeInstanceOf(ConfigError);
        expect((outcome.error as Error).message).toMatch(
          new RegExp(`sslmode=${mode} does not verify the server's certificate.*write sslmode=verify-full`),
        );
        expect((outcome.error as Error).message).not.toMatch(/postgres:\/\//);
      }
    },
  );

  it('a remote host with no sslmode at all is refused too; loopback without TLS stays allowed', () => {
    expect(() => createDatabase({ connectionString: 'postgres://app:pw@db.example.com/app' })).toThrow(
      /db\.example\.com:5432: the connection string names no sslmode; write sslmode=verify-full/,
    );
    expect(
      createDatabase({ connectionString: `postgres://postgres@127.0.0.1:${port}/postgres` }).target.sslmode,
    ).toBe('disable');
  });
});

describe('a server that accepts the connection and then says nothing', () => {
  let silent: Server;
  let silentPort: number;
  const sockets = new Set<Socket>();
  beforeAll(async () => {
    silent = createServer((socket) => sockets.add(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    silentPort = (silent.address() as { port: number }).port;
  });
  afterAll(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => silent.close(() => resolve()));
  });

  it('fails the migrate trigger after the connect timeout, not never', async () => {
    const env: Env = {
      DATABASE_URL: `postgres://postgres@127.0.0.1:${silentPort}/db?sslmode=verify-full`,
      DATABASE_CA_FILE: pki.caFile,
      DATABASE_CONNECT_TIMEOUT_MS: '800',
    };

    const outcome = await failureOf(
      migrateTriggerDepsFromEnv(env).then((deps) => makeMigrateTrigger(deps)()),
    );

    expect(outcome.error).toBeInstanceOf(DatabaseConnectionError);
    expect((outcome.error as DatabaseConnectionError).kind).toBe('timeout');
    expect((outcome.error as Error).message).toMatch(/no answer within 800 ms/);
    expect(outcome.ms).toBeLessThan(FAST_MS);
  });

  it('lets a handler start anyway (an outage may pass), its first query failing within the bound', async () => {
    const env: Env = {
      DATABASE_URL: `postgres://postgres@127.0.0.1:${silentPort}/db?sslmode=verify-full`,
      DATABASE_CA_FILE: pki.caFile,
      DATABASE_CONNECT_TIMEOUT_MS: '500',
    };
    const db = await databaseFromEnv(env, 'test');
    try {
      const outcome = await failureOf(db.query('SELECT 1'));
      expect(outcome.error).toBeInstanceOf(Error);
      expect(outcome.ms).toBeLessThan(FAST_MS);
    } finally {
      await db.end();
    }
  });
});

describe('the database check the preflight runs', () => {
  it('reports the server version, verified TLS, the certificate, and the pending migrations', async () => {
    const url = await database('check');
    const files = (await loadMigrations()).map((m) => m.file);

    const before = await checkDatabase({ connectionString: url('localhost', 'verify-full'), ca });
    await makeMigrateTrigger(
      await migrateTriggerDepsFromEnv({
        DATABASE_URL: url('localhost', 'verify-full'),
        DATABASE_CA_FILE: pki.caFile,
      }),
    )();
    const after = await checkDatabase({ connectionString: url('localhost', 'verify-full'), ca });

    expect(before).toMatchObject({
      ok: true,
      target: { host: 'localhost', sslmode: 'verify-full' },
      tls: {
        inUse: true,
        chainVerified: true,
        hostnameVerified: true,
        protocol: expect.stringMatching(/^TLSv1\.[23]$/),
      },
      migrations: { applied: [], pending: files, unknown: [], changed: [] },
    });
    if (!before.ok) throw new Error('unreachable');
    expect(before.serverVersion).toMatch(/^\d+\.\d+/);
    expect(before.tls.certificate).toMatchObject({
      issuer: 'CN=formfleet test CA',
      names: 'IP Address:127.0.0.1, DNS:localhost',
    });
    expect(before.tls.certificate?.daysLeft).toBeGreaterThanOrEqual(28);
    expect(after).toMatchObject({ ok: true, migrations: { applied: files, pending: [] } });
  });

  it('on a TLS failure, says what to change and shows the certificate the server presented', async () => {
    const url = await database('check_bad');
    const wrongCa = await checkDatabase({ connectionString: url('localhost', 'verify-full'), ca: otherCa });
    await server.useCertificate(pki.expired);
    try {
      const expired = await checkDatabase({ connectionString: url('localhost', 'verify-full'), ca });

      expect(expired).toMatchObject({ ok: false, kind: 'tls-expired', fix: expect.stringMatching(/Renew/) });
      expect(expired.ok === false && expired.certificate?.daysLeft).toBeLessThan(0);
      expect(wrongCa).toMatchObject({
        ok: false,
        kind: 'tls-untrusted',
        certificate: { issuer: 'CN=formfleet test CA' },
      });
      for (const check of [expired, wrongCa]) expect(check.elapsedMs).toBeLessThan(FAST_MS);
    } finally {
      await server.useCertificate(pki.server);
    }
  });

  it('answers a connection string it would not use with the fix, without connecting', async () => {
    const check = await checkDatabase({
      connectionString: 'postgres://app:hunter22@db.example.com/app?sslmode=require',
    });
    expect(check).toMatchObject({
      ok: false,
      kind: 'config',
      problem: expect.stringMatching(/write sslmode=verify-full/),
    });
    expect(JSON.stringify(check)).not.toContain('hunter22');
  });
});
