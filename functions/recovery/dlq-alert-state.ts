/**
 * What the DLQ check says, and when. Per tier it remembers the last depth and whether an alert episode is
 * open (table dlq_alert_state, so a cold start changes nothing), and decides:
 *
 *   empty → non-empty            'dlq' (new)         opens an episode
 *   non-empty, deeper than last  'dlq' (growing)
 *   non-empty, quiet for long    'dlq_reminder'      every reminderAfterSeconds while unresolved
 *   non-empty → empty            'dlq_resolved'      closes the episode
 *   anything else                nothing
 *
 * Two checks running at once take turns on the tier's row lock, and an observation older than the one
 * already recorded is ignored, so a slow check can neither repeat nor undo a faster one's alert.
 */
import type { Alert } from '#functions/alerts/alert';
import type { AlertOutbox } from '#functions/alerts/alert-outbox';
import type { Sql } from '#shared/db';

export interface DlqAlertState {
  tier: string;
  depth: number;
  observedAt: Date | null;
  alerting: boolean;
  episode: number;
  lastAlertAt: Date | null;
}

export type DlqAlertDecision =
  | { kind: 'dlq'; reason: 'new' | 'growing'; previousDepth: number }
  | { kind: 'dlq_reminder'; since: Date }
  | { kind: 'dlq_resolved'; previousDepth: number };

export interface DlqObservation {
  depth: number;
  /** When the depth was read (taken before the read, so a slower check carries the earlier time). */
  observedAt: Date;
}

export function decideDlqAlert(
  state: DlqAlertState,
  obs: DlqObservation,
  reminderAfterSeconds: number,
): { next: DlqAlertState; decision: DlqAlertDecision | null; outdated: boolean } {
  if (state.observedAt && obs.observedAt.getTime() < state.observedAt.getTime()) {
    return { next: state, decision: null, outdated: true };
  }
  const next: DlqAlertState = { ...state, depth: obs.depth, observedAt: obs.observedAt };
  let decision: DlqAlertDecision | null = null;
  if (obs.depth > 0 && !state.alerting) {
    decision = { kind: 'dlq', reason: 'new', previousDepth: state.depth };
    next.alerting = true;
    next.episode = state.episode + 1;
  } else if (obs.depth > 0 && obs.depth > state.depth) {
    decision = { kind: 'dlq', reason: 'growing', previousDepth: state.depth };
  } else if (
    obs.depth > 0 &&
    state.lastAlertAt &&
    obs.observedAt.getTime() - state.lastAlertAt.getTime() >= reminderAfterSeconds * 1000
  ) {
    decision = { kind: 'dlq_reminder', since: state.lastAlertAt };
  } else if (obs.depth === 0 && state.alerting) {
    decision = { kind: 'dlq_resolved', previousDepth: state.depth };
    next.alerting = false;
  }
  if (decision && decision.kind !== 'dlq_resolved') next.lastAlertAt = obs.observedAt;
  return { next, decision, outdated: false };
}

export interface RecordedObservation {
  state: DlqAlertState;
  decision: DlqAlertDecision | null;
  outdated: boolean;
  /** The alert added to the outbox, if any. */
  alert: Alert | null;
}

export interface DlqAlertStateStore {
  /**
   * Under the tier's row lock: reads the state, decides, writes the new state, and adds the alert built by
   * `alertFor` to the outbox, all in one transaction.
   */
  record(
    tier: string,
    obs: DlqObservation,
    reminderAfterSeconds: number,
    alertFor: (decision: DlqAlertDecision, state: DlqAlertState) => Alert,
  ): Promise<RecordedObservation>;
}

interface StateRow {
  tier: string;
  depth: number;
  observed_at: Date | null;
  alerting: boolean;
  episode: number;
  last_alert_at: Date | null;
}

export class PgDlqAlertStateStore implements DlqAlertStateStore {
  constructor(
    private readonly sql: Sql,
    private readonly outbox: AlertOutbox,
  ) {}

  record(
    tier: string,
    obs: DlqObservation,
    reminderAfterSeconds: number,
    alertFor: (decision: DlqAlertDecision, state: DlqAlertState) => Alert,
  ): Promise<RecordedObservation> {
    return this.sql.transaction(async (tx) => {
      await tx.query('INSERT INTO dlq_alert_state (tier) VALUES ($1) ON CONFLICT (tier) DO NOTHING', [tier]);
      const { rows } = await tx.query<StateRow>(
        `SELECT tier, depth, observed_at, alerting, episode, last_alert_at
         FROM dlq_alert_state WHERE tier = $1 FOR UPDATE`,
        [tier],
      );
      const row = rows[0] as StateRow;
      const state: DlqAlertState = {
        tier: row.tier,
        depth: row.depth,
        observedAt: row.observed_at,
        alerting: row.alerting,
        episode: row.episode,
        lastAlertAt: row.last_alert_at,
      };
      const { next, decision, outdated } = decideDlqAlert(state, obs, reminderAfterSeconds);
      if (outdated) return { state, decision: null, outdated, alert: null };
      await tx.query(
        `UPDATE dlq_alert_state SET depth = $2, observed_at = $3, alerting = $4, episode = $5, last_alert_at = $6
         WHERE tier = $1`,
        [tier, next.depth, next.observedAt, next.alerting, next.episode, next.lastAlertAt],
      );
      const alert = decision ? alertFor(decision, next) : null;
      if (alert) await this.outbox.add(tx, alert);
      return { state: next, decision, outdated, alert };
    });
  }
}
