/** The local Postgres fallbacks start, take every migration, and stop without leaving anything behind. */
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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

  it('keeps a cluster across runs, outside a checkout the postgres user cannot enter when run as root', async () => {
    // A checkout in a 0700 directory (mktemp -d, a private home): as root the cluster runs as `postgres`,
    // which cannot reach it, so the data goes to a fixed place under the temp directory instead.
    const checkout = await mkdtemp(join(tmpdir(), 'formfleet-private-'));
    const wanted = join(checkout, '.formfleet', 'pg');
    const asRoot = process.getuid?.() === 0;
    let kept: string | undefined;
    try {
      for (const run of [1, 2]) {
        const server = await startPostgres({ kind: 'throwaway', dataDir: wanted });
        kept = server.dataDir;
        const client = new pg.Client({ connectionString: server.url });
        await client.connect();
        if (run === 1) await client.query('CREATE TABLE kept (n int); INSERT INTO kept VALUES (42)');
        // The second run finds the first run's data: the cluster persisted.
        else expect((await client.query('SELECT n FROM kept')).rows).toEqual([{ n: 42 }]);
        await client.end();
        await server.stop();
      }
      if (asRoot) {
        expect(kept).not.toBe(wanted);
        expect(kept?.startsWith(tmpdir())).toBe(true);
        expect((await stat(join(kept as string, 'data', 'PG_VERSION'))).isFile()).toBe(true);
      } else {
        expect(kept).toBe(wanted);
      }
    } finally {
      await rm(checkout, { recursive: true, force: true });
      if (kept && kept !== wanted) await rm(kept, { recursive: true, force: true });
    }
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
