/**
 * The DLQ check handler (EventBridge every RECOVERY.dlqCheckIntervalSeconds; the local scheduler locally):
 * reads every tier's DLQ depth and peeks at its messages (job, customer, error class, receive count) without
 * consuming them, emits the depth per tier as a metric, and alerts only on news: a DLQ that became
 * non-empty or grew, a reminder while it stays unresolved, and "resolved" once it drains.
 */
import { type Alert, makeAlert, RUNBOOKS, type Severity } from '#functions/alerts/alert';
import { type AlertOutbox, type FlushReport, publishWaiting } from '#functions/alerts/alert-outbox';
import type { Alerts } from '#functions/alerts/alerts';
import { QUEUES } from '#policy';
import { describeError, type Logger, type Metrics, MetricUnit } from '#shared/telemetry';
import type { DlqService, DlqTierSummary } from './dlq.ts';
import type { DlqAlertDecision, DlqAlertState, DlqAlertStateStore } from './dlq-alert-state.ts';

export interface DlqCheckOptions {
  reminderAfterSeconds: number;
  peekMaxPerTier: number;
}

export interface DlqCheckDeps {
  dlq: Pick<DlqService, 'inspect'>;
  state: DlqAlertStateStore;
  outbox: Pick<AlertOutbox, 'flush'>;
  alerts: Alerts;
  logger: Logger;
  metrics: Metrics;
  options: DlqCheckOptions;
  now?: () => Date;
}

export interface DlqCheckReport {
  tiers: { tier: string; depth: number; alert: Alert['kind'] | null }[];
  alerts: FlushReport;
}

export type DlqCheckHandler = (event?: unknown) => Promise<DlqCheckReport>;

/** Longest error text shown per message in an alert. */
const ERROR_EXCERPT = 160;

export function dlqAlert(
  summary: DlqTierSummary,
  decision: DlqAlertDecision,
  state: DlqAlertState,
  time: string,
): Alert {
  const { tier, depth } = summary;
  const byClass: Record<string, number> = {};
  for (const m of summary.messages) {
    const key = m.errorClass ?? 'unclassified';
    byClass[key] = (byClass[key] ?? 0) + 1;
  }
  const classes = Object.entries(byClass)
    .map(([k, n]) => `${k} ${n}`)
    .join(', ');
  const plural = (n: number) => `${n} message${n === 1 ? '' : 's'}`;
  let id: string;
  let title: string;
  let severity: Severity;
  let lead: string;
  switch (decision.kind) {
    case 'dlq':
      severity = 'critical';
      if (decision.reason === 'new') {
        id = `dlq:${tier}:${state.episode}:new`;
        title = `${tier} dead-letter queue has ${plural(depth)}`;
        lead = `Jobs failed ${QUEUES.maxReceiveCount} deliveries and were set aside.`;
      } else {
        id = `dlq:${tier}:${state.episode}:grew:${depth}`;
        title = `${tier} dead-letter queue grew to ${plural(depth)} (+${depth - decision.previousDepth})`;
        lead = 'More jobs failed every delivery since the last alert.';
      }
      break;
    case 'dlq_reminder':
      severity = 'warning';
      id = `dlq_reminder:${tier}:${state.episode}:${(state.lastAlertAt ?? new Date(time)).toISOString()}`;
      title = `${tier} dead-letter queue still holds ${plural(depth)}`;
      lead = `Unresolved since the alert at ${decision.since.toISOString()}.`;
      break;
    case 'dlq_resolved':
      severity = 'info';
      id = `dlq_resolved:${tier}:${state.episode}`;
      title = `${tier} dead-letter queue drained`;
      lead = `It held ${plural(decision.previousDepth)} at the previous check and is empty now.`;
      break;
  }
  const next =
    decision.kind === 'dlq_resolved'
      ? ''
      : ' Inspect with GET /v1/dlq; once the cause is fixed, POST /v1/dlq/redrive with the error classes to retry.';
  const alert = makeAlert({
    id,
    kind: decision.kind,
    severity,
    title,
    summary: `${lead}${classes ? ` By error class (of those peeked): ${classes}.` : ''}${next}`,
    counts: { depth, ...(decision.kind === 'dlq' ? { previous: decision.previousDepth } : {}), ...byClass },
    items:
      decision.kind === 'dlq_resolved'
        ? []
        : summary.messages.map((m) => ({
            title: m.jobId ?? `message ${m.messageId}`,
            fields: {
              customer: m.customerId,
              errorClass: m.errorClass,
              error:
                m.error && m.error.length > ERROR_EXCERPT ? `${m.error.slice(0, ERROR_EXCERPT)}…` : m.error,
              receiveCount: m.receiveCount,
              sentAt: m.sentAt,
            },
          })),
    runbook: RUNBOOKS.dlq,
    time,
    source: 'dlq-check',
  });
  // The peek saw only some of the messages: say how many there are in all.
  if (alert.items.length > 0 && depth > alert.items.length) alert.totalItems = depth;
  return alert;
}

export function makeDlqCheckHandler(deps: DlqCheckDeps): DlqCheckHandler {
  const { logger, metrics, options } = deps;
  const now = deps.now ?? (() => new Date());
  return async function dlqCheck() {
    const observedAt = now();
    const report: DlqCheckReport = { tiers: [], alerts: { published: 0, pending: 0 } };
    try {
      const summaries = await deps.dlq.inspect({ maxPerTier: options.peekMaxPerTier });
      for (const summary of summaries) {
        const depthMetric = metrics.singleMetric();
        depthMetric.addDimension('tier', summary.tier);
        depthMetric.addMetric('DlqDepth', MetricUnit.Count, summary.depth);
        const recorded = await deps.state.record(
          summary.tier,
          { depth: summary.depth, observedAt },
          options.reminderAfterSeconds,
          (decision, state) => dlqAlert(summary, decision, state, observedAt.toISOString()),
        );
        report.tiers.push({ tier: summary.tier, depth: summary.depth, alert: recorded.alert?.kind ?? null });
        if (recorded.alert) {
          logger.warn('dead-letter queue alert', {
            tier: summary.tier,
            depth: summary.depth,
            alertId: recorded.alert.id,
          });
        }
      }
      report.alerts = await publishWaiting(deps.outbox, deps.alerts, logger);
      return report;
    } catch (err) {
      logger.error('DLQ check failed', { error: describeError(err) });
      throw err;
    } finally {
      metrics.addMetric('DlqAlerts', MetricUnit.Count, report.tiers.filter((t) => t.alert !== null).length);
      metrics.addMetric('AlertsPublished', MetricUnit.Count, report.alerts.published);
      metrics.publishStoredMetrics();
    }
  };
}
