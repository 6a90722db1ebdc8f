/**
 * PagerDuty for critical alerts: another consumer of the alerts topic, beside Slack (which still gets every
 * alert). Which alerts page is policy (ALERTS.critical): a DLQ that became non-empty or grew (resolved when it
 * drains), jobs failed past the stale-job requeue cap, and the CloudWatch alarms for a missing worker heartbeat
 * and API 5xx (resolved when each returns to OK). Each becomes an Events API v2 `trigger` whose `dedup_key` is
 * the alert's condition, the same key its resolution sends with `resolve`, so PagerDuty opens one incident per
 * condition and closes it when the condition clears.
 *
 * The order of the two matters (a retried trigger arriving after the resolve would reopen a closed incident),
 * so the notifier remembers the newest alert time sent per key (DynamoDB, the idempotency table) and skips
 * anything older (PagerDutyOrder).
 */
import {
  ConditionalCheckFailedException,
  type DynamoDBClient,
  PutItemCommand,
} from '@aws-sdk/client-dynamodb';
import { ALERTS, PAGERDUTY } from '#policy';
import type { Alert } from './alert.ts';

export type PagerDutyAction = 'trigger' | 'resolve';

/** What one alert asks of PagerDuty. */
export interface PagerDutyPage {
  action: PagerDutyAction;
  /** The condition: the same for the trigger and its resolve. */
  dedupKey: string;
  alert: Alert;
}

interface CriticalPolicy {
  readonly kinds: Readonly<Record<string, string | null>>;
  readonly alarmRunbooks: readonly string[];
}

/** docs/runbooks/<name>.md (or a URL ending so) → <name>. */
const runbookName = (runbook: string | null) => /([\w.-]+)\.md$/.exec(runbook ?? '')?.[1];

/**
 * The condition an alert is about. A DLQ's alerts share their tier and episode (`dlq:P1:3:new`,
 * `dlq:P1:3:grew:5`, `dlq_resolved:P1:3`); an alarm's share the alarm (its ARN, CloudWatch's source);
 * anything else is its own condition.
 */
export function incidentKey(alert: Alert): string {
  const dlq = /^dlq(?:_resolved|_reminder)?:([^:]+):(\d+)/.exec(alert.id);
  if (dlq && alert.kind.startsWith('dlq')) return `dlq:${dlq[1]}:${dlq[2]}`;
  if (alert.kind === 'alarm' || alert.kind === 'alarm_resolved')
    return `alarm:${alert.source ?? alert.title}`;
  return alert.id;
}

/** The page an alert asks for, or undefined when it is not critical (it goes to Slack only). */
export function pagerDutyPage(
  alert: Alert,
  critical: CriticalPolicy = ALERTS.critical,
): PagerDutyPage | undefined {
  const page = (action: PagerDutyAction): PagerDutyPage => ({ action, dedupKey: incidentKey(alert), alert });
  if (alert.kind === 'alarm' || alert.kind === 'alarm_resolved') {
    const name = runbookName(alert.runbook);
    if (!name || !critical.alarmRunbooks.includes(name)) return undefined;
    if (alert.kind === 'alarm_resolved') return page('resolve');
    // INSUFFICIENT_DATA comes as a warning: not a page.
    return alert.severity === 'critical' ? page('trigger') : undefined;
  }
  if (Object.hasOwn(critical.kinds, alert.kind) && alert.severity === 'critical') return page('trigger');
  if (Object.values(critical.kinds).includes(alert.kind)) return page('resolve');
  return undefined;
}

/** The Events API v2 body of a page (the routing key is added by the client). */
export function pagerDutyEvent(page: PagerDutyPage, options: { runbookBaseUrl?: string | undefined } = {}) {
  if (page.action === 'resolve') return { event_action: 'resolve', dedup_key: page.dedupKey };
  const { alert } = page;
  const summary = `${alert.title}${alert.summary ? `: ${alert.summary}` : ''}`;
  const runbook =
    alert.runbook && /^https?:\/\//.test(alert.runbook)
      ? alert.runbook
      : alert.runbook && options.runbookBaseUrl
        ? `${options.runbookBaseUrl.replace(/\/+$/, '')}/${alert.runbook}`
        : undefined;
  return {
    event_action: 'trigger',
    dedup_key: page.dedupKey,
    payload: {
      summary:
        summary.length > PAGERDUTY.summaryMaxLength
          ? `${summary.slice(0, PAGERDUTY.summaryMaxLength - 1)}…`
          : summary,
      source: alert.source ?? 'formfleet',
      severity: 'critical',
      timestamp: alert.time,
      component: 'formfleet',
      class: alert.kind,
      custom_details: {
        alertId: alert.id,
        counts: alert.counts,
        items: alert.items,
        ...(alert.totalItems !== undefined ? { totalItems: alert.totalItems } : {}),
        runbook: alert.runbook,
      },
    },
    ...(runbook ? { links: [{ href: runbook, text: 'runbook' }] } : {}),
  };
}

/** Remembers the newest alert sent per incident key, so an older one (a late retry) is not sent after it. */
export interface PagerDutyOrder {
  /** True when this alert may be sent: nothing newer was sent for its key (the same alert again may). */
  claim(page: PagerDutyPage): Promise<boolean>;
}

export class DynamoPagerDutyOrder implements PagerDutyOrder {
  constructor(
    private readonly client: DynamoDBClient,
    private readonly tableName: string,
    private readonly windowSeconds: number = PAGERDUTY.orderWindowSeconds,
  ) {}

  async claim(page: PagerDutyPage): Promise<boolean> {
    const time = Date.parse(page.alert.time);
    try {
      await this.client.send(
        new PutItemCommand({
          TableName: this.tableName,
          Item: {
            id: { S: `pagerduty#${page.dedupKey}` },
            alertTime: { N: String(time) },
            alertId: { S: page.alert.id },
            // The table's TTL attribute (Powertools' name): the key is forgotten after the window.
            expiration: { N: String(Math.floor(Date.now() / 1000) + this.windowSeconds) },
          },
          ConditionExpression:
            'attribute_not_exists(id) OR alertTime < :t OR (alertTime = :t AND alertId = :a)',
          ExpressionAttributeValues: { ':t': { N: String(time) }, ':a': { S: page.alert.id } },
        }),
      );
      return true;
    } catch (err) {
      if (err instanceof ConditionalCheckFailedException) return false;
      throw err;
    }
  }
}
