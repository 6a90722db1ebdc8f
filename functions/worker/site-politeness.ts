/**
 * Politeness towards directory sites, across every worker process: at most one submission at a time per
 * site, and at least a minimum gap between two visits.
 *
 * The "one at a time" is a Postgres session advisory lock keyed by the site, held on a dedicated
 * connection for the visit: if the worker dies, its connection drops and the lock goes with it, so a
 * crash never blocks a site. A connection is taken from the pool only once the lock is won, so waiting
 * workers do not hold connections. The gap is measured on the database clock (site_visits), so workers
 * whose clocks disagree still keep it.
 */
import type pg from 'pg';
import type { Database } from '#shared/db';

export interface SiteSlot {
  /** Ends the visit: records when it ended and lets the next worker in. */
  release(): Promise<void>;
}

export interface SitePoliteness {
  /** Waits until this worker may visit `site`; throws SiteBusyError after `maxWaitMs`. */
  acquire(site: string, options: { holder: string; maxWaitMs: number }): Promise<SiteSlot>;
}

export class SiteBusyError extends Error {
  override readonly name = 'SiteBusyError';
  constructor(site: string, waitedMs: number) {
    super(`directory site ${site} stayed busy with another worker for ${waitedMs} ms`);
  }
}

/** Arbitrary constant naming formfleet's site locks (the first key of the two-key advisory lock). */
const LOCK_NAMESPACE = 0x73697465; // "site"

export class PgSitePoliteness implements SitePoliteness {
  constructor(
    private readonly db: Pick<Database, 'pool'>,
    private readonly minGapMs: number,
    private readonly pollMs = 100,
  ) {}

  async acquire(site: string, options: { holder: string; maxWaitMs: number }): Promise<SiteSlot> {
    const started = Date.now();
    let client: pg.PoolClient | undefined;
    for (let round = 0; ; round++) {
      const candidate = await this.db.pool.connect();
      try {
        const { rows } = await candidate.query<{ ok: boolean }>(
          'SELECT pg_try_advisory_lock($1, hashtext($2)) AS ok',
          [LOCK_NAMESPACE, site],
        );
        if (rows[0]?.ok) {
          client = candidate;
          break;
        }
        candidate.release();
      } catch (err) {
        candidate.release(err as Error);
        throw err;
      }
      const waited = Date.now() - started;
      if (waited >= options.maxWaitMs) throw new SiteBusyError(site, waited);
      // Poll a little slower the longer we wait, with jitter so waiting workers do not move in step.
      const pause = Math.min(this.pollMs * 2 ** Math.min(round, 4), 2_000);
      await sleep(pause / 2 + Math.random() * (pause / 2));
    }
    try {
      const { rows } = await client.query<{ wait_ms: number }>(
        `SELECT GREATEST(0, CEIL(EXTRACT(EPOCH FROM
                  (last_finished_at + make_interval(secs => $2::float8 / 1000) - clock_timestamp())) * 1000))::int
                AS wait_ms
         FROM site_visits WHERE site = $1`,
        [site, this.minGapMs],
      );
      const gap = rows[0]?.wait_ms ?? 0;
      if (gap > 0) await sleep(gap);
      await client.query(
        `INSERT INTO site_visits (site, holder, last_started_at, visits) VALUES ($1, $2, clock_timestamp(), 1)
         ON CONFLICT (site) DO UPDATE SET holder = $2, last_started_at = clock_timestamp(),
                visits = site_visits.visits + 1`,
        [site, options.holder],
      );
    } catch (err) {
      // Destroying the connection releases the lock with it.
      client.release(err as Error);
      throw err;
    }
    const held = client;
    let released = false;
    return {
      release: async () => {
        if (released) return;
        released = true;
        try {
          await held.query(
            `UPDATE site_visits SET holder = NULL, last_finished_at = clock_timestamp() WHERE site = $1`,
            [site],
          );
          await held.query('SELECT pg_advisory_unlock($1, hashtext($2))', [LOCK_NAMESPACE, site]);
          held.release();
        } catch (err) {
          held.release(err as Error);
        }
      },
    };
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
