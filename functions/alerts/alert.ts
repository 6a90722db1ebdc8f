/**
 * The alert model: what every formfleet alert carries on its way from a handler through SNS to Slack. An
 * alert has a stable id, so the same condition reported twice (a retried run, an SNS redelivery, a replay
 * from the on-failure queue) is recognised and posted once.
 */
import { ALERTS } from '#policy';

export const ALERT_KINDS = [
  /** A CloudWatch alarm went into ALARM (or INSUFFICIENT_DATA). */
  'alarm',
  /** A CloudWatch alarm went back to OK. */
  'alarm_resolved',
  /** A dead-letter queue became non-empty or grew. */
  'dlq',
  /** A dead-letter queue is still non-empty after the reminder period. */
  'dlq_reminder',
  /** A dead-letter queue drained. */
  'dlq_resolved',
  /** Jobs whose worker stopped heartbeating were requeued. */
  'stale_job',
  /** Jobs failed (e.g. past the requeue cap). */
  'job_failed',
  /** A worker heartbeats, but its step has not changed for too long: the site is slow or the browser hung. */
  'stuck_step',
  /** A webhook endpoint was disabled: it answered 410 Gone, or kept failing for days. */
  'webhook_disabled',
  /** A directory was paused: its daily dry run drifted, or its last real submissions failed with selector_drift. */
  'directory_paused',
  /** Anything else published to the alerts topic (shown as it came, so nothing is dropped). */
  'notice',
] as const;
export type AlertKind = (typeof ALERT_KINDS)[number];

export const SEVERITIES = ['critical', 'warning', 'info'] as const;
export type Severity = (typeof SEVERITIES)[number];

/** One thing the alert is about (a job, a message): a title and a few labelled values. */
export interface AlertItem {
  title: string;
  fields?: Record<string, string | number | null>;
}

export interface Alert {
  /** Stable de-duplication id: the same condition always gets the same id. */
  id: string;
  kind: AlertKind;
  severity: Severity;
  title: string;
  summary: string;
  /** Headline numbers ("depth": 3, "failed": 2). */
  counts: Record<string, number>;
  /** The first few items (at most ALERTS.maxItems); `totalItems` says how many there were. */
  items: AlertItem[];
  totalItems?: number;
  /** Repository path of the runbook (docs/runbooks/<name>.md), or null when there is none. */
  runbook: string | null;
  /** When the condition was observed (ISO 8601). */
  time: string;
  /** What raised it ("stale-jobs", "dlq-check", a CloudWatch alarm ARN). */
  source?: string;
}

export const RUNBOOKS = {
  staleJobs: 'docs/runbooks/stale-jobs.md',
  jobFailed: 'docs/runbooks/job-failed.md',
  stuckStep: 'docs/runbooks/stuck-step.md',
  dlq: 'docs/runbooks/dlq.md',
  alertDelivery: 'docs/runbooks/alert-delivery.md',
  webhookDisabled: 'docs/runbooks/webhook-endpoint-disabled.md',
  directoryPaused: 'docs/runbooks/directory-paused.md',
} as const;

/** Builds an alert, keeping only the first ALERTS.maxItems items and counting the rest. */
export function makeAlert(
  input: Omit<Alert, 'items' | 'totalItems'> & { items?: readonly AlertItem[] },
): Alert {
  const items = input.items ?? [];
  return {
    ...input,
    items: items.slice(0, ALERTS.maxItems),
    ...(items.length > ALERTS.maxItems ? { totalItems: items.length } : {}),
  };
}

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** Validates an alert received from the topic; throws a TypeError naming every bad field. */
export function parseAlert(value: unknown): Alert {
  if (!isRecord(value)) throw new TypeError('alert must be a JSON object');
  const errors: string[] = [];
  const str = (k: string) => typeof value[k] === 'string' && (value[k] as string).length > 0;
  if (!str('id')) errors.push('id (non-empty string)');
  if (!ALERT_KINDS.includes(value.kind as AlertKind)) errors.push(`kind (one of ${ALERT_KINDS.join(', ')})`);
  if (!SEVERITIES.includes(value.severity as Severity)) errors.push(`severity (${SEVERITIES.join(', ')})`);
  if (!str('title')) errors.push('title (non-empty string)');
  if (typeof value.summary !== 'string') errors.push('summary (string)');
  if (
    value.counts !== undefined &&
    !(isRecord(value.counts) && Object.values(value.counts).every((n) => typeof n === 'number'))
  ) {
    errors.push('counts (object of numbers)');
  }
  if (
    value.items !== undefined &&
    !(Array.isArray(value.items) && value.items.every((i) => isRecord(i) && typeof i.title === 'string'))
  ) {
    errors.push('items (list of { title, fields })');
  }
  if (value.runbook !== undefined && value.runbook !== null && typeof value.runbook !== 'string') {
    errors.push('runbook (string or null)');
  }
  if (typeof value.time !== 'string' || Number.isNaN(Date.parse(value.time))) errors.push('time (ISO 8601)');
  if (errors.length > 0) throw new TypeError(`invalid alert: ${errors.join('; ')}`);
  return {
    id: value.id as string,
    kind: value.kind as AlertKind,
    severity: value.severity as Severity,
    title: value.title as string,
    summary: value.summary as string,
    counts: (value.counts as Record<string, number> | undefined) ?? {},
    items: ((value.items as AlertItem[] | undefined) ?? []).slice(0, ALERTS.maxItems),
    ...(typeof value.totalItems === 'number' ? { totalItems: value.totalItems } : {}),
    runbook: (value.runbook as string | null | undefined) ?? null,
    time: value.time as string,
    ...(typeof value.source === 'string' ? { source: value.source } : {}),
  };
}
