/**
 * Directory health in Postgres (sql/090_directory_health.sql): which directories are due a check, what a
 * check saw, and the pause. A pause and its alert are written in one transaction through the alert outbox,
 * so a pause exists exactly when its alert does; the alert's id is the directory and the moment it was
 * paused, so one pause is one alert however often it is noticed.
 */
import type { AlertOutbox } from '#functions/alerts/alert-outbox';
import type { Sql } from '#shared/db';
import {
  DIRECTORY_SUMMARY_COLUMNS,
  type Directory,
  type DirectorySummaryRow,
  type HealthState,
  toDirectorySummary,
} from '#shared/directory-store';
import { directoryPausedAlert } from './health-alert.ts';

/** What one check saw (functions/directories/health.ts `verdict`). */
export interface HealthCheck {
  status: Exclude<HealthState, 'unchecked'>;
  /** The dry run's outcome (ready, drift, site_down, ...). */
  outcome: string;
  /** The first missing step, for 'drift'. */
  driftStep: number | null;
  /** Why it would pause, for 'drift' ("step 1 (fill businessName) is missing ..."). */
  driftDetail: string | null;
}

export interface PauseCause {
  reason: string;
  /** 'dry_run' or 'submissions': what found it. */
  source: 'dry_run' | 'submissions';
  driftStep: number | null;
}

export interface DirectoryHealthStore {
  /** Ids of active directories whose check is due (never checked first, then the longest unchecked). */
  due(now: Date, intervalSeconds: number, limit: number): Promise<string[]>;
  /** Records a check; pauses the directory (with its alert) when it drifted and is not paused yet. */
  record(id: string, check: HealthCheck, now: Date): Promise<{ paused: boolean }>;
  /**
   * Pauses every active, unpaused directory whose last `n` real submissions (settled since its last unpause)
   * all failed with selector_drift; answers the ids paused.
   */
  pauseDriftingSubmissions(n: number, now: Date): Promise<string[]>;
  /** Unpauses (the next health run checks it again at once); undefined when there is no such directory. */
  unpause(id: string, now: Date): Promise<Omit<Directory, 'definition'> | undefined>;
}

/** Settled rows that were real attempts at the form (a skipped row never reached it). */
const ATTEMPTED = `('submitted', 'failed', 'needs_manual', 'unknown', 'unverified')`;

export class PgDirectoryHealthStore implements DirectoryHealthStore {
  constructor(
    private readonly sql: Sql,
    private readonly outbox: AlertOutbox,
  ) {}

  async due(now: Date, intervalSeconds: number, limit: number): Promise<string[]> {
    const { rows } = await this.sql.query<{ id: string }>(
      `SELECT id FROM directories
       WHERE active AND (health_checked_at IS NULL
                         OR health_checked_at <= $1::timestamptz - make_interval(secs => $2))
       ORDER BY health_checked_at NULLS FIRST, id
       LIMIT $3`,
      [now, intervalSeconds, limit],
    );
    return rows.map((r) => r.id);
  }

  record(id: string, check: HealthCheck, now: Date): Promise<{ paused: boolean }> {
    return this.sql.transaction(async (tx) => {
      const { rows } = await tx.query<DirectorySummaryRow>(
        `UPDATE directories SET health = $2, health_outcome = $3, health_checked_at = $4,
                -- A check that could not tell (site down, a captcha) leaves a drift as it was.
                drift_step = CASE $2 WHEN 'drift' THEN $5 WHEN 'ok' THEN NULL ELSE drift_step END,
                drift_since = CASE $2 WHEN 'drift' THEN coalesce(drift_since, $4) WHEN 'ok' THEN NULL
                                      ELSE drift_since END
         WHERE id = $1
         RETURNING ${DIRECTORY_SUMMARY_COLUMNS}`,
        [id, check.status, check.outcome, now, check.driftStep],
      );
      const row = rows[0];
      if (!row || check.status !== 'drift' || row.paused_at !== null) return { paused: false };
      await pause(tx, this.outbox, row, now, {
        reason: check.driftDetail ?? 'the daily dry run found a step missing',
        source: 'dry_run',
        driftStep: check.driftStep,
      });
      return { paused: true };
    });
  }

  async pauseDriftingSubmissions(n: number, now: Date): Promise<string[]> {
    return this.sql.transaction(async (tx) => {
      const { rows } = await tx.query<DirectorySummaryRow>(
        `SELECT d.* FROM directories d
         WHERE d.active AND d.paused_at IS NULL
           AND (SELECT count(*) FILTER (WHERE x.error_class = 'selector_drift') = $1 AND count(*) = $1
                FROM (SELECT s.error_class FROM submissions s
                      WHERE s.directory_id = d.id AND s.finished_at IS NOT NULL AND s.status IN ${ATTEMPTED}
                        AND (d.unpaused_at IS NULL OR s.finished_at > d.unpaused_at)
                      ORDER BY s.finished_at DESC LIMIT $1) x)
         ORDER BY d.id
         FOR UPDATE OF d SKIP LOCKED`,
        [n],
      );
      for (const row of rows) {
        await pause(tx, this.outbox, row, now, {
          reason: `its last ${n} submissions failed with selector_drift: the site changed its form`,
          source: 'submissions',
          driftStep: null,
        });
      }
      return rows.map((r) => r.id);
    });
  }

  async unpause(id: string, now: Date): Promise<Omit<Directory, 'definition'> | undefined> {
    const { rows } = await this.sql.query<DirectorySummaryRow>(
      `UPDATE directories SET paused_at = NULL, paused_reason = NULL,
              unpaused_at = CASE WHEN paused_at IS NULL THEN unpaused_at ELSE $2 END,
              health_checked_at = CASE WHEN paused_at IS NULL THEN health_checked_at END
       WHERE id = $1
       RETURNING ${DIRECTORY_SUMMARY_COLUMNS}`,
      [id, now],
    );
    return rows[0] ? toDirectorySummary(rows[0]) : undefined;
  }
}

async function pause(
  tx: Sql,
  outbox: AlertOutbox,
  row: DirectorySummaryRow,
  now: Date,
  cause: PauseCause,
): Promise<void> {
  await tx.query(
    `UPDATE directories SET paused_at = $2, paused_reason = $3 WHERE id = $1 AND paused_at IS NULL`,
    [row.id, now, cause.reason],
  );
  await outbox.add(tx, directoryPausedAlert(toDirectorySummary(row), cause, now));
}
