/**
 * The dashboard's directory health panel (issue 17): the directories that need a person first (paused, then
 * drifting, from the daily health check: functions/directories/health.ts), then the worst by the scorecard
 * (GET /v1/directories/{id}/stats: the submitted rate of the rows settled in its default 30-day window, the
 * lowest first). Ids, states, counts and times only.
 */
import { LOCAL } from '#policy';
import type { Sql } from '#shared/db';
import type { DashboardPanel } from '../panels.ts';

/** The scorecard's default window (GET /v1/directories/{id}/stats `days`). */
const WINDOW_DAYS = 30;

const percent = (n: number | null) => (n === null ? '-' : `${Math.round(n * 100)}%`);
const time = (d: Date | null) => (d ? d.toISOString().replace('T', ' ').slice(0, 16) : '-');

export function directoryHealthPanel(sql: Pick<Sql, 'query'>): DashboardPanel {
  return {
    id: 'directory-health',
    title: 'Directory health',
    figures: [
      { key: 'paused', label: 'paused' },
      { key: 'drifting', label: 'drifting' },
      { key: 'ok', label: 'ok' },
      { key: 'unchecked', label: 'unchecked' },
    ],
    columns: ['directory', 'health', 'paused', `submitted (${WINDOW_DAYS} d)`, 'settled', 'drift', 'checked'],
    empty: 'no active directory',
    note:
      'Paused and drifting directories first (daily dry runs: directory-health), then the worst by the scorecard ' +
      '(GET /v1/directories/{id}/stats). npm run ops -- directories unpause <id> lets jobs send a paused one again.',
    async data() {
      const [counts, rows] = await Promise.all([
        sql.query<{ paused: number; drifting: number; ok: number; unchecked: number }>(
          `SELECT count(*) FILTER (WHERE paused_at IS NOT NULL)::int AS paused,
                  count(*) FILTER (WHERE health = 'drift')::int AS drifting,
                  count(*) FILTER (WHERE health = 'ok')::int AS ok,
                  count(*) FILTER (WHERE health = 'unchecked')::int AS unchecked
             FROM directories WHERE active`,
        ),
        sql.query<{
          id: string;
          health: string;
          drift_step: number | null;
          drift_since: Date | null;
          paused_at: Date | null;
          health_checked_at: Date | null;
          total: number;
          submitted: number;
          drift: number;
        }>(
          `SELECT d.id, d.health, d.drift_step, d.drift_since, d.paused_at, d.health_checked_at,
                  coalesce(s.total, 0) AS total, coalesce(s.submitted, 0) AS submitted, coalesce(s.drift, 0) AS drift
             FROM directories d
             LEFT JOIN LATERAL (
               SELECT count(*)::int AS total,
                      count(*) FILTER (WHERE status = 'submitted')::int AS submitted,
                      count(*) FILTER (WHERE error_class = 'selector_drift')::int AS drift
                 FROM submissions
                WHERE directory_id = d.id AND status NOT IN ('prepared', 'submitting')
                  AND finished_at >= now() - make_interval(days => $1)) s ON true
            WHERE d.active
            ORDER BY d.paused_at IS NULL, d.health <> 'drift',
                     CASE WHEN coalesce(s.total, 0) = 0 THEN 1 ELSE 0 END,
                     coalesce(s.submitted, 0)::float / greatest(coalesce(s.total, 0), 1), d.id
            LIMIT $2`,
          [WINDOW_DAYS, LOCAL.dashboardRecent],
        ),
      ]);
      const c = counts.rows[0];
      return {
        figures: {
          paused: c?.paused ?? 0,
          drifting: c?.drifting ?? 0,
          ok: c?.ok ?? 0,
          unchecked: c?.unchecked ?? 0,
        },
        rows: rows.rows.map((r) => [
          r.id,
          r.health === 'drift'
            ? `drift at step ${(r.drift_step ?? 0) + 1} since ${time(r.drift_since)}`
            : r.health,
          r.paused_at ? `since ${time(r.paused_at)}` : '',
          percent(r.total > 0 ? r.submitted / r.total : null),
          String(r.total),
          String(r.drift),
          time(r.health_checked_at),
        ]),
      };
    },
  };
}
