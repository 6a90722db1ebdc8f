/**
 * GET /v1/directories/{id}/stats (issue 17 item 5) on a real Postgres, called as Lambda calls it: the
 * scorecard counted from ledger rows the test writes, each number checked against what was written.
 */

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PgAlertOutbox } from '#functions/alerts/alert-outbox';
import { makeDirectoriesApi } from '#functions/api/directories';
import { PgDirectoryQueries } from '#functions/api/directory-queries';
import type { ApiHandler } from '#functions/api/router';
import { PgDirectoryHealthStore } from '#functions/directories/health-store';
import { PgDirectoryStore } from '#shared/directory-store';
import { ADMIN_KEY_ID, baseDeps, call } from '#test/api';
import { type TestDatabase, testDatabase } from '#test/services';
import { simpleDirectory } from '#test/worker-jobs';

let t: TestDatabase;
let api: ApiHandler;

beforeAll(async () => {
  t = await testDatabase('directory_stats');
  api = makeDirectoriesApi({
    ...baseDeps(t.db),
    directories: new PgDirectoryStore(t.db),
    queries: new PgDirectoryQueries(t.db),
    health: new PgDirectoryHealthStore(t.db, new PgAlertOutbox(t.db)),
  });
  for (const id of ['scored', 'quiet']) await new PgDirectoryStore(t.db).upsert(simpleDirectory(id));
});
afterAll(async () => {
  await t?.close();
});

/** One job per row (a job has one row per directory), finished `agoDays` ago after `ms` of work. */
async function row(
  status: string,
  errorClass: string | null,
  ms: number,
  agoDays = 1,
  lifecycle: string | null = null,
) {
  await t.db.query(
    `WITH c AS (INSERT INTO customers (owner_key_id, name, email) VALUES ('k', 'Stats Co', 's@s.test') RETURNING id),
          j AS (INSERT INTO jobs (customer_id, owner_key_id, priority, requested_priority)
                SELECT id, 'k', 1, 1 FROM c RETURNING id)
     INSERT INTO submissions (job_id, directory_id, status, error_class, error, attempt, started_at, finished_at, lifecycle)
     SELECT id, 'scored', $1, $2, $2, 1,
            now() - make_interval(days => $4) - make_interval(secs => $3 / 1000.0),
            now() - make_interval(days => $4), $5 FROM j`,
    [status, errorClass, ms, agoDays, lifecycle],
  );
}

describe('GET /v1/directories/{id}/stats', () => {
  it('counts the window’s outcomes, rates and durations, and the last drift', async () => {
    await row('submitted', null, 1000, 1, 'live');
    await row('submitted', null, 2000, 2, 'not_found');
    await row('submitted', null, 3000, 3, null);
    await row('failed', 'selector_drift', 4000, 4);
    await row('needs_manual', 'captcha', 5000, 5);
    await row('skipped', 'login_required', 6000, 6);
    // Outside a 30-day window, yet the last drift is any time.
    await row('failed', 'selector_drift', 7000, 40);

    const res = await call(api, 'GET', '/v1/directories/scored/stats', { apiKeyId: ADMIN_KEY_ID });
    expect(res.status).toBe(200);
    const s = res.body;
    expect(s.window.days).toBe(30);
    expect(s.total).toBe(6);
    expect(s.byStatus).toEqual({ submitted: 3, failed: 1, needs_manual: 1, skipped: 1 });
    expect(s.byErrorClass).toEqual({ selector_drift: 1, captcha: 1, login_required: 1 });
    expect(s.submittedRate).toBeCloseTo(0.5);
    // Of the two submitted listings a recheck has looked at, one is live.
    expect(s.liveRate).toBeCloseTo(0.5);
    expect(s.durationMs.p50).toBe(3500);
    expect(s.durationMs.p95).toBe(5750);
    expect(s.captchaRate).toBeCloseTo(1 / 6);
    expect(s.loginWallRate).toBeCloseTo(1 / 6);
    expect(new Date(s.lastDrift.at).getTime()).toBeGreaterThan(Date.now() - 5 * 86_400_000);

    const wide = await call(api, 'GET', '/v1/directories/scored/stats?days=60', { apiKeyId: ADMIN_KEY_ID });
    expect(wide.body.total).toBe(7);
  });

  it('answers nulls for a directory with nothing settled, 404 for none, 400 for a bad window, 403 for clients', async () => {
    const quiet = await call(api, 'GET', '/v1/directories/quiet/stats', { apiKeyId: ADMIN_KEY_ID });
    expect(quiet.body).toMatchObject({ total: 0, submittedRate: null, liveRate: null, lastDrift: null });
    expect(quiet.body.durationMs).toEqual({ p50: null, p95: null });
    expect((await call(api, 'GET', '/v1/directories/nope/stats', { apiKeyId: ADMIN_KEY_ID })).status).toBe(
      404,
    );
    expect(
      (await call(api, 'GET', '/v1/directories/quiet/stats?days=0', { apiKeyId: ADMIN_KEY_ID })).status,
    ).toBe(400);
    expect((await call(api, 'GET', '/v1/directories/quiet/stats', { apiKeyId: 'client-1' })).status).toBe(
      403,
    );
  });
});
