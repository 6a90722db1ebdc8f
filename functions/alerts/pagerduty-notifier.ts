/**
 * The PagerDuty notifier: subscribed to the alerts topic beside the Slack notifier, it sends each critical
 * alert (pagerduty.ts) to PagerDuty's Events API v2, in order per incident, and ignores the rest.
 */
import type { Context, SNSEvent } from 'aws-lambda';
import { describeError, type Logger, type Metrics, MetricUnit } from '#shared/telemetry';
import { alertFromSnsRecord, worthPosting } from './alert-from-sns.ts';
import { type PagerDutyOrder, pagerDutyEvent, pagerDutyPage } from './pagerduty.ts';
import type { PagerDutyClient } from './pagerduty-client.ts';

export interface PagerDutyNotifierDeps {
  pagerDuty: PagerDutyClient;
  order: PagerDutyOrder;
  runbookBaseUrl?: string | undefined;
  logger: Logger;
  metrics: Metrics;
}

export interface PagerDutyNotifierResult {
  sent: { action: string; dedupKey: string; alertId: string }[];
  /** Alerts that are not critical (Slack only). */
  ignored: number;
  /** Older than what was already sent for their incident. */
  outOfOrder: number;
}

export type PagerDutyNotifierHandler = (
  event: SNSEvent,
  context: Context,
) => Promise<PagerDutyNotifierResult>;

export function makePagerDutyNotifierHandler(deps: PagerDutyNotifierDeps): PagerDutyNotifierHandler {
  const { logger, metrics } = deps;
  return async function pagerDutyNotifier(event, context) {
    logger.addContext(context);
    const result: PagerDutyNotifierResult = { sent: [], ignored: 0, outOfOrder: 0 };
    try {
      for (const record of event.Records ?? []) {
        if (!worthPosting(record.Sns.Message)) {
          result.ignored += 1;
          continue;
        }
        const alert = alertFromSnsRecord(record.Sns);
        const page = pagerDutyPage(alert);
        if (!page) {
          result.ignored += 1;
          continue;
        }
        const log = { alertId: alert.id, kind: alert.kind, action: page.action, dedupKey: page.dedupKey };
        if (!(await deps.order.claim(page))) {
          result.outOfOrder += 1;
          metrics.addMetric('PagerDutyOutOfOrder', MetricUnit.Count, 1);
          logger.warn('older than what PagerDuty already has for this incident; not sent', log);
          continue;
        }
        try {
          await deps.pagerDuty.send(pagerDutyEvent(page, { runbookBaseUrl: deps.runbookBaseUrl }));
        } catch (err) {
          metrics.addMetric('PagerDutyFailures', MetricUnit.Count, 1);
          logger.error('PagerDuty did not take the event; it will be retried', {
            ...log,
            error: describeError(err),
          });
          throw err;
        }
        result.sent.push({ action: page.action, dedupKey: page.dedupKey, alertId: alert.id });
        metrics.addMetric(
          page.action === 'trigger' ? 'PagerDutyTriggers' : 'PagerDutyResolves',
          MetricUnit.Count,
          1,
        );
        logger.info('sent to PagerDuty', log);
      }
      return result;
    } finally {
      metrics.publishStoredMetrics();
    }
  };
}
