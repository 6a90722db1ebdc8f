/**
 * The figures behind the local dashboard (GET /dashboard/data), read fresh on every request from the same
 * sources the API reads: the health report is built by the very function behind GET /v1/health, jobs are
 * counted in Postgres, queue depths come from SQS (moto). To these it adds what only the local runtime
 * knows: the pollers' running invocations, the metrics handlers recorded (cache hits), what the Slack sink
 * received, and the scheduler's runs. No profile data (names, emails) is included: ids, counts and states.
 */
import { buildHealthReport, type HealthReport } from '#functions/api/health-report';
import type { QueueStats } from '#functions/api/queue-stats';
import { HEALTH, LOCAL, tierFor } from '#policy';
import type { Sql } from '#shared/db';
import { JOB_STATUSES, type JobStatus } from '#shared/job-store';
import { type CacheFigures, cacheFigures, type MetricCounters } from '../metrics-tap.ts';
import { type LifecycleFigures, lifecycleFigures } from './panels/lifecycle.ts';
import { type DashboardPanel, type PanelData, panelData } from './panels.ts';

export interface DashboardPoller {
  tier: 'P1' | 'P2' | 'P3';
  maxConcurrency: number;
  batchSize: number;
  inFlight(): number;
}

export interface DashboardSources {
  sql: Pick<Sql, 'query'>;
  queues: QueueStats;
  pollers: readonly DashboardPoller[];
  counters: Pick<MetricCounters, 'get' | 'snapshot'>;
  /** Where alerts are delivered: the local sink (with what it received) or a real webhook. */
  slack: { mode: 'local-sink' | 'webhook'; messages(): readonly { receivedAt: string; text?: string }[] };
  schedules: { names: readonly string[]; intervalMs(name: string): number; runs(name: string): number };
  /** When the runtime started. */
  startedAt: string;
  /** The stand-ins' panels (webhook receiver, PagerDuty sink). @default none */
  panels?: readonly DashboardPanel[];
}

export interface DashboardSnapshot {
  generatedAt: string;
  startedAt: string;
  health: HealthReport;
  queues: {
    tier: 'P1' | 'P2' | 'P3';
    depth: number | null;
    inFlight: number | null;
    dlqDepth: number | null;
    running: number;
    maxConcurrency: number;
    batchSize: number;
  }[];
  jobs: { byStatus: Record<JobStatus, number>; total: number };
  /** Ledger rows settled per minute (oldest first), the last LOCAL.dashboardMinutes minutes. */
  submissionsPerMinute: { minute: string; submitted: number; other: number }[];
  recentJobs: {
    id: string;
    tier: string;
    status: JobStatus;
    done: number;
    total: number;
    createdAt: string;
    finishedAt: string | null;
  }[];
  alerts: {
    id: string;
    kind: string;
    severity: string;
    title: string;
    summary: string;
    createdAt: string;
    publishedAt: string | null;
  }[];
  slack: { mode: 'local-sink' | 'webhook'; received: number; recent: { receivedAt: string; text: string }[] };
  workers: {
    id: string;
    active: boolean;
    lastSeenAt: string;
    jobsInFlight: number;
    browser: Record<string, unknown>;
  }[];
  cache: { customers: CacheFigures; directories: CacheFigures; overall: CacheFigures };
  schedules: { name: string; everyMs: number; runs: number }[];
  /** Each stand-in panel's figures and rows, by panel id. */
  panels: Record<string, PanelData>;
  /** The listings after the click (panels/lifecycle.ts). */
  lifecycle: LifecycleFigures;
}

const iso = (d: Date | null) => (d ? d.toISOString() : null);

/** Ledger rows finished per minute over the last $1 minutes, submitted or not (submissions_finished_idx). */
export const SUBMISSIONS_PER_MINUTE_SQL = `WITH minutes AS (
         SELECT generate_series(date_trunc('minute', now()) - make_interval(mins => $1 - 1),
                                date_trunc('minute', now()), interval '1 minute') AS minute)
       SELECT to_char(m.minute AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:00"Z"') AS minute,
              count(s.id) FILTER (WHERE s.status = 'submitted')::int AS submitted,
              count(s.id) FILTER (WHERE s.status <> 'submitted')::int AS other
       FROM minutes m
       LEFT JOIN submissions s ON s.finished_at >= m.minute AND s.finished_at < m.minute + interval '1 minute'
       GROUP BY m.minute ORDER BY m.minute`;

export async function dashboardSnapshot(sources: DashboardSources): Promise<DashboardSnapshot> {
  const { sql } = sources;
  const recent = LOCAL.dashboardRecent;
  const [health, statuses, perMinute, jobs, alerts, workers, lifecycle, panels] = await Promise.all([
    buildHealthReport({ sql, queues: sources.queues }),
    sql.query<{ status: JobStatus; n: number }>(
      'SELECT status, count(*)::int AS n FROM jobs GROUP BY status',
    ),
    sql.query<{ minute: string; submitted: number; other: number }>(SUBMISSIONS_PER_MINUTE_SQL, [
      LOCAL.dashboardMinutes,
    ]),
    sql.query<{
      id: string;
      priority: number;
      status: JobStatus;
      progress: { done?: number; total?: number };
      created_at: Date;
      finished_at: Date | null;
    }>(
      `SELECT id, priority, status, progress, created_at, finished_at FROM jobs
       ORDER BY created_at DESC, id DESC LIMIT $1`,
      [recent],
    ),
    sql.query<{
      id: string;
      kind: string;
      alert: { severity?: string; title?: string; summary?: string };
      created_at: Date;
      published_at: Date | null;
    }>(
      'SELECT id, kind, alert, created_at, published_at FROM alert_outbox ORDER BY created_at DESC LIMIT $1',
      [recent],
    ),
    sql.query<{
      id: string;
      active: boolean;
      last_seen_at: Date;
      jobs_in_flight: number;
      browser: Record<string, unknown>;
    }>(
      `SELECT id, last_seen_at > now() - make_interval(secs => $1) AS active, last_seen_at, jobs_in_flight, browser
       FROM workers WHERE last_seen_at > now() - make_interval(secs => $2)
       ORDER BY last_seen_at DESC LIMIT $3`,
      [HEALTH.workerStaleAfterSeconds, HEALTH.workerForgetAfterSeconds, recent],
    ),
    lifecycleFigures(sql),
    panelData(sources.panels ?? []),
  ]);

  const byStatus = Object.fromEntries(JOB_STATUSES.map((s) => [s, 0])) as Record<JobStatus, number>;
  for (const row of statuses.rows) byStatus[row.status] = row.n;
  const slackMessages = sources.slack.messages();

  return {
    generatedAt: new Date().toISOString(),
    startedAt: sources.startedAt,
    health,
    queues: sources.pollers.map((p) => {
      const q = health.queues.tiers.find((t) => t.tier === p.tier);
      return {
        tier: p.tier,
        depth: q?.depth ?? null,
        inFlight: q?.inFlight ?? null,
        dlqDepth: q?.dlqDepth ?? null,
        running: p.inFlight(),
        maxConcurrency: p.maxConcurrency,
        batchSize: p.batchSize,
      };
    }),
    jobs: { byStatus, total: Object.values(byStatus).reduce((a, b) => a + b, 0) },
    submissionsPerMinute: perMinute.rows,
    recentJobs: jobs.rows.map((j) => ({
      id: j.id,
      tier: tierFor(j.priority).name,
      status: j.status,
      done: j.progress.done ?? 0,
      total: j.progress.total ?? 0,
      createdAt: j.created_at.toISOString(),
      finishedAt: iso(j.finished_at),
    })),
    alerts: alerts.rows.map((a) => ({
      id: a.id,
      kind: a.kind,
      severity: a.alert.severity ?? 'info',
      title: a.alert.title ?? a.kind,
      summary: a.alert.summary ?? '',
      createdAt: a.created_at.toISOString(),
      publishedAt: iso(a.published_at),
    })),
    slack: {
      mode: sources.slack.mode,
      received: slackMessages.length,
      recent: slackMessages
        .slice(-recent)
        .reverse()
        .map((m) => ({ receivedAt: m.receivedAt, text: m.text ?? '(blocks only)' })),
    },
    workers: workers.rows.map((w) => ({
      id: w.id,
      active: w.active,
      lastSeenAt: w.last_seen_at.toISOString(),
      jobsInFlight: w.jobs_in_flight,
      browser: w.browser,
    })),
    cache: cacheFigures(sources.counters),
    schedules: sources.schedules.names.map((name) => ({
      name,
      everyMs: sources.schedules.intervalMs(name),
      runs: sources.schedules.runs(name),
    })),
    panels,
    lifecycle,
  };
}
