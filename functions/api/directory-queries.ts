/** The directories API's own queries beside the shared DirectoryStore: a filtered keyset list, soft delete. */
import type { Sql } from '#shared/db';
import {
  DIRECTORY_SUMMARY_COLUMNS,
  type Directory,
  type DirectoryRow,
  toDirectorySummary,
} from '#shared/directory-store';

export type DirectorySummary = Omit<Directory, 'definition'>;

export interface DirectoryListFilter {
  category?: string;
  tier?: number;
  active?: boolean;
  limit: number;
  /** Keyset: the id of the last row of the previous page. */
  afterId?: string;
}

/** A directory's scorecard over a window (GET /v1/directories/{id}/stats). */
export interface DirectoryStats {
  directoryId: string;
  window: { days: number; from: string; to: string };
  /** Ledger rows that settled (finished) in the window. */
  total: number;
  byStatus: Record<string, number>;
  byErrorClass: Record<string, number>;
  /** submitted / total; null with nothing settled. */
  submittedRate: number | null;
  /** Of the submitted rows a listing recheck has looked at, how many went live; null when none was looked at. */
  liveRate: number | null;
  durationMs: { p50: number | null; p95: number | null };
  captchaRate: number | null;
  loginWallRate: number | null;
  /** The last selector_drift failure (any time, not only in the window). */
  lastDrift: { at: string; error: string | null } | null;
}

export interface DirectoryQueries {
  /** The scorecard; undefined when there is no such directory. */
  stats(id: string, days: number): Promise<DirectoryStats | undefined>;
  list(filter: DirectoryListFilter): Promise<{ directories: DirectorySummary[]; next: string | null }>;
  /** active = false; true if the directory exists. Ledger rows keep referencing it. */
  deactivate(id: string): Promise<boolean>;
}

type SummaryRow = Omit<DirectoryRow, 'definition'>;

export class PgDirectoryQueries implements DirectoryQueries {
  constructor(private readonly sql: Sql) {}

  async stats(id: string, days: number): Promise<DirectoryStats | undefined> {
    const { rows } = await this.sql.query<{
      exists: boolean;
      from: Date;
      to: Date;
      by_status: Record<string, number> | null;
      by_class: Record<string, number> | null;
      total: number;
      looked: number;
      live: number;
      p50: number | null;
      p95: number | null;
      drift_at: Date | null;
      drift_error: string | null;
    }>(
      `WITH w AS (SELECT now() AS "to", now() - make_interval(days => $2) AS "from"),
            s AS (SELECT sub.* FROM submissions sub, w
                  WHERE sub.directory_id = $1 AND sub.finished_at >= w."from" AND sub.finished_at <= w."to"
                    AND sub.status NOT IN ('prepared', 'submitting')),
            d AS (SELECT finished_at, error FROM submissions
                  WHERE directory_id = $1 AND error_class = 'selector_drift' AND finished_at IS NOT NULL
                  ORDER BY finished_at DESC LIMIT 1)
       SELECT EXISTS (SELECT 1 FROM directories WHERE id = $1) AS exists, w."from", w."to",
              (SELECT jsonb_object_agg(status, n) FROM (SELECT status, count(*)::int AS n FROM s GROUP BY status) x) AS by_status,
              (SELECT jsonb_object_agg(error_class, n) FROM (SELECT error_class, count(*)::int AS n FROM s
                 WHERE error_class IS NOT NULL GROUP BY error_class) x) AS by_class,
              (SELECT count(*)::int FROM s) AS total,
              (SELECT count(*)::int FROM s WHERE lifecycle IS NOT NULL AND lifecycle <> 'pending_verification') AS looked,
              (SELECT count(*)::int FROM s WHERE lifecycle = 'live') AS live,
              (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM finished_at - started_at) * 1000)
                 FROM s WHERE started_at IS NOT NULL) AS p50,
              (SELECT percentile_cont(0.95) WITHIN GROUP (ORDER BY extract(epoch FROM finished_at - started_at) * 1000)
                 FROM s WHERE started_at IS NOT NULL) AS p95,
              (SELECT finished_at FROM d) AS drift_at, (SELECT error FROM d) AS drift_error
       FROM w`,
      [id, days],
    );
    const r = rows[0];
    if (!r?.exists) return undefined;
    const byClass = r.by_class ?? {};
    const rate = (n: number) => (r.total > 0 ? n / r.total : null);
    return {
      directoryId: id,
      window: { days, from: r.from.toISOString(), to: r.to.toISOString() },
      total: r.total,
      byStatus: r.by_status ?? {},
      byErrorClass: byClass,
      submittedRate: rate(r.by_status?.submitted ?? 0),
      liveRate: r.looked > 0 ? r.live / r.looked : null,
      durationMs: {
        p50: r.p50 === null ? null : Math.round(Number(r.p50)),
        p95: r.p95 === null ? null : Math.round(Number(r.p95)),
      },
      captchaRate: rate(byClass.captcha ?? 0),
      loginWallRate: rate(byClass.login_required ?? 0),
      lastDrift: r.drift_at ? { at: r.drift_at.toISOString(), error: r.drift_error } : null,
    };
  }

  async list(filter: DirectoryListFilter): Promise<{ directories: DirectorySummary[]; next: string | null }> {
    const { rows } = await this.sql.query<SummaryRow>(
      `SELECT ${DIRECTORY_SUMMARY_COLUMNS}
       FROM directories
       WHERE ($1::text IS NULL OR category = $1)
         AND ($2::int IS NULL OR tier = $2)
         AND ($3::boolean IS NULL OR active = $3)
         AND ($4::text IS NULL OR id > $4)
       ORDER BY id
       LIMIT $5`,
      [
        filter.category ?? null,
        filter.tier ?? null,
        filter.active ?? null,
        filter.afterId ?? null,
        filter.limit + 1,
      ],
    );
    const page = rows.slice(0, filter.limit);
    return {
      directories: page.map(toDirectorySummary),
      next: rows.length > filter.limit ? (page.at(-1)?.id ?? null) : null,
    };
  }

  async deactivate(id: string): Promise<boolean> {
    // version + 1: caches that check the version (the worker's) see the change at once.
    const { rowCount } = await this.sql.query(
      `UPDATE directories SET active = false,
              version = CASE WHEN active THEN version + 1 ELSE version END
       WHERE id = $1`,
      [id],
    );
    return rowCount === 1;
  }
}
