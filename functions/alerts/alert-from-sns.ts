/**
 * Turns whatever arrives on the alerts topic into an alert: formfleet's own alerts, CloudWatch alarm state
 * changes, or anything else (shown as a notice with its text, so a message nobody anticipated still reaches
 * a person rather than being dropped).
 */
import { type Alert, makeAlert, parseAlert } from './alert.ts';
import { alertFromCloudWatchAlarm, isCloudWatchAlarmMessage, isFirstEvaluation } from './cloudwatch-alarm.ts';

export interface SnsNotification {
  message: string;
  subject?: string | null;
  messageId: string;
  /** When SNS accepted the message (ISO 8601). */
  timestamp: string;
}

/** Longest piece of an unrecognised message shown in a notice. */
const NOTICE_TEXT_LIMIT = 2_000;

export function alertFromSns(n: SnsNotification): Alert {
  let value: unknown;
  try {
    value = JSON.parse(n.message);
  } catch {
    return notice(n, n.message);
  }
  if (isCloudWatchAlarmMessage(value)) return alertFromCloudWatchAlarm(value, n.timestamp);
  if (typeof value === 'object' && value !== null && 'kind' in value && 'id' in value) {
    try {
      return parseAlert(value);
    } catch (err) {
      return notice(n, `${(err as Error).message}\n${n.message}`);
    }
  }
  return notice(n, n.message);
}

/** The alert of one SNS record as Lambda passes it to a subscriber. */
export function alertFromSnsRecord(sns: {
  Message: string;
  Subject?: string | null;
  MessageId: string;
  Timestamp: string;
}): Alert {
  return alertFromSns({
    message: sns.Message,
    subject: sns.Subject,
    messageId: sns.MessageId,
    timestamp: sns.Timestamp,
  });
}

/** Whether a message is worth posting: all are, but an alarm's first evaluation (see isFirstEvaluation). */
export function worthPosting(message: string): boolean {
  try {
    const value: unknown = JSON.parse(message);
    return !(isCloudWatchAlarmMessage(value) && isFirstEvaluation(value));
  } catch {
    return true;
  }
}

function notice(n: SnsNotification, text: string): Alert {
  return makeAlert({
    id: `sns:${n.messageId}`,
    kind: 'notice',
    severity: 'warning',
    title: n.subject?.trim() || 'Message on the alerts topic',
    summary: text.length > NOTICE_TEXT_LIMIT ? `${text.slice(0, NOTICE_TEXT_LIMIT)}…` : text,
    counts: {},
    runbook: null,
    time: n.timestamp,
    source: 'sns',
  });
}
