/**
 * Politeness without session state: per-site leases in site_visits, on real Postgres (and through PgBouncer
 * in pooler mode). One visit at a time per site, the minimum gap on the database clock, a lease that a live
 * visit keeps renewing past its length, and a crashed holder (a process SIGKILLed mid-visit) that blocks its
 * site no longer than the lease. A holder whose lease lapsed cannot end its successor's visit.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PgSitePoliteness, SiteBusyError } from '#functions/worker/site-politeness';
import { PROJECT_ROOT } from '#local/services/python';
import { type TestDatabase, testDatabase, uniqueName } from '#test/services';

let t: TestDatabase;
const children = new Set<ChildProcess>();

beforeAll(async () => {
  t = await testDatabase('site_politeness');
});
afterAll(async () => {
  for (const child of children) child.kill('SIGKILL');
  await t?.close();
});

const site = () => `http://${uniqueName('site')}.test`;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function row(s: string) {
  const { rows } = await t.db.query<{
    holder: string | null;
    lease_token: string | null;
    visits: number;
    finished: boolean;
  }>(
    `SELECT holder, lease_token, visits, last_finished_at IS NOT NULL AS finished FROM site_visits WHERE site = $1`,
    [s],
  );
  return rows[0];
}

describe('site leases', () => {
  it('lets one visit in at a time, and the next once it ends, after the minimum gap', async () => {
    const politeness = new PgSitePoliteness(t.db, 300, { pollMs: 20, leaseMs: 5_000 });
    const s = site();
    const first = await politeness.acquire(s, { holder: 'a', maxWaitMs: 1_000 });

    const busy = await politeness.acquire(s, { holder: 'b', maxWaitMs: 200 }).catch((err: unknown) => err);
    expect(busy).toBeInstanceOf(SiteBusyError);
    expect(await row(s)).toMatchObject({ holder: 'a', visits: 1 });

    const waiting = politeness.acquire(s, { holder: 'b', maxWaitMs: 5_000 });
    await sleep(100);
    const releasedAt = Date.now();
    await first.release();
    const second = await waiting;
    const waited = Date.now() - releasedAt;

    expect(waited).toBeGreaterThanOrEqual(250);
    expect(await row(s)).toMatchObject({ holder: 'b', visits: 2 });
    await second.release();
    await second.release();
    expect(await row(s)).toMatchObject({ holder: null, lease_token: null, finished: true });
  });

  it('keeps the site for a visit longer than the lease, by renewing it', async () => {
    const politeness = new PgSitePoliteness(t.db, 0, { pollMs: 20, leaseMs: 300 });
    const s = site();
    const visit = await politeness.acquire(s, { holder: 'long', maxWaitMs: 1_000 });

    // Three lease lengths in, another worker still cannot get in.
    const other = await politeness
      .acquire(s, { holder: 'other', maxWaitMs: 900 })
      .catch((err: unknown) => err);

    expect(other).toBeInstanceOf(SiteBusyError);
    await visit.release();
    await (await politeness.acquire(s, { holder: 'other', maxWaitMs: 1_000 })).release();
  });

  it('takes a site over from a holder that died mid-visit once its lease lapses, and not before', async () => {
    const leaseMs = 1_500;
    const s = site();
    const holder = spawn(process.execPath, ['--import', 'tsx', 'test/helpers/site-lease-holder.ts'], {
      cwd: PROJECT_ROOT,
      env: { ...process.env, DATABASE_URL: t.url, SITE: s, SITE_LEASE_MS: String(leaseMs) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.add(holder);
    let output = '';
    await new Promise<void>((resolve, reject) => {
      holder.stdout?.on('data', (chunk: Buffer) => {
        output += chunk.toString();
        if (output.includes('held')) resolve();
      });
      holder.stderr?.on('data', (chunk: Buffer) => {
        output += chunk.toString();
      });
      holder.on('exit', (code) => reject(new Error(`the holder exited with ${code}:\n${output}`)));
    });
    const politeness = new PgSitePoliteness(t.db, 0, { pollMs: 20, leaseMs });
    // Alive and renewing, it keeps the site beyond one lease length.
    const whileAlive = await politeness
      .acquire(s, { holder: 'successor', maxWaitMs: 2 * leaseMs })
      .catch((e) => e);
    expect(whileAlive).toBeInstanceOf(SiteBusyError);

    const exited = new Promise((resolve) => holder.once('exit', resolve));
    holder.kill('SIGKILL');
    await exited;
    const crashedAt = Date.now();
    const slot = await politeness.acquire(s, { holder: 'successor', maxWaitMs: 10_000 });
    const blockedMs = Date.now() - crashedAt;

    // At most one lease after the last renewal (which came at most a third of a lease before the crash).
    expect(blockedMs).toBeLessThanOrEqual(leaseMs + 500);
    expect(blockedMs).toBeGreaterThanOrEqual(leaseMs / 3);
    expect(await row(s)).toMatchObject({ holder: 'successor', visits: 2 });
    await slot.release();
  });

  it("does not let a holder whose lease lapsed end its successor's visit", async () => {
    const s = site();
    // A lease that lapsed (put in the past here, as if its holder had been frozen for longer than it).
    const stale = await new PgSitePoliteness(t.db, 0, { pollMs: 20, leaseMs: 60_000 }).acquire(s, {
      holder: 'stale',
      maxWaitMs: 1_000,
    });
    await t.db.query(
      `UPDATE site_visits SET lease_expires_at = clock_timestamp() - interval '1 second' WHERE site = $1`,
      [s],
    );
    const successor = await new PgSitePoliteness(t.db, 0, { pollMs: 20, leaseMs: 60_000 }).acquire(s, {
      holder: 'successor',
      maxWaitMs: 1_000,
    });

    await stale.release();

    expect(await row(s)).toMatchObject({ holder: 'successor', finished: false });
    await successor.release();
    expect(await row(s)).toMatchObject({ holder: null, finished: true });
  });

  it('keeps no session state: no advisory lock and no held connection while a visit lasts', async () => {
    const s = site();
    const visit = await new PgSitePoliteness(t.db, 0).acquire(s, { holder: 'x', maxWaitMs: 1_000 });
    try {
      const { rows } = await t.db.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
      );
      expect(rows[0]?.n).toBe(0);
      expect(t.db.pool.totalCount - t.db.pool.idleCount).toBe(0);
    } finally {
      await visit.release();
    }
  });
});
