/**
 * Retention on real Postgres and moto S3 (issue 21): rows past their period are archived as gzip JSON lines
 * per table and day and then deleted, in bounded batches; a crash between the upload and the delete neither
 * duplicates nor loses a row; rows a live job or listing needs stay, and so does everything a report reads
 * (RETENTION.neverDeleted) however old; `npm run ops -- archive show|restore` reads a day back exactly.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { archiveKey, decodeRows, readArchivedDay, restoreRows } from '#functions/retention/archive';
import {
  type RetentionDeps,
  type RetentionReport,
  retentionOptions,
  runRetention,
} from '#functions/retention/retention';
import { RETENTION, type RetentionTable } from '#policy';
import type { ObjectStore } from '#shared/object-store';
import { runOpsRecorded } from '#test/cli';
import { type TestRecords, testRecords } from '#test/records';
import { type TestDatabase, testDatabase } from '#test/services';

let t: TestDatabase;
let records: TestRecords;

beforeAll(async () => {
  t = await testDatabase('retention');
  records = await testRecords('retention');
});
afterAll(async () => {
  await t?.close();
});

const quiet = { info: () => {}, warn: () => {} };
const deps = (over: Partial<RetentionDeps> = {}, tables?: readonly RetentionTable[]): RetentionDeps => ({
  db: t.db,
  store: records.store,
  logger: quiet,
  options: retentionOptions({ pauseBetweenBatchesMs: 0, ...(tables ? { tables } : {}) }),
  ...over,
});
const entry = (table: string, over: Partial<RetentionTable> = {}): RetentionTable => ({
  ...(RETENTION.tables.find((e) => e.table === table) as RetentionTable),
  ...over,
});
const archivedOf = (r: RetentionReport, table: string) => r.tables.find((x) => x.table === table)?.archived;

let serial = 0;
/** A customer, a directory and a job in `status`, finished `daysAgo` days ago. */
async function job(status: string, daysAgo: number): Promise<{ jobId: string; directory: string }> {
  serial += 1;
  const directory = `ret-dir-${serial}`;
  await t.db.query(
    `INSERT INTO directories (id, name, site, submission_url, category, tier, domain_authority, definition)
     VALUES ($1, $1, 'http://127.0.0.1:9', 'http://127.0.0.1:9/add', 'general', 1, 50, '{}')`,
    [directory],
  );
  const { rows } = await t.db.query<{ id: string }>(
    `WITH c AS (INSERT INTO customers (owner_key_id, name, email, created_at)
                VALUES ('k', 'Old Co', 'o@o.test', now() - make_interval(days => $2)) RETURNING id)
     INSERT INTO jobs (customer_id, owner_key_id, priority, requested_priority, status, created_at, finished_at)
     SELECT id, 'k', 2, 2, $1, now() - make_interval(days => $2),
            CASE WHEN $1 IN ('completed', 'failed', 'cancelled') THEN now() - make_interval(days => $2) END
     FROM c RETURNING id`,
    [status, daysAgo],
  );
  return { jobId: (rows[0] as { id: string }).id, directory };
}

/** `count` events of a job, `daysAgo` days old (spread over the minutes of that day). */
async function events(jobId: string, count: number, daysAgo: number): Promise<void> {
  await t.db.query(
    `INSERT INTO job_events (job_id, type, detail, created_at)
     SELECT $1, 'step', jsonb_build_object('n', g, 'text', 'ümlaut "quoted"\nline'),
            date_trunc('day', now() - make_interval(days => $3)) + make_interval(mins => g)
     FROM generate_series(1, $2) g`,
    [jobId, count, daysAgo],
  );
}

const count = async (sql: string, values: unknown[] = []) =>
  Number(((await t.db.query<{ n: string }>(sql, values)).rows[0] as { n: string }).n);

beforeEach(async () => {
  // Each test starts from no old rows (the ledger tables are never deleted, so they only accumulate).
  await t.db.transaction(async (tx) => {
    await tx.query(`SELECT set_config('formfleet.retention', 'archived', true)`);
    await tx.query('DELETE FROM job_events');
  });
  await t.db.query('DELETE FROM retention_archives');
  await t.db.query('DELETE FROM alert_outbox');
  await t.db.query('DELETE FROM workers');
  await t.db.query('DELETE FROM site_visits');
});

describe('the retention run', () => {
  it('archives rows past their period per table and day, then deletes them, in batches no larger than policy', async () => {
    const done = await job('completed', 120);
    await events(done.jobId, 25, 120);
    await events(done.jobId, 7, 100);
    await events(done.jobId, 3, 10); // within 90 days: stays
    const before = await t.db.query<{ row: Record<string, unknown> }>(
      `SELECT to_jsonb(e) AS row FROM job_events e WHERE created_at < now() - interval '90 days' ORDER BY id`,
    );

    const report = await runRetention(deps({}, [entry('job_events', { batchSize: 10 })]));
    const r = report.tables[0];
    expect(r).toMatchObject({ table: 'job_events', archived: 32, unfinished: false });
    expect(r?.largestBatch).toBe(10);
    expect(r?.batches).toBe(4);
    expect(await count('SELECT count(*) AS n FROM job_events')).toBe(3);

    // What S3 holds is exactly what left, grouped by day, each line a row as Postgres had it.
    const day120 = await t.db.query<{ d: string }>(
      `SELECT to_char((now() - interval '120 days') AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS d`,
    );
    const d = (day120.rows[0] as { d: string }).d;
    const first = await records.store.get(archiveKey('job_events', d, 1));
    expect(first && decodeRows(first)).toHaveLength(10);
    const { rows: index } = await t.db.query<{ day: string; rows: number }>(
      `SELECT to_char(day, 'YYYY-MM-DD') AS day, rows FROM retention_archives ORDER BY day, batch`,
    );
    expect(index.map((i) => i.rows).reduce((a, b) => a + b, 0)).toBe(32);
    const all = [];
    for (const day of new Set(index.map((i) => i.day)))
      all.push(...(await readArchivedDay(t.db, records.store, 'job_events', day)).rows);
    expect(all.sort((a, b) => Number(a.id) - Number(b.id))).toEqual(before.rows.map((x) => x.row));

    // A second run finds nothing more to do.
    const again = await runRetention(deps({}, [entry('job_events', { batchSize: 10 })]));
    expect(archivedOf(again, 'job_events')).toBe(0);
  });

  it('archives a webhook event with its deliveries and attempts in its line, and keeps one still owed to an endpoint', async () => {
    const done = await job('completed', 60);
    const { rows: ep } = await t.db.query<{ id: string }>(
      `INSERT INTO webhook_endpoints (owner_key_id, url, events, secret_sealed)
       VALUES ('k', 'https://hooks.example.test/in', ARRAY['job.completed'], 'sealed') RETURNING id`,
    );
    const endpoint = (ep[0] as { id: string }).id;
    const event = async (id: string, status: string) => {
      await t.db.query(
        `INSERT INTO webhook_events (id, type, owner_key_id, job_id, sequence, occurred_at, resource)
         VALUES ($1, 'job.completed', 'k', $2, $3, now() - interval '60 days', '{"job": {}}')`,
        [id, done.jobId, Number.parseInt(id.slice(-2), 16)],
      );
      const { rows } = await t.db.query<{ id: string }>(
        `INSERT INTO webhook_deliveries (event_id, endpoint_id, status, attempts, created_at)
         VALUES ($1, $2, $3, 2, now() - interval '60 days') RETURNING id`,
        [id, endpoint, status],
      );
      await t.db.query(
        `INSERT INTO webhook_attempts (delivery_id, number, started_at, duration_ms, status_code)
         VALUES ($1, 1, now() - interval '60 days', 12, 503), ($1, 2, now() - interval '59 days', 9, 200)`,
        [(rows[0] as { id: string }).id],
      );
    };
    const sent = `evt_${'a'.repeat(30)}01`;
    const held = `evt_${'b'.repeat(30)}02`;
    await event(sent, 'delivered');
    await event(held, 'held');
    await t.db.query(
      `INSERT INTO inbound_mail (message_id, received_at, object_key, outcome, reason)
       VALUES ('<old@x>', now() - interval '100 days', 'mail/old', 'refused', 'unknown_alias'),
              ('<busy@x>', now() - interval '100 days', 'mail/busy', 'processing', NULL),
              ('<new@x>', now() - interval '5 days', 'mail/new', 'confirmed', NULL)`,
    );

    const report = await runRetention(deps({}, [entry('webhook_events'), entry('inbound_mail')]));
    expect(archivedOf(report, 'webhook_events')).toBe(1);
    expect(archivedOf(report, 'inbound_mail')).toBe(1);
    // The delivered event went with its delivery and attempts; the one a disabled endpoint still owes stayed.
    const left = await t.db.query<{ id: string }>('SELECT id FROM webhook_events ORDER BY id');
    expect(left.rows.map((r) => r.id)).toEqual([held]);
    expect(await count('SELECT count(*) AS n FROM webhook_attempts')).toBe(2);
    const d = (
      (
        await t.db.query<{ d: string }>(
          `SELECT to_char((now() - interval '60 days') AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS d`,
        )
      ).rows[0] as { d: string }
    ).d;
    const archived = (await readArchivedDay(t.db, records.store, 'webhook_events', d)).rows;
    expect(archived).toHaveLength(1);
    expect(archived[0]).toMatchObject({
      id: sent,
      with: {
        deliveries: [
          {
            status: 'delivered',
            endpoint_id: endpoint,
            attempts: [
              expect.objectContaining({ number: 1, status_code: 503 }),
              expect.objectContaining({ number: 2, status_code: 200 }),
            ],
          },
        ],
      },
    });
    // Restoring the day puts the event row back as it was (its deliveries stay readable in the archive).
    const restored = await restoreRows(t.db, entry('webhook_events'), archived, 'restored_webhook_events');
    expect(restored.inserted).toBe(1);
    // Mail being handled, and mail within its period, stay.
    const mail = await t.db.query<{ message_id: string }>(
      'SELECT message_id FROM inbound_mail ORDER BY message_id',
    );
    expect(mail.rows.map((r) => r.message_id)).toEqual(['<busy@x>', '<new@x>']);
  });

  it('archives finished tasks past their period and keeps open ones however old', async () => {
    const done = await job('completed', 200);
    const { rows: subs } = await t.db.query<{ id: string }>(
      `INSERT INTO submissions (job_id, customer_id, directory_id, status, error_class, error, finished_at)
       SELECT j.id, j.customer_id, $2, 'needs_manual', 'captcha', 'a captcha', now() - interval '200 days'
       FROM jobs j WHERE j.id = $1 RETURNING id`,
      [done.jobId, done.directory],
    );
    const submission = (subs[0] as { id: string }).id;
    // The ledger's trigger made the task; one finished long ago, one still open.
    await t.db.query(
      `UPDATE tasks SET status = 'resolved', outcome = 'failed', resolved_by = 'pat', resolved_at = now()
       WHERE submission_id = $1`,
      [submission],
    );
    await t.db.query(`ALTER TABLE tasks DISABLE TRIGGER tasks_touch`);
    await t.db.query(`UPDATE tasks SET updated_at = now() - interval '200 days' WHERE submission_id = $1`, [
      submission,
    ]);
    await t.db.query(`ALTER TABLE tasks ENABLE TRIGGER tasks_touch`);
    const open = await job('completed', 200);
    await t.db.query(
      `INSERT INTO submissions (job_id, customer_id, directory_id, status, error_class, error, finished_at)
       SELECT j.id, j.customer_id, $2, 'unknown', 'internal', 'in doubt', now() - interval '200 days'
       FROM jobs j WHERE j.id = $1`,
      [open.jobId, open.directory],
    );
    await t.db.query(`UPDATE tasks SET created_at = now() - interval '200 days' WHERE job_id = $1`, [
      open.jobId,
    ]);
    const report = await runRetention(deps({}, [entry('tasks')]));
    expect(archivedOf(report, 'tasks')).toBe(1);
    const left = await t.db.query<{ status: string; job_id: string }>('SELECT status, job_id FROM tasks');
    expect(left.rows).toEqual([{ status: 'open', job_id: open.jobId }]);
  });

  it('a crash between the upload and the delete neither loses nor duplicates a row on the next run', async () => {
    const done = await job('completed', 200);
    await events(done.jobId, 12, 200);
    const ids = (await t.db.query<{ id: number }>('SELECT id FROM job_events ORDER BY id')).rows.map(
      (r) => r.id,
    );
    let puts = 0;
    // The process dies right after S3 took the object: the transaction never commits.
    const dying: ObjectStore = {
      ...records.store,
      bucket: records.store.bucket,
      get: (k) => records.store.get(k),
      exists: (k) => records.store.exists(k),
      size: (k) => records.store.size(k),
      presignGet: (k, o) => records.store.presignGet(k, o),
      presignPost: (k, o) => records.store.presignPost(k, o),
      async put(key, body, options) {
        await records.store.put(key, body, options);
        puts += 1;
        throw new Error('the Lambda was killed here');
      },
    };
    await expect(
      runRetention(deps({ store: dying }, [entry('job_events', { batchSize: 5 })])),
    ).rejects.toThrow('killed');
    expect(puts).toBe(1);
    // The object is in S3, but the rows are still here and nothing claims it.
    expect(await count('SELECT count(*) AS n FROM job_events')).toBe(12);
    expect(await count('SELECT count(*) AS n FROM retention_archives')).toBe(0);

    // The next run takes the same batch numbers, overwriting the orphan object rather than adding one.
    const report = await runRetention(deps({}, [entry('job_events', { batchSize: 5 })]));
    expect(archivedOf(report, 'job_events')).toBe(12);
    expect(await count('SELECT count(*) AS n FROM job_events')).toBe(0);
    const { rows: index } = await t.db.query<{ day: string }>(
      `SELECT DISTINCT to_char(day, 'YYYY-MM-DD') AS day FROM retention_archives`,
    );
    expect(index).toHaveLength(1);
    const { rows } = await readArchivedDay(
      t.db,
      records.store,
      'job_events',
      (index[0] as { day: string }).day,
    );
    expect(rows.map((r) => r.id)).toEqual(ids); // each once, in order
    expect(await count('SELECT count(*) AS n FROM retention_archives')).toBe(3);
  });

  it('never touches rows a live job or a listing still being looked up needs, nor what a report reads', async () => {
    const running = await job('in_progress', 300);
    await events(running.jobId, 4, 300);
    const queued = await job('queued', 300);
    await events(queued.jobId, 2, 300);
    const listed = await job('completed', 300);
    await events(listed.jobId, 3, 300);
    await t.db.query(
      `INSERT INTO submissions (job_id, directory_id, status, attempt, lifecycle, next_check_at, created_at, finished_at)
       VALUES ($1, $2, 'submitted', 1, 'under_review', now() + interval '1 day', now() - interval '300 days', now() - interval '300 days')`,
      [listed.jobId, listed.directory],
    );
    const finished = await job('failed', 300);
    await events(finished.jobId, 5, 300);
    await t.db.query(
      `INSERT INTO submissions (job_id, directory_id, status, attempt, lifecycle, created_at, finished_at)
       VALUES ($1, $2, 'submitted', 1, 'live', now() - interval '300 days', now() - interval '300 days')`,
      [finished.jobId, finished.directory],
    );
    // A worker long gone and one long silent but still named by the running job.
    await t.db.query(
      `INSERT INTO workers (id, started_at, last_seen_at, jobs_in_flight)
       VALUES ('gone', now() - interval '90 days', now() - interval '60 days', 0),
              ('silent', now() - interval '90 days', now() - interval '60 days', 0),
              ('recent', now(), now(), 1)`,
    );
    await t.db.query(`UPDATE jobs SET claimed_by = 'silent' WHERE id = $1`, [running.jobId]);
    await t.db.query(
      `INSERT INTO alert_outbox (id, kind, alert, created_at, published_at) VALUES
         ('old-published', 'job_failed', '{}', now() - interval '60 days', now() - interval '60 days'),
         ('old-unpublished', 'job_failed', '{}', now() - interval '60 days', NULL),
         ('new-published', 'job_failed', '{}', now(), now())`,
    );
    await t.db.query(
      `INSERT INTO site_visits (site, last_started_at, last_finished_at, visits) VALUES
         ('http://old.test', now() - interval '200 days', now() - interval '200 days', 4),
         ('http://new.test', now(), now(), 9)`,
    );
    await t.db.query(
      `INSERT INTO site_visits (site, holder, lease_token, lease_expires_at, last_started_at, last_finished_at, visits)
       VALUES ('http://held.test', 'w', gen_random_uuid(), now() + interval '1 minute', now() - interval '200 days', now() - interval '200 days', 1)`,
    );
    const neverDeleted = Object.keys(RETENTION.neverDeleted).filter((n) => n !== 'retention_archives');
    const snapshot = async () =>
      Object.fromEntries(
        await Promise.all(
          neverDeleted.map(async (n) => [
            n,
            (
              await t.db.query(
                `SELECT md5(coalesce(string_agg(x::text, ',' ORDER BY x::text), '')) AS h FROM ${n} x`,
              )
            ).rows[0],
          ]),
        ),
      );
    const kept = await snapshot();

    const report = await runRetention(deps());
    expect(archivedOf(report, 'job_events')).toBe(5); // only the finished job's
    expect(archivedOf(report, 'workers')).toBe(1);
    expect(archivedOf(report, 'alert_outbox')).toBe(1);
    expect(archivedOf(report, 'site_visits')).toBe(1);

    const left = await t.db.query<{ job_id: string; n: string }>(
      'SELECT job_id, count(*) AS n FROM job_events GROUP BY job_id',
    );
    expect(Object.fromEntries(left.rows.map((r) => [r.job_id, Number(r.n)]))).toEqual({
      [running.jobId]: 4,
      [queued.jobId]: 2,
      [listed.jobId]: 3,
    });
    expect((await t.db.query('SELECT id FROM workers ORDER BY id')).rows).toEqual([
      { id: 'recent' },
      { id: 'silent' },
    ]);
    expect((await t.db.query('SELECT id FROM alert_outbox ORDER BY id')).rows).toEqual([
      { id: 'new-published' },
      { id: 'old-unpublished' },
    ]);
    expect((await t.db.query('SELECT site FROM site_visits ORDER BY site')).rows).toEqual([
      { site: 'http://held.test' },
      { site: 'http://new.test' },
    ]);
    // Jobs, the ledger, customers, directories, proofs: unchanged, however old.
    expect(await snapshot()).toEqual(kept);
    expect(await count('SELECT count(*) AS n FROM jobs')).toBeGreaterThanOrEqual(4);
  });

  it('moves past windows whose rows a live job still needs, to the old rows behind them', async () => {
    const running = await job('in_progress', 400);
    await events(running.jobId, 7, 400); // older than everything else: the first windows hold only these
    const done = await job('completed', 380);
    await events(done.jobId, 5, 380);
    const report = await runRetention(deps({}, [entry('job_events', { batchSize: 3 })]));
    expect(report.tables[0]).toMatchObject({ archived: 5, largestBatch: 3, unfinished: false });
    expect(await count('SELECT count(*) AS n FROM job_events WHERE job_id = $1', [running.jobId])).toBe(7);
    expect(await count('SELECT count(*) AS n FROM job_events WHERE job_id = $1', [done.jobId])).toBe(0);
  });

  it('skips rows another transaction holds instead of waiting for them', async () => {
    const done = await job('completed', 150);
    await events(done.jobId, 6, 150);
    const held = await t.db.pool.connect();
    try {
      await held.query('BEGIN');
      await held.query(`SELECT id FROM job_events WHERE job_id = $1 ORDER BY id LIMIT 2 FOR UPDATE`, [
        done.jobId,
      ]);
      const started = Date.now();
      const report = await runRetention(deps({}, [entry('job_events')]));
      expect(Date.now() - started).toBeLessThan(RETENTION.lockTimeoutMs);
      expect(archivedOf(report, 'job_events')).toBe(4);
      await held.query('ROLLBACK');
    } finally {
      held.release();
    }
    const report = await runRetention(deps({}, [entry('job_events')]));
    expect(archivedOf(report, 'job_events')).toBe(2);
  });

  it('refuses a registry entry that names a column the table lacks, before touching anything', async () => {
    await expect(runRetention(deps({}, [entry('job_events', { ageColumn: 'finished_at' })]))).rejects.toThrow(
      'job_events.finished_at',
    );
  });

  it('job_events stays append-only outside the retention transaction', async () => {
    const done = await job('completed', 1);
    await events(done.jobId, 1, 1);
    await expect(t.db.query('DELETE FROM job_events')).rejects.toThrow('append-only');
    await expect(t.db.query(`UPDATE job_events SET type = 'x'`)).rejects.toThrow('append-only');
  });
});

describe('reading an archived day back', () => {
  it('restore puts the day into a table beside the original, each row once, equal to what was archived', async () => {
    const done = await job('completed', 95);
    await events(done.jobId, 9, 95);
    const before = (
      await t.db.query<{ row: Record<string, unknown> }>(
        `SELECT to_jsonb(e) AS row FROM job_events e ORDER BY id`,
      )
    ).rows.map((r) => r.row);
    await runRetention(deps({}, [entry('job_events', { batchSize: 4 })]));
    const day = (
      (
        await t.db.query<{ d: string }>(
          `SELECT to_char(day, 'YYYY-MM-DD') AS d FROM retention_archives LIMIT 1`,
        )
      ).rows[0] as { d: string }
    ).d;

    const ops = (...args: string[]) => runOpsRecorded(args, { DATABASE_URL: t.url, ...records.env });
    const shown = await ops('archive', 'show', 'job_events', day, '--json');
    expect(shown.code).toBe(0);
    expect(JSON.parse(shown.out).rows).toEqual(before);
    const plain = await ops('archive', 'show', 'job_events', day);
    expect(
      plain.out
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l)),
    ).toEqual(before);
    expect(plain.err).toContain('9 rows of job_events');

    const restoredOnce = await ops('archive', 'restore', 'job_events', day);
    expect(restoredOnce).toMatchObject({ code: 0 });
    expect(restoredOnce.out).toContain('9 rows restored into restored_job_events');
    const restored = (
      await t.db.query<{ row: Record<string, unknown> }>(
        `SELECT to_jsonb(e) AS row FROM restored_job_events e ORDER BY id`,
      )
    ).rows.map((r) => r.row);
    expect(restored).toEqual(before);
    // Twice is the same as once.
    const again = await ops('archive', 'restore', 'job_events', day);
    expect(again.out).toContain('0 rows restored into restored_job_events (9 already there)');
    expect(await count('SELECT count(*) AS n FROM restored_job_events')).toBe(9);

    // Into the original table, too (ids and all), when a person asks for it.
    const entryJe = entry('job_events');
    const { rows } = await readArchivedDay(t.db, records.store, 'job_events', day);
    expect(await restoreRows(t.db, entryJe, rows, 'job_events')).toEqual({ inserted: 9, alreadyThere: 0 });
    expect(
      (
        await t.db.query<{ row: Record<string, unknown> }>(
          `SELECT to_jsonb(e) AS row FROM job_events e ORDER BY id`,
        )
      ).rows.map((r) => r.row),
    ).toEqual(before);
  });

  it('bad input gets a clear error and exit 2, touching nothing', async () => {
    const ops = (...args: string[]) => runOpsRecorded(args, { DATABASE_URL: t.url, ...records.env });
    const notArchived = await ops('archive', 'show', 'jobs', '2026-01-01');
    expect(notArchived.code).toBe(2);
    expect(notArchived.err).toContain('no archived table "jobs"');
    const notADay = await ops('archive', 'restore', 'job_events', '2026-02-30');
    expect(notADay.code).toBe(2);
    expect(notADay.err).toContain('is not a day');
    const badInto = await ops(
      'archive',
      'restore',
      'job_events',
      '2026-01-01',
      '--into',
      'x; DROP TABLE jobs',
    );
    expect(badInto.code).toBe(2);
    expect(badInto.err).toContain('--into must be a plain table name');
    const nothing = await ops('archive', 'show', 'job_events', '2020-01-01');
    expect(nothing.code).toBe(1);
    expect(nothing.err).toContain('nothing archived');
    const noBucket = await runOpsRecorded(['archive', 'show', 'job_events', '2020-01-01'], {
      DATABASE_URL: t.url,
    });
    expect(noBucket.code).toBe(3);
    expect(noBucket.err).toContain('RECORDS_BUCKET is not set');
    expect(await count('SELECT count(*) AS n FROM jobs')).toBeGreaterThan(0);
  });
});
