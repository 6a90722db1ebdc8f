/**
 * The Slack notifier: subscribed to the alerts topic, it turns each SNS message (a formfleet alert, a
 * CloudWatch alarm state change, anything else) into a Block Kit message and posts it to the webhook, once.
 * A failed post fails the invocation, so Lambda retries the event and finally keeps it on the on-failure
 * destination: an alert is delayed by a Slack outage, never lost.
 */
import type { Context, SNSEvent } from 'aws-lambda';
import { describeError, type Logger, type Metrics, MetricUnit } from '#shared/telemetry';
import { alertFromSnsRecord, worthPosting } from './alert-from-sns.ts';
import type { DeliveryGuard } from './delivery-guard.ts';
import { type FormatOptions, toSlackMessage } from './slack-blocks.ts';
import type { SlackWebhook } from './slack-webhook.ts';

export interface NotifierDeps {
  slack: SlackWebhook;
  guard: DeliveryGuard;
  format: FormatOptions;
  logger: Logger;
  metrics: Metrics;
}

export interface NotifierResult {
  delivered: string[];
  duplicates: string[];
}

export type NotifierHandler = (event: SNSEvent, context: Context) => Promise<NotifierResult>;

export function makeSlackNotifierHandler(deps: NotifierDeps): NotifierHandler {
  const { logger, metrics } = deps;
  return async function slackNotifier(event, context) {
    logger.addContext(context);
    const result: NotifierResult = { delivered: [], duplicates: [] };
    try {
      // SNS invokes with one record; several are handled in order, and a failure fails them all (the
      // delivered ones are then recognised as duplicates on the retry).
      for (const record of event.Records ?? []) {
        if (!worthPosting(record.Sns.Message)) {
          metrics.addMetric('AlarmFirstEvaluations', MetricUnit.Count, 1);
          logger.info('alarm settled into OK on its first evaluation; nothing to post', {
            messageId: record.Sns.MessageId,
          });
          continue;
        }
        const alert = alertFromSnsRecord(record.Sns);
        const log = { alertId: alert.id, kind: alert.kind, severity: alert.severity };
        try {
          const outcome = await deps.guard.once(
            alert,
            () => deps.slack.post(toSlackMessage(alert, deps.format)),
            context,
          );
          if (outcome === 'duplicate') {
            result.duplicates.push(alert.id);
            metrics.addMetric('AlertsDuplicate', MetricUnit.Count, 1);
            logger.info('alert already delivered; not posted again', log);
          } else {
            result.delivered.push(alert.id);
            metrics.addMetric('AlertsSent', MetricUnit.Count, 1);
            logger.info('alert delivered to Slack', log);
          }
        } catch (err) {
          metrics.addMetric('AlertDeliveryFailures', MetricUnit.Count, 1);
          logger.error('alert not delivered; the event will be retried', {
            ...log,
            error: describeError(err),
          });
          throw err;
        }
      }
      return result;
    } finally {
      metrics.publishStoredMetrics();
    }
  };
}
