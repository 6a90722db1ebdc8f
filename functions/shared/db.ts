/**
 * The Postgres adapter: a node-postgres pool behind a tiny `Sql` interface the stores use, so a
 * transaction and a plain query look the same to them.
 *
 * Pooler-safe by construction: the startup packet carries only the application name (PgBouncer refuses
 * other startup parameters, RDS Proxy pins on them), node-postgres's unnamed prepared statements are all it
 * uses (named ones break behind a transaction pooler), and nothing sets session state: timeouts are SET
 * LOCAL inside the transaction, locks are transaction-scoped or row locks. TLS comes from the connection
 * string through #shared/database-tls, the one place that reads it.
 */
import pg from 'pg';
import { DATABASE } from '#policy';
import {
  type DatabaseTarget,
  explainConnectError,
  type NamedCa,
  pgConnectionConfig,
} from '#shared/database-tls';

export interface QueryResult<R> {
  rows: R[];
  rowCount: number;
}

export interface Sql {
  query<R = Record<string, unknown>>(text: string, values?: readonly unknown[]): Promise<QueryResult<R>>;
  /** Runs `fn` in one transaction (BEGIN/COMMIT, ROLLBACK on throw). Nested calls reuse the outer one. */
  transaction<T>(fn: (tx: Sql) => Promise<T>): Promise<T>;
}

export interface Database extends Sql {
  /** Closes every pooled connection. */
  end(): Promise<void>;
  readonly pool: pg.Pool;
  /** Where it connects (no password), for messages. */
  readonly target: DatabaseTarget;
  /**
   * Opens (or reuses) one connection and returns it to the pool: a cold start finds a wrong certificate,
   * password or host at once. Throws DatabaseConnectionError, which says what failed and what to do.
   */
  check(): Promise<void>;
}

/** bigint (int8) and numeric columns come back as JS numbers: every value formfleet stores fits. */
const types = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === pg.types.builtins.INT8) return (v: string) => Number(v);
    return pg.types.getTypeParser(oid, format);
  },
};

export interface DatabaseOptions {
  connectionString: string;
  /** The CA the deployment names for this database (replaces the default trust store). */
  ca?: NamedCa | undefined;
  /** Pool size. A Lambda container serves one request at a time, so it needs few (policy DATABASE.poolMax). */
  max?: number;
  /** Name shown in pg_stat_activity. */
  applicationName?: string;
  connectionTimeoutMillis?: number;
  /** Statement timeout of each transaction (SET LOCAL); 0 for none. */
  statementTimeoutMillis?: number;
}

export function createDatabase(options: DatabaseOptions): Database {
  const { config, target } = pgConnectionConfig(options.connectionString, { ca: options.ca });
  const connectTimeoutMs = options.connectionTimeoutMillis ?? DATABASE.connectTimeoutMs;
  const pool = new pg.Pool({
    ...config,
    max: options.max ?? 5,
    application_name: options.applicationName ?? 'formfleet',
    connectionTimeoutMillis: connectTimeoutMs,
    idleTimeoutMillis: DATABASE.idleTimeoutMs,
    // Idle pooled connections do not keep a process alive (a script that loads a handler, whose cold start
    // opened one, still exits); Lambda freezes the container anyway.
    allowExitOnIdle: true,
    types,
  });
  // An idle client losing its connection (a database restart) must not crash the process; the pool
  // drops it and the next query opens a fresh one.
  pool.on('error', () => {});
  // Nor may a checked-out one: node-postgres emits 'error' on a client whose connection ends while it is
  // held (a transaction between statements), and an 'error' event without a listener is an uncaught
  // exception. The loss still reaches the holder: its next query rejects, and it releases the client as
  // broken. (Found by test/reliability/postgres-outage.test.ts.)
  pool.on('connect', (client) => {
    client.on('error', () => {});
  });
  const begin = beginStatement(options.statementTimeoutMillis ?? DATABASE.statementTimeoutMs);
  return {
    pool,
    target,
    query: (text, values) => runQuery(pool, text, values),
    transaction: (fn) => transaction(pool, begin, fn),
    end: () => pool.end(),
    async check() {
      let client: pg.PoolClient;
      try {
        client = await pool.connect();
      } catch (err) {
        throw explainConnectError(err, target, connectTimeoutMs);
      }
      client.release();
    },
  };
}

/** BEGIN, with the statement timeout set for this transaction only (one round trip). */
const beginStatement = (timeoutMs: number) =>
  timeoutMs > 0 ? `BEGIN; SET LOCAL statement_timeout = ${Math.trunc(timeoutMs)}` : 'BEGIN';

export interface SessionOptions {
  connectionString: string;
  ca?: NamedCa | undefined;
  applicationName: string;
  connectionTimeoutMillis?: number;
}

/** A connected session of its own (not pooled): migrations and the database check. */
export type Session = pg.Client & { readonly target: DatabaseTarget };

/**
 * Opens one dedicated connection with the same TLS rules as the pool, within the connect timeout. Throws
 * DatabaseConnectionError on failure.
 */
export async function connectSession(options: SessionOptions): Promise<Session> {
  const { config, target } = pgConnectionConfig(options.connectionString, { ca: options.ca });
  const timeoutMs = options.connectionTimeoutMillis ?? DATABASE.connectTimeoutMs;
  const client = new pg.Client({
    ...config,
    application_name: options.applicationName,
    connectionTimeoutMillis: timeoutMs,
    types,
  });
  // A session that loses its server later must not crash the process; its next query rejects.
  client.on('error', () => {});
  try {
    await client.connect();
  } catch (err) {
    await client.end().catch(() => {});
    throw explainConnectError(err, target, timeoutMs);
  }
  return Object.assign(client, { target });
}

async function runQuery<R>(
  runner: pg.Pool | pg.PoolClient,
  text: string,
  values?: readonly unknown[],
): Promise<QueryResult<R>> {
  const res = await runner.query(text, values as unknown[] | undefined);
  return { rows: res.rows as R[], rowCount: res.rowCount ?? 0 };
}

async function transaction<T>(pool: pg.Pool, begin: string, fn: (tx: Sql) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  const tx: Sql = {
    query: (text, values) => runQuery(client, text, values),
    transaction: (inner) => inner(tx),
  };
  try {
    await client.query(begin);
    const result = await fn(tx);
    await client.query('COMMIT');
    client.release();
    return result;
  } catch (err) {
    try {
      await client.query('ROLLBACK');
      client.release();
    } catch {
      // The connection itself is broken: destroy it rather than return it to the pool.
      client.release(true);
    }
    throw err;
  }
}

/** Postgres SQLSTATE of an error thrown by node-postgres, if any. */
export function pgErrorCode(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string'
    ? err.code
    : undefined;
}
