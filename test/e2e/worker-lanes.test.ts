/**
 * K directories at once per job (policy WORKER.directoriesInFlight), on real parts: Chromium, Postgres, moto,
 * and slow fixture sites whose own request logs are the evidence. The lanes overlap their visits to different
 * sites, the heartbeat reports every directory in flight, two directories on one site are still visited one
 * at a time with the minimum gap, and a cancel is seen by every lane: no click after it, nothing twice.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PgJobQueries } from '#functions/api/job-queries';
import { slowSite } from '#local/fixtures/variants';
import { type LocalSystem, startLocalSystem } from '#local/runtime';
import type { JobProgress } from '#shared/job-store';
import { eventually, motoEndpoint, type TestDatabase, testDatabase, uniqueName } from '#test/services';
import { siteCopies } from '#test/site-copies';
import {
  createCustomer,
  enqueueJob,
  FAST_WORKER_ENV,
  jobRow,
  ledger,
  profile,
  waitForJob,
} from '#test/worker-jobs';

const K = 3;
const SLOW_MS = 500;
const MIN_GAP_MS = 300;
/** Six slow sites, each its own origin. */
const SITES = siteCopies([slowSite(SLOW_MS)], 6).flat();
const IDS = SITES.map((s) => s.id);

let t: TestDatabase;
let system: LocalSystem;

beforeAll(async () => {
  t = await testDatabase('worker_lanes', { migrate: false });
  system = await startLocalSystem({
    port: 0,
    databaseUrl: t.url,
    motoEndpoint: motoEndpoint(),
    queuePrefix: `${uniqueName('lanes')}-`,
    fixtures: SITES,
    env: {
      ...FAST_WORKER_ENV,
      WORKER_DIRECTORIES_IN_FLIGHT: String(K),
      SITE_MIN_GAP_MS: String(MIN_GAP_MS),
      HEARTBEAT_INTERVAL_MS: '200',
    },
    schedules: { timers: false },
  });
});
afterAll(async () => {
  await system?.stop();
  await t?.close();
});

/** One visit as the site saw it: its form's GET to its POST (or the GET alone). */
interface Visit {
  site: string;
  from: number;
  to: number;
}

function visits(site: string, since: number): Visit[] {
  const requests = system.fixtures
    .site(site)
    .requests.filter((r) => r.path === '/add' && Date.parse(r.at) >= since);
  const out: Visit[] = [];
  for (const r of requests) {
    const at = Date.parse(r.at);
    if (r.method === 'GET') out.push({ site, from: at, to: at + SLOW_MS });
    else if (out.length > 0) (out.at(-1) as Visit).to = at + SLOW_MS;
  }
  return out;
}

const overlapping = (a: Visit, b: Visit) => a.from < b.to && b.from < a.to;

/** Polls the job's progress as the API shows it, keeping the most directories reported in flight at once. */
function watchInFlight(jobId: string) {
  let most = 0;
  let stopped = false;
  const seen = new Set<string>();
  const loop = (async () => {
    while (!stopped) {
      const progress = (await jobRow(system, jobId)).progress as JobProgress;
      const inFlight = progress.inFlight ?? [];
      most = Math.max(most, inFlight.length);
      for (const d of inFlight) if (d.directoryId) seen.add(d.directoryId);
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
      return { most, seen };
    },
  };
}

/** Waits until the job's heartbeat reports at least two directories in flight. */
async function severalInFlight(on: LocalSystem, jobId: string): Promise<void> {
  await eventually('several directories in flight', async () => {
    const progress = (await jobRow(on, jobId)).progress as JobProgress;
    return (progress.inFlight?.length ?? 0) >= 2 ? true : undefined;
  });
}

describe('a job run in K lanes', () => {
  it('overlaps visits to different sites, reports each directory in flight, and sends each once', async () => {
    const name = 'Lane Logistics';
    const customer = await createCustomer(system, profile(name));
    const since = Date.now();
    const job = await enqueueJob(system, customer.id, IDS, 1);
    const watch = watchInFlight(job.id);
    const done = await waitForJob(system, job.id, 'completed', 60_000);
    const { most, seen } = await watch.stop();

    // Counted at the far end: one submission per site.
    for (const id of IDS)
      expect({ id, count: system.fixtures.site(id).countsByName()[name] ?? 0 }).toEqual({ id, count: 1 });
    expect((await ledger(system, job.id)).map((r) => r.status)).toEqual(Array(IDS.length).fill('submitted'));
    // The sites' own logs: visits to different sites overlapped, never more than K at once.
    const all = IDS.flatMap((id) => visits(id, since));
    expect(all).toHaveLength(IDS.length);
    const concurrency = Math.max(...all.map((v) => all.filter((w) => overlapping(v, w)).length));
    expect(concurrency).toBeGreaterThan(1);
    expect(concurrency).toBeLessThanOrEqual(K);
    // The heartbeat reported several directories in flight, each one of the job's.
    expect(most).toBeGreaterThan(1);
    expect(most).toBeLessThanOrEqual(K);
    for (const id of seen) expect(IDS).toContain(id);
    // Finished: nothing in flight any more.
    expect(done.progress.inFlight ?? []).toEqual([]);
    expect(done.progress).toMatchObject({ done: IDS.length, total: IDS.length });
  });

  it('visits two directories on one site one at a time, with the gap, while other lanes run', async () => {
    const [first, second] = IDS;
    // A second directory on the first one's site (same origin, same form): one site, two directories.
    await system.db.query(
      `INSERT INTO directories (id, name, site, submission_url, category, tier, domain_authority, definition, active)
       SELECT 'same-site-twin', name || ' (twin)', site, submission_url, category, tier, domain_authority, definition, active
       FROM directories WHERE id = $1`,
      [first],
    );
    const name = 'Twin Site Tailors';
    const customer = await createCustomer(system, profile(name));
    const since = Date.now();
    const job = await enqueueJob(
      system,
      customer.id,
      [first as string, 'same-site-twin', second as string],
      1,
    );
    await waitForJob(system, job.id, 'completed', 60_000);

    expect(system.fixtures.site(first as string).countsByName()[name]).toBe(2);
    const shared = visits(first as string, since);
    expect(shared).toHaveLength(2);
    const [a, b] = shared as [Visit, Visit];
    // The second visit's form was asked for only after the first visit's post was answered, plus the gap.
    expect(b.from).toBeGreaterThanOrEqual(a.to + MIN_GAP_MS - 50);
  });

  it('stops every lane at a cancel: no post after it, nothing twice, the job cancelled', async () => {
    const name = 'Cancelled Carpentry';
    const customer = await createCustomer(system, profile(name));
    const job = await enqueueJob(system, customer.id, IDS, 1);
    await severalInFlight(system, job.id);
    const outcome = await new PgJobQueries(system.db).cancel(job.id, 'test-owner');
    expect(outcome.kind).not.toBe('missing');
    const cancelledAt = Date.now();
    // Every lane ends: the worker lets the message go once none is left in flight.
    await eventually('the worker done with the job', async () =>
      system.pollers.every((p) => p.inFlight() === 0) ? true : undefined,
    );
    expect((await jobRow(system, job.id)).status).toBe('cancelled');
    const rows = await ledger(system, job.id);
    const count = (id: string) => system.fixtures.site(id).countsByName()[name] ?? 0;
    for (const id of IDS) expect(count(id)).toBeLessThanOrEqual(1);
    let sent = 0;
    let postsAfterCancel = 0;
    for (const row of rows) {
      const n = count(row.directoryId);
      sent += n;
      postsAfterCancel += system.fixtures
        .site(row.directoryId)
        .submissions.filter((s) => s.fields.business_name === name && Date.parse(s.at) > cancelledAt).length;
      // A directory the cancel skipped was never posted, by any lane; one it caught mid-click is in doubt.
      if (row.status === 'skipped') expect({ id: row.directoryId, n }).toEqual({ id: row.directoryId, n: 0 });
      if (row.status === 'submitted')
        expect({ id: row.directoryId, n }).toEqual({ id: row.directoryId, n: 1 });
    }
    // Only clicks the ledger had begun before the cancel (now 'unknown' for a person) may land after it.
    expect(postsAfterCancel).toBeLessThanOrEqual(rows.filter((r) => r.status === 'unknown').length);
    // The lanes did not walk the whole job before noticing.
    expect(sent).toBeLessThan(IDS.length);
  });
  it('finishes every directory in flight at a stop (npm start’s), starts none, and the next start sends the rest once', async () => {
    // A system of its own, as npm start runs it: its sites go when it stops, and the restart has new ones.
    const prefix = `${uniqueName('lanestop')}-`;
    const start = () =>
      startLocalSystem({
        port: 0,
        databaseUrl: t.url,
        motoEndpoint: motoEndpoint(),
        queuePrefix: prefix,
        fixtures: siteCopies([slowSite(SLOW_MS)], 6).flat(),
        env: { ...FAST_WORKER_ENV, WORKER_DIRECTORIES_IN_FLIGHT: String(K) },
        schedules: { timers: false },
      });
    const first = await start();
    const name = 'Stopped Stonemasons';
    const customer = await createCustomer(first, profile(name));
    const job = await enqueueJob(first, customer.id, IDS, 1);
    await severalInFlight(first, job.id);
    await first.stop();

    const rows = await ledger(system, job.id);
    const sentFirst = (id: string) => first.fixtures.site(id).countsByName()[name] ?? 0;
    // What was in flight settled; what had not started is still 'prepared', and its site saw no post.
    for (const row of rows) {
      expect(['submitted', 'prepared']).toContain(row.status);
      expect({ id: row.directoryId, sent: sentFirst(row.directoryId) }).toEqual({
        id: row.directoryId,
        sent: row.status === 'submitted' ? 1 : 0,
      });
    }
    const settled = rows.filter((r) => r.status === 'submitted').length;
    expect(settled).toBeGreaterThanOrEqual(2);
    expect(settled).toBeLessThan(IDS.length);

    const again = await start();
    try {
      await waitForJob(again, job.id, 'completed', 60_000);
      for (const id of IDS) {
        const total = sentFirst(id) + (again.fixtures.site(id).countsByName()[name] ?? 0);
        expect({ id, total }).toEqual({ id, total: 1 });
      }
    } finally {
      await again.stop();
    }
  });
});
