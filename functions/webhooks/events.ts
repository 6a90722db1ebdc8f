/**
 * The webhook event catalogue: every event an endpoint may subscribe to, what it reports, which resource it
 * carries, and which job event (or ledger change) writes it. sql/080_webhooks.sql holds the SQL half (the
 * triggers that write events in the same transaction as the change, and `webhook_event_type`); a test keeps
 * the two the same. The API's request schema, the OpenAPI document and docs/api.md list these types.
 */

/** Which resource `data` is: a job as GET /v1/jobs/{id} returns it, or a ledger row as GET /v1/submissions does. */
export type EventResource = 'job' | 'submission';

export interface EventTypeSpec {
  readonly type: string;
  readonly resource: EventResource;
  /** When it is sent, in words (docs and OpenAPI). */
  readonly description: string;
  /** The job_events types that write it; none for submission.settled, which the ledger row's change writes. */
  readonly jobEventTypes: readonly string[];
}

export const EVENT_TYPES = [
  {
    type: 'job.completed',
    resource: 'job',
    description:
      'A job ended with every directory settled (`data` is the job with its per-directory results).',
    jobEventTypes: ['completed'],
  },
  {
    type: 'job.failed',
    resource: 'job',
    description:
      'A job failed: its worker could not finish it, it was failed past the stale-job requeue cap, or its ' +
      'message was dead-lettered. A retry or a DLQ redrive may run it again (new events follow).',
    jobEventTypes: ['failed', 'dead_lettered'],
  },
  {
    type: 'job.cancelled',
    resource: 'job',
    description: 'A job was cancelled (directories not attempted are skipped in its results).',
    jobEventTypes: ['cancelled'],
  },
  {
    type: 'submission.settled',
    resource: 'submission',
    description:
      'A directory of a job reached an outcome: submitted, failed, skipped, needs_manual or unknown (also a ' +
      'row created skipped because another job holds that directory for the customer). A retry that sends it ' +
      'again settles it again.',
    jobEventTypes: [],
  },
  {
    type: 'listing.live',
    resource: 'submission',
    description: 'A submitted listing was found live on its directory (the listing lifecycle, issue 13).',
    jobEventTypes: ['listing.live'],
  },
  {
    type: 'listing.not_found',
    resource: 'submission',
    description: 'A submitted listing could not be found on its directory when rechecked (issue 13).',
    jobEventTypes: ['listing.not_found'],
  },
  {
    type: 'listing.rejected',
    resource: 'submission',
    description: 'A directory rejected a submitted listing (issue 13).',
    jobEventTypes: ['listing.rejected'],
  },
  {
    type: 'task.created',
    resource: 'submission',
    description:
      'A ledger row the robot must not finish (a captcha, a login wall, an unknown outcome) became a task for a ' +
      'person (issue 14); the data is the row as it waits.',
    jobEventTypes: ['task.created'],
  },
  {
    type: 'task.resolved',
    resource: 'submission',
    description:
      'A person resolved a task (submitted, failed or skipped by hand); the data is the row as the resolution left it.',
    jobEventTypes: ['task.resolved'],
  },
] as const satisfies readonly EventTypeSpec[];

export type WebhookEventType = (typeof EVENT_TYPES)[number]['type'];

/** What an endpoint may subscribe to. */
export const SUBSCRIBABLE_EVENT_TYPES: readonly WebhookEventType[] = EVENT_TYPES.map((e) => e.type);

/** The event POST /v1/webhooks/{id}/test sends: to that endpoint only, whatever it subscribed to. */
export const TEST_EVENT_TYPE = 'webhook.test';

export function eventTypeSpec(type: string): EventTypeSpec | undefined {
  return (EVENT_TYPES as readonly EventTypeSpec[]).find((e) => e.type === type);
}
