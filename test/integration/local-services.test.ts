/** The local Postgres fallbacks start, take every migration, and stop without leaving anything behind. */
import { connect } from 'node:net';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { findPostgresBinDir, type PostgresKind, startPostgres } from '#local/services/postgres';
import { migrate } from '#shared/migrate';

async function portOpen(url: string): Promise<boolean> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = connect({ host: hostname, port: Number(port) });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

async function migratesAndServes(kind: PostgresKind) {
  const server = await startPostgres({ kind });
  expect(server.kind).toBe(kind);
  const client = new pg.Client({ connectionString: server.url });
  await client.connect();
  try {
    const report = await migrate(client);
    expect(report.applied.length).toBeGreaterThan(0);
    const { rows } = await client.query(
      `WITH c AS (INSERT INTO customers (owner_key_id, name, email) VALUES ('k', 'Acme', 'a@acme.test') RETURNING id),
            j AS (INSERT INTO jobs (customer_id, owner_key_id, priority, requested_priority)
                  SELECT id, 'k', 1, 1 FROM c RETURNING id)
       INSERT INTO job_events (job_id, type) SELECT id, 'created' FROM j RETURNING type`,
    );
    expect(rows).toEqual([{ type: 'created' }]);
    // Triggers and CHECKs behave the same on this backend.
    await expect(client.query(`UPDATE job_events SET type = 'x'`)).rejects.toThrow(/append-only/);
    await expect(client.query(`UPDATE jobs SET status = 'bogus'`)).rejects.toThrow(/jobs_status_check/);
  } finally {
    await client.end();
    await server.stop();
  }
  expect(await portOpen(server.url)).toBe(false);
}

describe('local Postgres', () => {
  it.runIf(findPostgresBinDir() !== undefined)(
    'starts a throwaway server from the installed binaries',
    async () => {
      await migratesAndServes('throwaway');
    },
  );

  it('falls back to PGlite where no server binaries exist', async () => {
    await migratesAndServes('pglite');
  });

  it('uses DATABASE_URL as given, and refuses an external server when none is named', async () => {
    const server = await startPostgres({ kind: 'throwaway' });
    try {
      const external = await startPostgres({ databaseUrl: server.url });
      expect(external).toMatchObject({ kind: 'external', url: server.url });
      await external.stop(); // not ours to stop: the server keeps serving
      const client = new pg.Client({ connectionString: server.url });
      await client.connect();
      await client.end();
    } finally {
      await server.stop();
    }
    const saved = process.env.DATABASE_URL;
    delete process.env.DATABASE_URL;
    try {
      await expect(startPostgres({ kind: 'external' })).rejects.toThrow(/DATABASE_URL is not set/);
    } finally {
      if (saved !== undefined) process.env.DATABASE_URL = saved;
    }
  });
});
