/**
 * How formfleet reads a connection string's TLS settings and names connection failures (pure parts; the
 * TLS Postgres integration test proves them against a real server), how the migration runner splits a
 * no-transaction file, and the rule that nothing on the request path keeps session state, checked over
 * the source itself.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { FUNCTIONS } from '#functions/manifest';
import { PROJECT_ROOT } from '#local/services/python';
import { DATABASE } from '#policy';
import { budgetTable, connectionBudget } from '#shared/connection-budget';
import { connectionStringFromSecret } from '#shared/database-config';
import {
  DatabaseConnectionError,
  type DatabaseTarget,
  explainConnectError,
  pgConnectionConfig,
} from '#shared/database-tls';
import { ConfigError } from '#shared/env';
import { splitStatements } from '#shared/migrate';

const REMOTE = 'postgres://app:s3cret-pw@db.example.com:6543/app';

describe('TLS settings from the connection string', () => {
  it("verify-full verifies against Node's default store (so NODE_EXTRA_CA_CERTS counts) and strips the TLS parameters", () => {
    const { config, target } = pgConnectionConfig(`${REMOTE}?sslmode=verify-full&application_name=x`);

    expect(config.ssl).toEqual({ rejectUnauthorized: true, minVersion: 'TLSv1.2' });
    expect(config.connectionString).toBe(
      'postgres://app:s3cret-pw@db.example.com:6543/app?application_name=x',
    );
    expect(target).toMatchObject({
      host: 'db.example.com',
      port: 6543,
      database: 'app',
      user: 'app',
      sslmode: 'verify-full',
    });
  });

  it("keeps its TLS options in force in node-postgres (a connection string's sslmode would replace them)", () => {
    const { config } = pgConnectionConfig(`${REMOTE}?sslmode=verify-full`);
    const raw = new pg.Client({
      connectionString: `${REMOTE}?sslmode=verify-full`,
      ssl: { rejectUnauthorized: false },
    });
    const ours = new pg.Client(config);

    expect((raw as unknown as { connectionParameters: { ssl: unknown } }).connectionParameters.ssl).toEqual(
      {},
    );
    expect((ours as unknown as { connectionParameters: { ssl: unknown } }).connectionParameters.ssl).toEqual(
      config.ssl,
    );
  });

  it.each([
    [
      'sslmode=require',
      /sslmode=require does not verify the server's certificate.*write sslmode=verify-full/,
    ],
    ['sslmode=prefer', /sslmode=prefer does not verify/],
    ['ssl=true', /ssl=true is node-postgres shorthand; write sslmode=verify-full/],
    ['sslmode=verify-ca', /verify-ca skips the host name check/],
    ['sslmode=fast', /unknown sslmode=fast/],
    ['', /names no sslmode; write sslmode=verify-full/],
    [
      'sslmode=verify-full&sslrootcert=/nonexistent/ca.pem',
      /sslrootcert file \/nonexistent\/ca\.pem cannot be read \(ENOENT\)/,
    ],
    ['sslmode=verify-full&sslcert=/x.crt', /sslcert and sslkey go together/],
  ])('refuses %s with what to write instead, never showing the password', (query, message) => {
    const attempt = () => pgConnectionConfig(`${REMOTE}?${query}`);
    expect(attempt).toThrow(ConfigError);
    expect(attempt).toThrow(message);
    expect(() => attempt()).not.toThrow(/s3cret-pw/);
  });

  it('allows no TLS on loopback without asking, and anywhere when sslmode=disable says so', () => {
    expect(pgConnectionConfig('postgres://postgres@127.0.0.1:5432/db').config.ssl).toBe(false);
    expect(pgConnectionConfig('postgres://postgres@localhost/db').config.ssl).toBe(false);
    expect(pgConnectionConfig(`${REMOTE}?sslmode=disable`).config.ssl).toBe(false);
  });

  it('refuses a named CA that is not a PEM certificate', () => {
    expect(() =>
      pgConnectionConfig(`${REMOTE}?sslmode=verify-full`, {
        ca: { pem: 'not a cert', source: 'DATABASE_CA_SECRET_ARN' },
      }),
    ).toThrow(/DATABASE_CA_SECRET_ARN holds no PEM certificate/);
  });

  it('builds the RDS secret shape into a verify-full connection string', () => {
    const url = connectionStringFromSecret(
      JSON.stringify({
        host: 'db.abc.us-east-1.rds.amazonaws.com',
        port: 5432,
        username: 'app',
        password: 'p@ss',
        dbname: 'formfleet',
      }),
    );
    expect(url).toBe(
      'postgres://app:p%40ss@db.abc.us-east-1.rds.amazonaws.com:5432/formfleet?sslmode=verify-full',
    );
    expect(pgConnectionConfig(url).target.sslmode).toBe('verify-full');
  });
});

describe('connection failures in words', () => {
  const target: DatabaseTarget = {
    host: 'db.example.com',
    port: 5432,
    database: 'app',
    user: 'app',
    sslmode: 'verify-full',
    trust: "Node's default CAs",
  };
  const error = (props: Record<string, unknown>) =>
    Object.assign(new Error(String(props.message ?? 'x')), props);

  it.each([
    [{ code: '28P01', message: 'password authentication failed for user "app"' }, 'auth', true],
    [{ code: '3D000', message: 'database "app" does not exist' }, 'no-database', true],
    [{ code: '53300', message: 'sorry, too many clients already' }, 'no-slots', false],
    [{ code: 'ECONNREFUSED', message: 'connect ECONNREFUSED' }, 'unreachable', false],
    [{ message: 'timeout expired' }, 'timeout', false],
    [{ message: 'The server does not support SSL connections' }, 'tls-refused', true],
  ] as const)('%o is %s', (props, kind, permanent) => {
    const explained = explainConnectError(error(props), target, 5_000);
    expect(explained).toBeInstanceOf(DatabaseConnectionError);
    expect(explained.kind).toBe(kind);
    expect(explained.permanent).toBe(permanent);
    expect(explained.message).toMatch(
      /^cannot connect to Postgres at db\.example\.com:5432\/app as app \(sslmode=verify-full\): /,
    );
  });

  it('finds the cause of a pool timeout wrapped around a TLS error', () => {
    const wrapped = new Error('Connection terminated due to connection timeout', {
      cause: error({ code: 'CERT_HAS_EXPIRED', message: 'certificate has expired' }),
    });
    expect(explainConnectError(wrapped, target, 5_000).kind).toBe('tls-expired');
  });
});

describe('splitting a no-transaction migration into statements', () => {
  it('splits at top-level semicolons only, keeping strings, identifiers, dollar quotes and comments whole', () => {
    const sql = [
      '-- formfleet:no-transaction',
      "CREATE INDEX CONCURRENTLY a_idx ON t ((note || ';'));",
      `COMMENT ON INDEX "odd;name" IS 'it''s; fine';`,
      '/* a; block */ DO $body$ BEGIN PERFORM 1; END $body$;',
      'SELECT $$;$$;',
      '-- trailing; comment',
      '',
    ].join('\n');

    expect(splitStatements(sql)).toEqual([
      "-- formfleet:no-transaction\nCREATE INDEX CONCURRENTLY a_idx ON t ((note || ';'))",
      `COMMENT ON INDEX "odd;name" IS 'it''s; fine'`,
      '/* a; block */ DO $body$ BEGIN PERFORM 1; END $body$',
      'SELECT $$;$$',
    ]);
    expect(splitStatements('-- only a comment\n;\n  ')).toEqual([]);
  });
});

/** Every file under `dir` ending in one of `exts`. */
function files(dir: string, exts: string[]): string[] {
  return readdirSync(join(PROJECT_ROOT, dir), { withFileTypes: true }).flatMap((e) =>
    e.isDirectory()
      ? files(join(dir, e.name), exts)
      : exts.some((x) => e.name.endsWith(x))
        ? [join(dir, e.name)]
        : [],
  );
}

describe('no session state on the request path', () => {
  /** The migration runner may: it runs over the direct (session) connection. */
  const SESSION_ALLOWED = new Set(['functions/shared/migrate.ts']);
  const RULES: [string, RegExp][] = [
    ['a session advisory lock', /pg_(try_)?advisory_lock(_shared)?\s*\(/i],
    [
      'a session SET (use SET LOCAL in a transaction)',
      /['"`;]\s*SET\s+(?!LOCAL\b)(SESSION\s+)?[a-z_.]+\s*(=|TO\b)/i,
    ],
    ['set_config for the session (is_local false)', /set_config\s*\([^)]*,\s*false\s*\)/i],
    ['LISTEN', /['"`;]\s*LISTEN\s/i],
    ['a named prepared statement', /\bPREPARE\s+[a-z_]+\s+(\(|AS\b)|query\(\s*\{\s*name\s*:/i],
    ['a temporary table', /CREATE\s+(TEMP|TEMPORARY)\s+TABLE/i],
    ['a cursor held across transactions', /WITH\s+HOLD/i],
  ];

  it('holds for every function source and every SQL function', () => {
    const sources = [...files('functions', ['.ts']), ...files('sql', ['.sql'])].filter(
      (f) => !SESSION_ALLOWED.has(f),
    );
    expect(sources.length).toBeGreaterThan(20);
    const found: string[] = [];
    for (const file of sources) {
      const text = readFileSync(join(PROJECT_ROOT, file), 'utf8');
      for (const [what, pattern] of RULES)
        if (pattern.test(text)) found.push(`${relative('.', file)}: ${what}`);
    }
    expect(found).toEqual([]);
  });

  it('would notice one (the rules match what they forbid)', () => {
    const samples = [
      "await client.query('SELECT pg_try_advisory_lock($1, hashtext($2))')",
      "await db.query('SET statement_timeout = 0')",
      "PERFORM set_config('app.x', 'y', false)",
      'await db.query(`LISTEN jobs`)',
      "await client.query({ name: 'fetch-job', text: 'SELECT 1' })",
      'CREATE TEMP TABLE scratch (id int)',
      'DECLARE c CURSOR WITH HOLD FOR SELECT 1',
    ];
    for (const [i, sample] of samples.entries())
      expect((RULES[i] as [string, RegExp])[1].test(sample), sample).toBe(true);
    const allowed = [
      "'BEGIN; SET LOCAL statement_timeout = 30000'",
      'UPDATE jobs\n  SET status = $2',
      'pg_advisory_xact_lock(1, 2)',
    ];
    for (const sample of allowed)
      expect(
        RULES.some(([, p]) => p.test(sample)),
        sample,
      ).toBe(false);
  });
});

describe('the connection budget', () => {
  it('counts every function with the database need once, at its pool size', () => {
    const budget = connectionBudget();
    expect(budget.rows.flatMap((r) => r.functions).sort()).toEqual(
      FUNCTIONS.filter((f) => f.needs.database)
        .map((f) => f.name)
        .sort(),
    );
    for (const row of budget.rows) {
      expect(row.pool).toBe(DATABASE.poolMax[row.kind]);
      expect(row.connections).toBe(row.containers * row.pool);
    }
    expect(budget.total).toBe(budget.rows.reduce((n, r) => n + r.connections, 0));
    expect(connectionBudget({ workerConcurrency: 40 }).total - budget.total).toBe(
      (40 - 17) * DATABASE.poolMax.worker,
    );
  });

  it('is what docs/infrastructure.md shows for the default stage', () => {
    const doc = readFileSync(join(PROJECT_ROOT, 'docs/infrastructure.md'), 'utf8');
    const section = /<!-- connection-budget[^>]*-->\n([\s\S]*?)\n<!-- \/connection-budget -->/.exec(doc)?.[1];
    expect(section).toBe(budgetTable());
  });
});
