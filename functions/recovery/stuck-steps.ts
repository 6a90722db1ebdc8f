/**
 * Dead worker or slow site? A job with no recent heartbeat has lost its worker (the stale scan requeues it).
 * A job whose heartbeats keep arriving while its progress shows the same step for too long has a live worker
 * stuck on something: a site that does not answer, a browser that hung. Requeueing would only move the
 * problem, so this is reported (metric + one alert per job and step) and left running.
 */
import { createHash } from 'node:crypto';
import { type Alert, makeAlert, RUNBOOKS } from '#functions/alerts/alert';
import { tierFor } from '#policy';
import type { LiveJob } from './recovery-store.ts';

export interface StuckStep {
  jobId: string;
  customerId: string;
  priority: LiveJob['priority'];
  workerId: string | null;
  fencingToken: number;
  directoryId: string | null;
  step: string | null;
  stepSince: string;
  stuckForSeconds: number;
  heartbeatAt: string;
}

/** Jobs among `jobs` (all heartbeating) whose current step began more than `afterSeconds` before `now`. */
export function findStuckSteps(jobs: readonly LiveJob[], now: Date, afterSeconds: number): StuckStep[] {
  const stuck: StuckStep[] = [];
  for (const job of jobs) {
    const since = job.progress?.stepSince;
    // Without a step start there is nothing to measure (a worker that never reported a step).
    if (typeof since !== 'string') continue;
    const sinceMs = Date.parse(since);
    if (Number.isNaN(sinceMs)) continue;
    const stuckForSeconds = Math.floor((now.getTime() - sinceMs) / 1000);
    if (stuckForSeconds < afterSeconds) continue;
    stuck.push({
      jobId: job.id,
      customerId: job.customerId,
      priority: job.priority,
      workerId: job.claimedBy,
      fencingToken: job.fencingToken,
      directoryId: job.progress.directoryId ?? null,
      step: job.progress.step ?? null,
      stepSince: new Date(sinceMs).toISOString(),
      stuckForSeconds,
      heartbeatAt: job.heartbeatAt,
    });
  }
  return stuck;
}

/** The alert for one stuck step. Its id names the job, the claim and the step, so it is raised once. */
export function stuckStepAlert(s: StuckStep, time: string): Alert {
  const key = createHash('sha256')
    .update([s.jobId, s.fencingToken, s.directoryId ?? '', s.step ?? '', s.stepSince].join('|'))
    .digest('hex')
    .slice(0, 32);
  const where = [s.step ? `step "${s.step}"` : 'a step', s.directoryId ? `on ${s.directoryId}` : '']
    .filter(Boolean)
    .join(' ');
  const minutes = Math.round(s.stuckForSeconds / 60);
  return makeAlert({
    id: `stuck_step:${s.jobId}:${key}`,
    kind: 'stuck_step',
    severity: 'warning',
    title: `Job stuck at ${where} for ${minutes} min`,
    summary:
      `Job ${s.jobId} is still heartbeating (worker alive) but has not left ${where} since ${s.stepSince}. ` +
      'The site is slow or the browser hung; the job was not requeued.',
    counts: { stuckForSeconds: s.stuckForSeconds },
    items: [
      {
        title: s.jobId,
        fields: {
          tier: tierFor(s.priority).name,
          customer: s.customerId,
          directory: s.directoryId,
          step: s.step,
          worker: s.workerId,
          lastHeartbeat: s.heartbeatAt,
        },
      },
    ],
    runbook: RUNBOOKS.stuckStep,
    time,
    source: 'stale-jobs',
  });
}
