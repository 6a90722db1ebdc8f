/**
 * The detailed health report behind GET /v1/health, and the rule that turns it into one word:
 *
 *   unhealthy  the database does not answer (nothing can be accepted or tracked without it);
 *   degraded   the database answers, but SQS cannot be read, a dead-letter queue holds messages, a job is
 *              stale (claimed, no heartbeat for RECOVERY.staleAfterSeconds), a job is queued with no message
 *              left on its queue (quiet for RECOVERY.queuedLostAfterSeconds in a tier whose queue holds fewer
 *              messages than its queued and running jobs), or a tier's backlog is above
 *              HEALTH.queueBacklogDegraded;
 *   healthy    otherwise.
 *
 * Every check has its own time budget, so a hung dependency makes the report say so instead of hanging it.
 */
import { lostMessages, QUEUED_BY_TIER_SQL, type TierBacklog } from '#functions/recovery/recovery-store';
import { HEALTH, type Priority, RECOVERY, tierFor } from '#policy';
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
  /** Jobs queued whose message is gone (stale-jobs re-sends them); null when the database or SQS is unread. */
  queuedWithoutMessage: { count: number; tiers: { tier: 'P1' | 'P2' | 'P3'; count: number }[] } | null;
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
    queuedWithoutMessage: null,
  };
  if (database.status === 'up') {
    try {
      const backlog = await withTimeout(readDatabaseFigures(sources.sql, report), dbTimeout, 'the database');
      if (report.queues.status === 'up')
        report.queuedWithoutMessage = withoutMessage(backlog, report.queues.tiers);
    } catch {
      report.database.status = 'down';
    }
  }
  return judge(report);
}

/** Per tier, the queued jobs whose message is gone: the rule stale-jobs re-sends by (lostMessages). */
function withoutMessage(
  backlog: readonly TierBacklog[],
  tiers: readonly TierQueueStats[],
): NonNullable<HealthReport['queuedWithoutMessage']> {
  const lost = backlog.flatMap((b) => {
    const name = tierFor(b.priority).name;
    const queue = tiers.find((t) => t.tier === name);
    const count = queue ? lostMessages(b, queue.depth + queue.inFlight) : 0;
    return count > 0 ? [{ tier: name, count }] : [];
  });
  return { count: lost.reduce((n, t) => n + t.count, 0), tiers: lost };
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

async function readDatabaseFigures(sql: Pick<Sql, 'query'>, report: HealthReport): Promise<TierBacklog[]> {
  const [jobs, workers, stale, backlog] = await Promise.all([
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
    sql.query<{ priority: Priority; expected: number; quiet: number }>(QUEUED_BY_TIER_SQL, [
      RECOVERY.queuedLostAfterSeconds,
    ]),
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
  return backlog.rows;
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
  if (report.queuedWithoutMessage && report.queuedWithoutMessage.count > 0) {
    reasons.push(
      `${report.queuedWithoutMessage.count} job(s) queued for over ${RECOVERY.queuedLostAfterSeconds} s with no ` +
        'message on their queue; stale-jobs re-sends them',
    );
  }
  return { ...report, status: reasons.length > 0 ? 'degraded' : 'healthy', reasons };
}
