/**
 * The transactional alert outbox (table alert_outbox). A handler adds an alert in the same transaction as the
 * change it reports, so the alert exists exactly when the change does; any handler run then publishes what is
 * waiting. An SNS outage delays alerts instead of losing them, and an alert id already present is not added
 * again, so a condition noticed by two runs (or twice by one) is reported once.
 */
import { ALERTS } from '#policy';
import type { Sql } from '#shared/db';
import { describeError, type Logger } from '#shared/telemetry';
import type { Alert } from './alert.ts';
import type { Alerts } from './alerts.ts';

export interface FlushReport {
  published: number;
  /** Alerts still waiting because publishing failed (retried by the next flush). */
  pending: number;
  error?: { name: string; message: string };
}

export interface AlertOutbox {
  /** Adds `alert` inside the caller's transaction `tx`; false when an alert with its id was added before. */
  add(tx: Sql, alert: Alert): Promise<boolean>;
  /** Publishes waiting alerts, oldest first; stops at the first failure (the rest wait for the next flush). */
  flush(alerts: Alerts, options?: { limit?: number }): Promise<FlushReport>;
}

/** Most published rows pruned per flush, so a flush stays quick however long pruning was skipped. */
const PRUNE_BATCH = 1_000;

export class PgAlertOutbox implements AlertOutbox {
  constructor(
    private readonly sql: Sql,
    private readonly retentionSeconds: number = ALERTS.outboxRetentionSeconds,
  ) {}

  async add(tx: Sql, alert: Alert): Promise<boolean> {
    const { rowCount } = await tx.query(
      `INSERT INTO alert_outbox (id, kind, alert) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING`,
      [alert.id, alert.kind, alert],
    );
    return rowCount === 1;
  }

  flush(alerts: Alerts, options: { limit?: number } = {}): Promise<FlushReport> {
    return this.sql.transaction(async (tx) => {
      // SKIP LOCKED: two handlers flushing at once publish disjoint alerts.
      const { rows } = await tx.query<{ id: string; alert: Alert }>(
        `SELECT id, alert FROM alert_outbox WHERE published_at IS NULL
         ORDER BY created_at, id LIMIT $1 FOR UPDATE SKIP LOCKED`,
        [options.limit ?? ALERTS.outboxFlushBatch],
      );
      let published = 0;
      let error: FlushReport['error'];
      for (const row of rows) {
        try {
          await alerts.publish(row.alert);
        } catch (err) {
          error = describeError(err);
          await tx.query('UPDATE alert_outbox SET attempts = attempts + 1, last_error = $2 WHERE id = $1', [
            row.id,
            `${error.name}: ${error.message}`.slice(0, 1_000),
          ]);
          break;
        }
        await tx.query(
          'UPDATE alert_outbox SET published_at = now(), attempts = attempts + 1, last_error = NULL WHERE id = $1',
          [row.id],
        );
        published += 1;
      }
      await tx.query(
        `DELETE FROM alert_outbox WHERE id IN (
           SELECT id FROM alert_outbox WHERE published_at < now() - make_interval(secs => $1) LIMIT $2)`,
        [this.retentionSeconds, PRUNE_BATCH],
      );
      return { published, pending: rows.length - published, ...(error ? { error } : {}) };
    });
  }
}

/**
 * What every handler that raises alerts does at the end of its run: publish what waits in the outbox (its own
 * alerts and any an earlier run could not publish), logging a failure (the alerts stay for the next run).
 */
export async function publishWaiting(
  outbox: Pick<AlertOutbox, 'flush'>,
  alerts: Alerts,
  logger: Pick<Logger, 'error'>,
): Promise<FlushReport> {
  const report = await outbox.flush(alerts);
  if (report.error) {
    logger.error('alerts not published; they stay in the outbox for the next run', { error: report.error });
  }
  return report;
}
