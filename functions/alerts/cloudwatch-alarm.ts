/**
 * CloudWatch alarm state changes, as CloudWatch publishes them to an SNS topic, turned into alerts. Metric
 * alarms, metric-math alarms (Trigger.Metrics) and composite alarms (AlarmRule) all arrive here.
 */
import { type Alert, type AlertItem, makeAlert, type Severity } from './alert.ts';

/** The fields of CloudWatch's SNS message that matter here (it has more). */
export interface CloudWatchAlarmMessage {
  AlarmName: string;
  AlarmDescription?: string | null;
  AlarmArn?: string;
  AWSAccountId?: string;
  Region?: string;
  NewStateValue: 'ALARM' | 'OK' | 'INSUFFICIENT_DATA';
  OldStateValue?: string;
  NewStateReason?: string;
  StateChangeTime?: string;
  AlarmRule?: string;
  Trigger?: {
    MetricName?: string;
    Namespace?: string;
    Statistic?: string;
    ExtendedStatistic?: string;
    Dimensions?: { name: string; value: string }[];
    Period?: number;
    EvaluationPeriods?: number;
    DatapointsToAlarm?: number;
    ComparisonOperator?: string;
    Threshold?: number;
    TreatMissingData?: string;
    Metrics?: { Id?: string; Expression?: string; Label?: string }[];
  };
}

const STATES = ['ALARM', 'OK', 'INSUFFICIENT_DATA'];

export function isCloudWatchAlarmMessage(value: unknown): value is CloudWatchAlarmMessage {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return typeof v.AlarmName === 'string' && STATES.includes(v.NewStateValue as string);
}

/**
 * OK after INSUFFICIENT_DATA is an alarm's first evaluation, not a recovery: every alarm makes that change
 * once when it is created (a first deploy would post one "Resolved" per alarm), and nobody was told it was
 * broken. formfleet's alarms treat missing data as not breaching and have no INSUFFICIENT_DATA action, so an
 * OK is news only after ALARM.
 */
export function isFirstEvaluation(message: CloudWatchAlarmMessage): boolean {
  return message.NewStateValue === 'OK' && message.OldStateValue === 'INSUFFICIENT_DATA';
}

/** CloudWatch writes "2024-05-01T10:00:00.000+0000"; make the offset ISO 8601 ("+00:00"). */
function isoTime(raw: string | undefined, fallback: string): string {
  if (!raw) return fallback;
  const normalised = raw.replace(/([+-]\d{2})(\d{2})$/, '$1:$2');
  const ms = Date.parse(normalised);
  return Number.isNaN(ms) ? fallback : new Date(ms).toISOString();
}

/** The runbook an alarm's description links to: a URL, or a repository path docs/runbooks/<name>.md. */
export function runbookFromDescription(description: string | null | undefined): string | null {
  if (!description) return null;
  const url = /https?:\/\/\S+?runbooks\/[\w.-]+\.md\b/.exec(description);
  if (url) return url[0];
  const path = /docs\/runbooks\/[\w.-]+\.md\b/.exec(description);
  return path ? path[0] : null;
}

export function alertFromCloudWatchAlarm(message: CloudWatchAlarmMessage, receivedAt: string): Alert {
  const state = message.NewStateValue;
  const time = isoTime(message.StateChangeTime, receivedAt);
  const severity: Severity = state === 'ALARM' ? 'critical' : state === 'OK' ? 'info' : 'warning';
  const trigger = message.Trigger;
  const fields: Record<string, string | number | null> = {};
  if (trigger?.MetricName) fields.metric = `${trigger.Namespace ?? ''}/${trigger.MetricName}`;
  if (trigger?.Metrics?.length) {
    fields.expression = trigger.Metrics.map((m) => m.Expression ?? m.Label ?? m.Id ?? '?').join('; ');
  }
  if (trigger?.Dimensions?.length) {
    fields.dimensions = trigger.Dimensions.map((d) => `${d.name}=${d.value}`).join(', ');
  }
  if (trigger?.ComparisonOperator) fields.condition = `${trigger.ComparisonOperator} ${trigger.Threshold}`;
  if (trigger?.Period) {
    fields.evaluation = `${trigger.DatapointsToAlarm ?? trigger.EvaluationPeriods ?? 1} of ${
      trigger.EvaluationPeriods ?? 1
    } x ${trigger.Period}s (${trigger.Statistic ?? trigger.ExtendedStatistic ?? 'statistic'})`;
  }
  if (message.AlarmRule) fields.rule = message.AlarmRule;
  if (message.OldStateValue) fields.previous = message.OldStateValue;
  if (message.Region) fields.region = message.Region;
  const items: AlertItem[] = Object.keys(fields).length > 0 ? [{ title: message.AlarmName, fields }] : [];
  const description = message.AlarmDescription?.trim();
  return makeAlert({
    id: `alarm:${message.AlarmArn ?? message.AlarmName}:${state}:${time}`,
    kind: state === 'OK' ? 'alarm_resolved' : 'alarm',
    severity,
    title:
      state === 'OK'
        ? `Resolved: ${message.AlarmName}`
        : state === 'ALARM'
          ? `Alarm: ${message.AlarmName}`
          : `No data: ${message.AlarmName}`,
    summary: [description, message.NewStateReason].filter(Boolean).join('\n'),
    counts: typeof trigger?.Threshold === 'number' ? { threshold: trigger.Threshold } : {},
    items,
    runbook: runbookFromDescription(description),
    time,
    source: message.AlarmArn ?? message.AlarmName,
  });
}
