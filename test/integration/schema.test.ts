import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JOB_FIGURES_SQL } from '#functions/api/health-report';
import { THROUGHPUT_SQL } from '#functions/api/job-queries';
import { LEASE_PENDING_SQL, LIVE_JOBS_SQL, REQUEUE_STALE_SQL } from '#functions/recovery/recovery-store';
import { SUBMISSIONS_PER_MINUTE_SQL } from '#local/dashboard/snapshot';
import { HEALTH, LOCAL, RECOVERY } from '#policy';
import { pgErrorCode } from '#shared/db';
import { DEFAULT_MIGRATIONS_DIR, loadMigrations, migrate } from '#shared/migrate';
import { type TestDatabase, testDatabase } from '#test/services';

let t: TestDatabase;

async function seedJob(db: TestDatabase['db'], status = 'in_progress', heartbeatAgo = '1 hour') {
  const { rows: customers } = await db.query<{ id: string }>(
    `INSERT INTO customers (owner_key_id, name, email) VALUES ('k', 'Acme', 'a@acme.test') RETURNING id`,
  );
  const { rows } = await db.query<{ id: string }>(
    `INSERT INTO jobs (customer_id, owner_key_id, priority, requested_priority, status, heartbeat_at)
     VALUES ($1, 'k', 2, 2, $2, now() - $3::interval) RETURNING id`,
    [customers[0]?.id, status, heartbeatAgo],
  );
  return rows[0]?.id as string;
}

beforeAll(async () => {
  t = await testDatabase('schema');
  await t.db.query(
    `INSERT INTO directories (id, name, site, submission_url, category, tier, domain_authority, definition)
     VALUES ('d1', 'D1', 'http://127.0.0.1', 'http://127.0.0.1/add', 'general', 1, 50, '{}')`,
  );
});
afterAll(async () => t?.close());

describe('migrations', () => {
  it('records every migration once, and re-running applies nothing', async () => {
    const files = await loadMigrations();
    const { rows } = await t.db.query<{ version: string }>(
      'SELECT version FROM schema_migrations ORDER BY version',
    );
    expect(rows.map((r) => r.version)).toEqual(files.map((f) => f.version));
    const client = await t.db.pool.connect();
    try {
      const report = await migrate(client);
      expect(report.applied).toEqual([]);
      expect(report.skipped).toHaveLength(files.length);
    } finally {
      client.release();
    }
  });

  it('refuses a migration that was edited after it was applied', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ff-migrations-'));
    try {
      for (const m of await loadMigrations()) await writeFile(join(dir, m.file), m.sql);
      const first = (await loadMigrations())[0];
      if (!first) throw new Error('no migrations');
      await writeFile(join(dir, first.file), `${first.sql}\n-- edited`);
      const client = await t.db.pool.connect();
      try {
        await expect(migrate(client, { dir })).rejects.toThrow(/was changed after it was applied/);
      } finally {
        client.release();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('rolls back a failing migration completely and names it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ff-migrations-'));
    try {
      for (const m of await loadMigrations()) await writeFile(join(dir, m.file), m.sql);
      await writeFile(
        join(dir, '999_broken.sql'),
        'CREATE TABLE half_done (id int);\nSELECT no_such_function();',
      );
      const client = await t.db.pool.connect();
      try {
        await expect(migrate(client, { dir })).rejects.toThrow(/999_broken\.sql failed and was rolled back/);
      } finally {
        client.release();
      }
      const { rows } = await t.db.query(`SELECT to_regclass('half_done') AS t`);
      expect(rows[0]).toEqual({ t: null });
      const { rowCount } = await t.db.query(`SELECT 1 FROM schema_migrations WHERE version = '999'`);
      expect(rowCount).toBe(0);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('rejects badly named migration files', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ff-migrations-'));
    try {
      await writeFile(join(dir, '1_bad.sql'), 'SELECT 1');
      await expect(loadMigrations(dir)).rejects.toThrow(/must look like 001_name\.sql/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('constraints', () => {
  it('refuses a job status outside the lifecycle', async () => {
    const id = await seedJob(t.db, 'queued');
    const err = await t.db.query(`UPDATE jobs SET status = 'done' WHERE id = $1`, [id]).catch((e) => e);
    expect(pgErrorCode(err)).toBe('23514'); // check_violation
  });

  it('refuses a priority outside 1..3', async () => {
    const id = await seedJob(t.db, 'queued');
    const err = await t.db.query(`UPDATE jobs SET priority = 4 WHERE id = $1`, [id]).catch((e) => e);
    expect(pgErrorCode(err)).toBe('23514');
  });

  it('refuses a second ledger row for the same job and directory', async () => {
    const id = await seedJob(t.db, 'queued');
    await t.db.query(`INSERT INTO submissions (job_id, directory_id) VALUES ($1, 'd1')`, [id]);
    const err = await t.db
      .query(`INSERT INTO submissions (job_id, directory_id) VALUES ($1, 'd1')`, [id])
      .catch((e) => e);
    expect(pgErrorCode(err)).toBe('23505'); // unique_violation
  });

  it('refuses a ledger status or error class outside the lists', async () => {
    const id = await seedJob(t.db, 'queued');
    await t.db.query(`INSERT INTO submissions (job_id, directory_id) VALUES ($1, 'd1')`, [id]);
    const bad = await t.db
      .query(`UPDATE submissions SET status = 'done' WHERE job_id = $1`, [id])
      .catch((e) => e);
    expect(pgErrorCode(bad)).toBe('23514');
    const badClass = await t.db
      .query(`UPDATE submissions SET error_class = 'oops' WHERE job_id = $1`, [id])
      .catch((e) => e);
    expect(pgErrorCode(badClass)).toBe('23514');
  });

  it('keeps job_events append-only: UPDATE, DELETE and TRUNCATE are refused', async () => {
    const id = await seedJob(t.db, 'queued');
    await t.db.query(`INSERT INTO job_events (job_id, type) VALUES ($1, 'created')`, [id]);
    const update = await t.db
      .query(`UPDATE job_events SET type = 'x' WHERE job_id = $1`, [id])
      .catch((e) => e);
    expect(update).toBeInstanceOf(Error);
    expect((update as Error).message).toMatch(/append-only: UPDATE refused/);
    const del = await t.db.query(`DELETE FROM job_events WHERE job_id = $1`, [id]).catch((e) => e);
    expect((del as Error).message).toMatch(/append-only: DELETE refused/);
    const truncate = await t.db.query('TRUNCATE job_events').catch((e) => e);
    expect((truncate as Error).message).toMatch(/append-only: TRUNCATE refused/);
    const { rows } = await t.db.query(`SELECT type FROM job_events WHERE job_id = $1`, [id]);
    expect(rows).toEqual([{ type: 'created' }]);
  });

  it('refuses a directory id that is not a slug', async () => {
    const err = await t.db
      .query(
        `INSERT INTO directories (id, name, site, submission_url, category, tier, domain_authority, definition)
         VALUES ('Bad Id!', 'x', 'http://x', 'http://x', 'c', 1, 1, '{}')`,
      )
      .catch((e) => e);
    expect(pgErrorCode(err)).toBe('23514');
  });
});

describe('stale job detection', () => {
  it('find_stale_jobs returns only in-progress jobs whose heartbeat is older than the threshold', async () => {
    const stale = await seedJob(t.db, 'in_progress', '20 minutes');
    const fresh = await seedJob(t.db, 'in_progress', '1 minute');
    const queuedOld = await seedJob(t.db, 'queued', '1 hour');
    const { rows } = await t.db.query<{ id: string }>(
      `SELECT id FROM find_stale_jobs(interval '10 minutes')`,
    );
    const ids = rows.map((r) => r.id);
    expect(ids).toContain(stale);
    expect(ids).not.toContain(fresh);
    expect(ids).not.toContain(queuedOld);
  });

  it('stale_jobs_view uses the policy threshold', async () => {
    const sql = await readFile(join(DEFAULT_MIGRATIONS_DIR, '001_core_schema.sql'), 'utf8');
    const match = /find_stale_jobs\(interval '(\d+) seconds'\)/.exec(sql);
    expect(Number(match?.[1])).toBe(RECOVERY.staleAfterSeconds);
    const just = await seedJob(t.db, 'in_progress', `${RECOVERY.staleAfterSeconds + 30} seconds`);
    const notYet = await seedJob(t.db, 'in_progress', `${RECOVERY.staleAfterSeconds - 30} seconds`);
    const { rows } = await t.db.query<{ id: string }>('SELECT id FROM stale_jobs_view');
    const ids = rows.map((r) => r.id);
    expect(ids).toContain(just);
    expect(ids).not.toContain(notYet);
  });

  it('the scan uses the partial index on a large table', async () => {
    await t.db.query(
      `INSERT INTO jobs (customer_id, owner_key_id, priority, requested_priority, status, heartbeat_at)
       SELECT (SELECT id FROM customers LIMIT 1), 'k', 3, 3,
              (ARRAY['completed','queued','failed'])[1 + g % 3], now() - interval '2 hours'
       FROM generate_series(1, 20000) g`,
    );
    await t.db.query('ANALYZE jobs');
    const { rows } = await t.db.query<{ 'QUERY PLAN': string }>(
      `EXPLAIN SELECT * FROM find_stale_jobs(interval '10 minutes')`,
    );
    const plan = rows.map((r) => r['QUERY PLAN']).join('\n');
    expect(plan).toMatch(/jobs_stale_scan_idx/);
  });

  it("recovery's own statements (requeue, live jobs, pending sweep) use their partial indexes on a large table", async () => {
    await seedJob(t.db, 'in_progress', '20 minutes');
    await t.db.query(
      `INSERT INTO jobs (customer_id, owner_key_id, priority, requested_priority, status, heartbeat_at)
       SELECT (SELECT id FROM customers LIMIT 1), 'k', 3, 3,
              (ARRAY['completed','queued','failed'])[1 + g % 3], now() - interval '2 hours'
       FROM generate_series(1, 20000) g`,
    );
    await t.db.query('ANALYZE jobs');
    const plan = async (sql: string, params: unknown[]) => {
      const { rows } = await t.db.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${sql}`, params);
      return rows.map((r) => r['QUERY PLAN']).join('\n');
    };
    expect(await plan(REQUEUE_STALE_SQL, [RECOVERY.staleAfterSeconds, 50, RECOVERY.requeueCap])).toMatch(
      /jobs_stale_scan_idx/,
    );
    expect(await plan(LIVE_JOBS_SQL, [RECOVERY.staleAfterSeconds])).toMatch(/jobs_stale_scan_idx/);
    expect(await plan(LEASE_PENDING_SQL, [RECOVERY.pendingGraceSeconds, 500])).toMatch(/jobs_pending_idx/);
  });

  it('the reads that run all day (health, queue estimate, dashboard) use indexes, not a whole-table scan', async () => {
    // 30,000 jobs finished days ago, each with its ledger row (failed: one customer may hold a directory
    // only once), and a handful of live ones: the shape of a system that has run for a while. Each read
    // wants today's or the last minutes' rows only.
    await t.db.query(
      `WITH old AS (
         INSERT INTO jobs (customer_id, owner_key_id, priority, requested_priority, status, created_at, finished_at)
         SELECT (SELECT id FROM customers LIMIT 1), 'k', 1 + g % 3, 1 + g % 3,
                (ARRAY['completed','failed'])[1 + g % 2], now() - interval '30 days', now() - interval '29 days'
         FROM generate_series(1, 30000) g
         RETURNING id, finished_at)
       INSERT INTO submissions (job_id, directory_id, status, finished_at)
       SELECT id, 'd1', 'failed', finished_at FROM old`,
    );
    await t.db.query('ANALYZE jobs; ANALYZE submissions');
    const plan = async (sql: string, params: unknown[] = []) => {
      const { rows } = await t.db.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${sql}`, params);
      return rows.map((r) => r['QUERY PLAN']).join('\n');
    };
    const health = await plan(JOB_FIGURES_SQL);
    expect(health).toMatch(/jobs_active_idx/);
    expect(health).toMatch(/jobs_finished_idx/);
    expect(health).not.toMatch(/Seq Scan on jobs/);
    const throughput = await plan(THROUGHPUT_SQL, [HEALTH.throughputWindowSeconds]);
    expect(throughput).toMatch(/jobs_finished_idx/);
    expect(throughput).not.toMatch(/Seq Scan on jobs/);
    const perMinute = await plan(SUBMISSIONS_PER_MINUTE_SQL, [LOCAL.dashboardMinutes]);
    expect(perMinute).toMatch(/submissions_finished_idx/);
    expect(perMinute).not.toMatch(/Seq Scan on submissions/);
  });
});
