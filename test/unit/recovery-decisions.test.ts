/**
 * The pure decisions of recovery: when the DLQ check speaks (news only), and when a live job counts as stuck
 * on a step rather than dead.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type DlqAlertState, decideDlqAlert } from '#functions/recovery/dlq-alert-state';
import type { LiveJob } from '#functions/recovery/recovery-store';
import { findStuckSteps, stuckStepAlert } from '#functions/recovery/stuck-steps';

const initial: DlqAlertState = {
  tier: 'P1',
  depth: 0,
  observedAt: null,
  alerting: false,
  episode: 0,
  lastAlertAt: null,
};
const HOUR = 3_600;
const at = (minutes: number) => new Date(Date.UTC(2026, 4, 1, 0, minutes));

/** Runs a series of depths, one check every 5 minutes, and returns what each check decided. */
function run(depths: readonly number[], reminderAfterSeconds = HOUR) {
  let state = initial;
  return depths.map((depth, i) => {
    const { next, decision } = decideDlqAlert(state, { depth, observedAt: at(i * 5) }, reminderAfterSeconds);
    state = next;
    return decision ? (decision.kind === 'dlq' ? `dlq:${decision.reason}` : decision.kind) : null;
  });
}

describe('DLQ alert decisions', () => {
  it('alerts on a new DLQ once, not on every check, and again only when it grows', () => {
    expect(run([0, 1, 1, 1, 3, 3, 2, 2])).toEqual([
      null,
      'dlq:new',
      null,
      null,
      'dlq:growing',
      null,
      null,
      null,
    ]);
  });

  it('says "resolved" once when the DLQ drains, and opens a new episode if it fills again', () => {
    let state = initial;
    const episodes: number[] = [];
    const kinds = [2, 0, 0, 1].map((depth, i) => {
      const r = decideDlqAlert(state, { depth, observedAt: at(i * 5) }, HOUR);
      state = r.next;
      episodes.push(state.episode);
      return r.decision?.kind ?? null;
    });
    expect(kinds).toEqual(['dlq', 'dlq_resolved', null, 'dlq']);
    expect(episodes).toEqual([1, 1, 1, 2]);
  });

  it('reminds after the quiet period while unresolved, then waits another period', () => {
    // One check every 5 minutes, reminder after 20 minutes.
    expect(run([1, 1, 1, 1, 1, 1, 1, 1, 1], 20 * 60)).toEqual([
      'dlq:new',
      null,
      null,
      null,
      'dlq_reminder',
      null,
      null,
      null,
      'dlq_reminder',
    ]);
  });

  it('ignores an observation older than the one recorded (a slow check cannot undo a fast one)', () => {
    const fast = decideDlqAlert(initial, { depth: 2, observedAt: at(10) }, HOUR);
    const slow = decideDlqAlert(fast.next, { depth: 0, observedAt: at(9) }, HOUR);
    expect(slow).toEqual({ next: fast.next, decision: null, outdated: true });
  });

  it('for any series of depths: one "new" per fill, one "resolved" per drain, silence when unchanged', () => {
    fc.assert(
      fc.property(fc.array(fc.nat({ max: 4 }), { maxLength: 40 }), (depths) => {
        const decisions = run(depths, 10 * HOUR);
        let fills = 0;
        let drains = 0;
        let prev = 0;
        depths.forEach((d, i) => {
          if (prev === 0 && d > 0) fills += 1;
          if (prev > 0 && d === 0) drains += 1;
          if (d === prev || (d < prev && d > 0)) expect(decisions[i]).toBeNull();
          prev = d;
        });
        expect(decisions.filter((d) => d === 'dlq:new')).toHaveLength(fills);
        expect(decisions.filter((d) => d === 'dlq_resolved')).toHaveLength(drains);
      }),
      { numRuns: 300 },
    );
  });
});

describe('stuck steps', () => {
  const now = new Date('2026-05-01T10:00:00Z');
  const job = (id: string, progress: LiveJob['progress']): LiveJob => ({
    id,
    customerId: 'c1',
    priority: 2,
    claimedBy: 'worker-1',
    fencingToken: 4,
    heartbeatAt: '2026-05-01T09:59:50Z',
    progress,
  });

  it('reports a heartbeating job whose step began longer ago than the threshold, and no other', () => {
    const stuck = findStuckSteps(
      [
        job('slow', { directoryId: 'dir-a', step: 'submit', stepSince: '2026-05-01T09:50:00Z' }),
        job('moving', { directoryId: 'dir-b', step: 'fill', stepSince: '2026-05-01T09:58:00Z' }),
        job('no-step', { total: 3 }),
        job('garbage', { stepSince: 'yesterday-ish' }),
      ],
      now,
      300,
    );
    expect(stuck).toEqual([
      expect.objectContaining({ jobId: 'slow', directoryId: 'dir-a', step: 'submit', stuckForSeconds: 600 }),
    ]);
  });

  it('names the job, claim and step in the alert id, so each stuck step is reported once', () => {
    const s = findStuckSteps(
      [job('j1', { directoryId: 'dir-a', step: 'submit', stepSince: '2026-05-01T09:50:00Z' })],
      now,
      300,
    )[0];
    if (!s) throw new Error('expected a stuck step');
    const a = stuckStepAlert(s, now.toISOString());
    const later = stuckStepAlert({ ...s, stuckForSeconds: 900 }, '2026-05-01T10:05:00Z');
    const nextStep = stuckStepAlert(
      { ...s, step: 'verify', stepSince: '2026-05-01T09:55:00Z' },
      now.toISOString(),
    );
    expect(later.id).toBe(a.id);
    expect(nextStep.id).not.toBe(a.id);
    expect(a).toMatchObject({
      kind: 'stuck_step',
      severity: 'warning',
      title: 'Job stuck at step "submit" on dir-a for 10 min',
      runbook: 'docs/runbooks/stuck-step.md',
    });
  });
});
