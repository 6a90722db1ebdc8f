/**
 * The Postgres adapter: a node-postgres pool behind a tiny `Sql` interface the stores use, so a
 * transaction and a plain query look the same to them.
 */
import pg from 'pg';

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
  /** Pool size. A Lambda container serves one request at a time, so it needs few. */
  max?: number;
  /** Name shown in pg_stat_activity. */
  applicationName?: string;
  connectionTimeoutMillis?: number;
  statementTimeoutMillis?: number;
}

export function createDatabase(options: DatabaseOptions): Database {
  const pool = new pg.Pool({
    connectionString: options.connectionString,
    max: options.max ?? 5,
    application_name: options.applicationName ?? 'formfleet',
    connectionTimeoutMillis: options.connectionTimeoutMillis ?? 5_000,
    statement_timeout: options.statementTimeoutMillis ?? 30_000,
    idleTimeoutMillis: 30_000,
    types,
  });
  // An idle client losing its connection (a database restart) must not crash the process; the pool
  // drops it and the next query opens a fresh one.
  pool.on('error', () => {});
  // Nor may a checked-out one: node-postgres emits 'error' on a client whose connection ends while it is
  // held (a transaction between statements, the politeness lock held for a site visit), and an 'error'
  // event without a listener is an uncaught exception. The loss still reaches the holder: its next query
  // rejects, and it releases the client as broken. (Found by test/reliability/postgres-outage.test.ts.)
  pool.on('connect', (client) => {
    client.on('error', () => {});
  });
  return {
    pool,
    query: (text, values) => runQuery(pool, text, values),
    transaction: (fn) => transaction(pool, fn),
    end: () => pool.end(),
  };
}

async function runQuery<R>(
  runner: pg.Pool | pg.PoolClient,
  text: string,
  values?: readonly unknown[],
): Promise<QueryResult<R>> {
  const res = await runner.query(text, values as unknown[] | undefined);
  return { rows: res.rows as R[], rowCount: res.rowCount ?? 0 };
}

async function transaction<T>(pool: pg.Pool, fn: (tx: Sql) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  const tx: Sql = {
    query: (text, values) => runQuery(client, text, values),
    transaction: (inner) => inner(tx),
  };
  try {
    await client.query('BEGIN');
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
