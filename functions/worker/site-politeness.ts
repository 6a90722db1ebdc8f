/**
 * Politeness towards directory sites, across every worker process: at most one visit at a time per site,
 * and at least a minimum gap between two visits.
 *
 * The "one at a time" is a lease row per site (site_visits: holder, lease token, expiry), taken in one
 * statement when it is free or expired, renewed every third of the lease while the visit lasts, and released
 * at its end. No connection is held and no session state is kept, so it works the same directly and behind
 * a transaction pooler. A worker that dies mid-visit stops renewing: its lease expires after at most
 * WORKER.siteLeaseSeconds and the next worker takes the site over. Every write names the lease token, so a
 * worker whose lease expired (and was taken over) can neither renew nor release its successor's.
 *
 * The gap is measured on the database clock (site_visits.last_finished_at), so workers whose clocks
 * disagree still keep it. Waiting workers poll with backoff and jitter, holding no connection meanwhile.
 */
import { randomUUID } from 'node:crypto';
import { WORKER } from '#policy';
import type { Sql } from '#shared/db';

export interface SiteSlot {
  /** Ends the visit: records when it ended and lets the next worker in. Never rejects. */
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

export interface SitePolitenessOptions {
  /** First pause between two tries on a busy site (it doubles, with jitter, up to 2 s). @default 100 */
  pollMs?: number;
  /** Lease length; renewed every third of it. @default WORKER.siteLeaseSeconds (policy) */
  leaseMs?: number;
}

/** Takes the site's lease if nobody holds a live one; returns how long the minimum gap still asks to wait. */
const TAKE_LEASE_SQL = `INSERT INTO site_visits AS v (site, holder, lease_token, lease_expires_at)
  VALUES ($1, $2, $3, clock_timestamp() + make_interval(secs => $4::float8 / 1000))
  ON CONFLICT (site) DO UPDATE
     SET holder = EXCLUDED.holder, lease_token = EXCLUDED.lease_token, lease_expires_at = EXCLUDED.lease_expires_at
   WHERE v.lease_token IS NULL OR v.lease_expires_at <= clock_timestamp()
  RETURNING GREATEST(0, CEIL(EXTRACT(EPOCH FROM
              (v.last_finished_at + make_interval(secs => $5::float8 / 1000) - clock_timestamp())) * 1000))::int
            AS wait_ms`;

export class PgSitePoliteness implements SitePoliteness {
  private readonly pollMs: number;
  private readonly leaseMs: number;

  constructor(
    private readonly sql: Pick<Sql, 'query'>,
    private readonly minGapMs: number,
    options: SitePolitenessOptions = {},
  ) {
    this.pollMs = options.pollMs ?? 100;
    this.leaseMs = options.leaseMs ?? WORKER.siteLeaseSeconds * 1000;
    if (!(this.leaseMs >= 30))
      throw new RangeError(`site lease must be at least 30 ms (got ${this.leaseMs})`);
  }

  async acquire(site: string, options: { holder: string; maxWaitMs: number }): Promise<SiteSlot> {
    const started = Date.now();
    const token = randomUUID();
    let waitMs: number;
    for (let round = 0; ; round++) {
      const { rows } = await this.sql.query<{ wait_ms: number | null }>(TAKE_LEASE_SQL, [
        site,
        options.holder,
        token,
        this.leaseMs,
        this.minGapMs,
      ]);
      if (rows.length > 0) {
        waitMs = rows[0]?.wait_ms ?? 0;
        break;
      }
      const waited = Date.now() - started;
      if (waited >= options.maxWaitMs) throw new SiteBusyError(site, waited);
      // Poll a little slower the longer we wait, with jitter so waiting workers do not move in step.
      const pause = Math.min(this.pollMs * 2 ** Math.min(round, 4), 2_000);
      await sleep(pause / 2 + Math.random() * (pause / 2));
    }
    const lease = new SiteLease(this.sql, site, token, this.leaseMs);
    try {
      if (waitMs > 0) await sleep(waitMs);
      const { rowCount } = await this.sql.query(
        `UPDATE site_visits SET last_started_at = clock_timestamp(), visits = visits + 1
         WHERE site = $1 AND lease_token = $2`,
        [site, token],
      );
      if (rowCount !== 1) throw new Error(`lost the lease on ${site} while waiting out the minimum gap`);
    } catch (err) {
      await lease.end(false);
      throw err;
    }
    return { release: () => lease.end(true) };
  }
}

/** A held lease: renewed on a timer until ended. */
class SiteLease {
  private readonly timer: NodeJS.Timeout;
  private renewing: Promise<void> | undefined;
  private ended: Promise<void> | undefined;
  private lost = false;

  constructor(
    private readonly sql: Pick<Sql, 'query'>,
    private readonly site: string,
    private readonly token: string,
    private readonly leaseMs: number,
  ) {
    this.timer = setInterval(
      () => {
        if (this.renewing || this.lost) return;
        this.renewing = this.renew().finally(() => {
          this.renewing = undefined;
        });
      },
      Math.max(10, Math.floor(leaseMs / 3)),
    );
    // The lease never keeps a process alive on its own.
    this.timer.unref();
  }

  private async renew(): Promise<void> {
    try {
      const { rowCount } = await this.sql.query(
        `UPDATE site_visits SET lease_expires_at = clock_timestamp() + make_interval(secs => $3::float8 / 1000)
         WHERE site = $1 AND lease_token = $2`,
        [this.site, this.token, this.leaseMs],
      );
      // Expired and taken over (renewals failed for a whole lease): stop; the successor owns the site now.
      if (rowCount === 0) this.lost = true;
    } catch {
      // The database is unreachable for now; the next tick tries again, within the lease's margin.
    }
  }

  /** Stops renewing and gives the site back (recording the visit's end when `visited`); never rejects. */
  end(visited: boolean): Promise<void> {
    this.ended ??= (async () => {
      clearInterval(this.timer);
      await this.renewing;
      try {
        await this.sql.query(
          `UPDATE site_visits SET holder = NULL, lease_token = NULL, lease_expires_at = NULL
                  ${visited ? ', last_finished_at = clock_timestamp()' : ''}
           WHERE site = $1 AND lease_token = $2`,
          [this.site, this.token],
        );
      } catch {
        // Unreachable: the lease expires on its own within leaseMs.
      }
    })();
    return this.ended;
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
