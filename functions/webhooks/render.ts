/**
 * An event's body: the envelope (id, type, timestamp, and for a job's events its id and sequence number) and
 * `data`, the resource exactly as the API returns it: a job as GET /v1/jobs/{id} (jobWithResults), a ledger row
 * as GET /v1/submissions (submissionView). The resource comes from the snapshot the database took in the
 * transaction that made the change (sql/080_webhooks.sql): table rows as JSON, read back into the shapes the
 * API's view functions take (timestamp columns, `*_at`, become Dates). Rendered once per event, at its first
 * delivery, and kept: every attempt, endpoint and replay posts the same bytes.
 */
import { jobWithResults } from '#functions/api/jobs';
import { type SubmissionViewRow, submissionView } from '#functions/api/submission-queries';
import { toJob } from '#shared/job-store';
import { toSubmission } from '#shared/submission-ledger';
import { eventTypeSpec, TEST_EVENT_TYPE } from './events.ts';

export interface StoredEvent {
  id: string;
  type: string;
  occurredAt: Date;
  jobId: string | null;
  sequence: number | null;
  resource: Record<string, unknown>;
}

type Row = Record<string, unknown>;

/** A snapshot row with its timestamp columns as Dates, as node-postgres would have read them. */
export function reviveRow(row: Row): Row {
  return Object.fromEntries(
    Object.entries(row).map(([k, v]) => [k, k.endsWith('_at') && typeof v === 'string' ? new Date(v) : v]),
  );
}

function jobData(resource: Row): unknown {
  const job = toJob(reviveRow(resource.job as Row) as unknown as Parameters<typeof toJob>[0]);
  const submissions = ((resource.submissions as Row[] | undefined) ?? []).map((s) =>
    toSubmission({ evidence: {}, ...reviveRow(s) } as unknown as Parameters<typeof toSubmission>[0]),
  );
  // No proofs: their presigned links would expire long before a retry or a replay (GET the job for them).
  return jobWithResults(job, submissions);
}

function submissionData(resource: Row): unknown {
  return submissionView(reviveRow(resource.submission as Row) as unknown as SubmissionViewRow);
}

/** The `data` of an event. */
export function eventData(event: Pick<StoredEvent, 'type' | 'resource'>): unknown {
  if (event.type === TEST_EVENT_TYPE) return event.resource;
  const spec = eventTypeSpec(event.type);
  if (!spec) throw new Error(`no event type ${event.type} in the catalogue`);
  return spec.resource === 'job' ? jobData(event.resource) : submissionData(event.resource);
}

/** The body posted for an event. */
export function renderEvent(event: StoredEvent): string {
  return JSON.stringify({
    id: event.id,
    type: event.type,
    timestamp: event.occurredAt.toISOString(),
    ...(event.jobId !== null ? { jobId: event.jobId, sequence: event.sequence } : {}),
    data: eventData(event),
  });
}
