/**
 * The tests' pooler mode is real: with FORMFLEET_TEST_POOLER=pgbouncer a test database's URL and pool reach
 * Postgres through PgBouncer (the server answers on its own port, not the one the URL names); without it
 * they reach the server directly.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestDatabase, testDatabase, throughPooler } from '#test/services';

let t: TestDatabase;
beforeAll(async () => {
  t = await testDatabase('pooler_mode', { migrate: false });
});
afterAll(async () => t?.close());

describe(`test databases ${throughPooler() ? 'through PgBouncer' : 'directly'}`, () => {
  it('reach the server through the pooler exactly when the mode says so', async () => {
    const { rows } = await t.db.query<{ port: number }>('SELECT inet_server_port() AS port');

    expect(String(rows[0]?.port)).toBe(new URL(t.directUrl).port);
    expect(new URL(t.url).port !== new URL(t.directUrl).port).toBe(throughPooler());
  });
});
