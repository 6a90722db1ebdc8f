/**
 * The detailed health report behind GET /v1/health, and the rule that turns it into one word:
 *
 *   unhealthy  the database does not answer (nothing can be accepted or tracked without it);
 *   degraded   the database answers, but SQS cannot be read, a dead-letter queue holds messages, a job is
 *              stale (claimed, no heartbeat for RECOVERY.staleAfterSeconds), or a tier's backlog is above
 *              HEALTH.queueBacklogDegraded;
 *   healthy    otherwise.
 *
 * Every check has its own time budget, so a hung dependency makes the report say so instead of hanging it.
 */
import { HEALTH, RECOVERY } from '#policy';
import type { Sql } from '#shared/db';
import type { QueueStats, TierQueueStats } from './queue-stats.ts';

export type HealthStatus = 'healthy' | 'degraded' | 'unhealthy';

export interface HealthReport {
  status: HealthStatus;
  reasons: string[];
  checkedAt: string;
  database: { status: 'up' | 'down'; latencyMs: number | null };
  queues: { status: 'up' | 'unavailable'; tiers: TierQueueStats[] };
  workers: { active: number; stale: number; jobsInFlight: number } | null;
  staleJobs: {
    count: number;
    oldest: { id: string; claimedBy: string | null; staleSeconds: number }[];
  } | null;
  jobs: {
    pending: number;
    queued: number;
    inProgress: number;
    completedToday: number;
    failedToday: number;
  } | null;
  browser: { running: number; openContexts: number; launches: number; recycles: number } | null;
}

export interface HealthSources {
  sql: Pick<Sql, 'query'>;
  queues: QueueStats;
  databaseTimeoutMs?: number;
  queueTimeoutMs?: number;
}

export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms} ms`)), ms);
      timer.unref();
    }),
  ]).finally(() => clearTimeout(timer));
}

/** Whether the database answers within the budget, and how fast. */
export async function pingDatabase(
  sql: Pick<Sql, 'query'>,
  timeoutMs: number,
): Promise<{ status: 'up' | 'down'; latencyMs: number | null; error?: string }> {
  const started = performance.now();
  try {
    await withTimeout(sql.query('SELECT 1'), timeoutMs, 'the database');
    return { status: 'up', latencyMs: Math.round(performance.now() - started) };
  } catch (err) {
    return { status: 'down', latencyMs: null, error: (err as Error).message };
  }
}

const num = (field: string) =>
  `coalesce(sum(CASE WHEN jsonb_typeof(browser -> '${field}') = 'number' THEN (browser ->> '${field}')::numeric ELSE 0 END)
     FILTER (WHERE last_seen_at > now() - make_interval(secs => $1)), 0)::int`;

export async function buildHealthReport(sources: HealthSources): Promise<HealthReport> {
  const dbTimeout = sources.databaseTimeoutMs ?? HEALTH.databaseTimeoutMs;
  const queueTimeout = sources.queueTimeoutMs ?? HEALTH.queueTimeoutMs;
  const queuesPromise = withTimeout(sources.queues.tiers(), queueTimeout, 'SQS').then(
    (tiers) => ({ status: 'up' as const, tiers }),
    () => ({ status: 'unavailable' as const, tiers: [] as TierQueueStats[] }),
  );
  const database = await pingDatabase(sources.sql, dbTimeout);
  const report: HealthReport = {
    status: 'healthy',
    reasons: [],
    checkedAt: new Date().toISOString(),
    database: { status: database.status, latencyMs: database.latencyMs },
    queues: await queuesPromise,
    workers: null,
    staleJobs: null,
    jobs: null,
    browser: null,
  };
  if (database.status === 'up') {
    try {
      await withTimeout(readDatabaseFigures(sources.sql, report), dbTimeout, 'the database');
    } catch {
      report.database.status = 'down';
    }
  }
  return judge(report);
}

/** The job counts of a health report: active jobs and jobs finished today (jobs_active_idx, jobs_finished_idx). */
export const JOB_FIGURES_SQL = `SELECT count(*) FILTER (WHERE status = 'pending')::int AS "pending",
              count(*) FILTER (WHERE status = 'queued')::int AS "queued",
              count(*) FILTER (WHERE status = 'in_progress')::int AS "inProgress",
              count(*) FILTER (WHERE status = 'completed' AND finished_at >= date_trunc('day', now(), 'UTC'))::int
                AS "completedToday",
              count(*) FILTER (WHERE status = 'failed' AND finished_at >= date_trunc('day', now(), 'UTC'))::int
                AS "failedToday"
       FROM jobs
       WHERE status IN ('pending', 'queued', 'in_progress')
          OR finished_at >= date_trunc('day', now(), 'UTC')`;

async function readDatabaseFigures(sql: Pick<Sql, 'query'>, report: HealthReport): Promise<void> {
  const [jobs, workers, stale] = await Promise.all([
    sql.query<HealthReport['jobs'] & object>(JOB_FIGURES_SQL),
    sql.query<{
      active: number;
      stale: number;
      jobs_in_flight: number;
      browsers_running: number;
      open_contexts: number;
      launches: number;
      recycles: number;
    }>(
      `SELECT count(*) FILTER (WHERE last_seen_at > now() - make_interval(secs => $1))::int AS active,
              count(*) FILTER (WHERE last_seen_at <= now() - make_interval(secs => $1))::int AS stale,
              coalesce(sum(jobs_in_flight) FILTER (WHERE last_seen_at > now() - make_interval(secs => $1)), 0)::int
                AS jobs_in_flight,
              count(*) FILTER (WHERE last_seen_at > now() - make_interval(secs => $1)
                               AND browser ->> 'running' = 'true')::int AS browsers_running,
              ${num('openContexts')} AS open_contexts,
              ${num('launches')} AS launches,
              ${num('recycles')} AS recycles
       FROM workers
       WHERE last_seen_at > now() - make_interval(secs => $2)`,
      [HEALTH.workerStaleAfterSeconds, HEALTH.workerForgetAfterSeconds],
    ),
    sql.query<{ id: string; claimed_by: string | null; stale_seconds: number }>(
      `SELECT id, claimed_by, floor(extract(epoch FROM stale_for))::int AS stale_seconds
       FROM find_stale_jobs(make_interval(secs => $1))`,
      [RECOVERY.staleAfterSeconds],
    ),
  ]);
  report.jobs = jobs.rows[0] ?? null;
  const w = workers.rows[0];
  if (w) {
    report.workers = { active: w.active, stale: w.stale, jobsInFlight: w.jobs_in_flight };
    report.browser = {
      running: w.browsers_running,
      openContexts: w.open_contexts,
      launches: w.launches,
      recycles: w.recycles,
    };
  }
  report.staleJobs = {
    count: stale.rows.length,
    oldest: stale.rows
      .slice(0, 5)
      .map((r) => ({ id: r.id, claimedBy: r.claimed_by, staleSeconds: r.stale_seconds })),
  };
}

/** Applies the rule in this file's header. */
export function judge(report: HealthReport): HealthReport {
  const reasons: string[] = [];
  if (report.database.status === 'down') {
    return { ...report, status: 'unhealthy', reasons: ['the database does not answer'] };
  }
  if (report.queues.status === 'unavailable') reasons.push('SQS queue attributes cannot be read');
  for (const t of report.queues.tiers) {
    if (t.dlqDepth > 0) reasons.push(`the ${t.tier} dead-letter queue holds ${t.dlqDepth} message(s)`);
    if (t.depth > HEALTH.queueBacklogDegraded) {
      reasons.push(`the ${t.tier} backlog is ${t.depth} (over ${HEALTH.queueBacklogDegraded})`);
    }
  }
  if (report.staleJobs && report.staleJobs.count > 0) {
    reasons.push(`${report.staleJobs.count} job(s) stale: no heartbeat for ${RECOVERY.staleAfterSeconds} s`);
  }
  return { ...report, status: reasons.length > 0 ? 'degraded' : 'healthy', reasons };
}
