/**
 * Every Lambda function formfleet deploys, as data: its entry file, its kind, and what it needs. The CDK app
 * stack builds each function from this list (env vars and least-privilege grants from `needs`), and the local
 * runtime wires the same handlers, so a handler never has an env var without its grant or vice versa.
 * No aws-cdk-lib import: plain data, readable by anything.
 */
import {
  ALERTS,
  DIRECTORY_HEALTH,
  LIFECYCLE,
  PROBES,
  RETENTION,
  type RecordsPrefixName,
  SCHEDULES,
  WEBHOOKS,
  WORKER,
} from '#policy';
import { type ApiFunction, ROUTES } from './api/routes.ts';

export interface FunctionNeeds {
  /**
   * Postgres: DATABASE_SECRET_ARN (+ secretsmanager:GetSecretValue on it), DATABASE_POOL_MAX from policy
   * DATABASE.poolMax by kind, the Amazon RDS CAs (NODE_EXTRA_CA_CERTS) and the stage's CA secret if any.
   * 'direct' (migrations): also the stage's direct (session) connection secret, DATABASE_DIRECT_SECRET_ARN,
   * when it names one.
   */
  readonly database?: boolean | 'direct';
  /**
   * The tier queues: QUEUE_URL_P1..P3. 'send' to enqueue jobs, 'consume' to extend visibility, 'read' for
   * GetQueueAttributes (queue depth and in-flight counts for health).
   */
  readonly jobQueues?: readonly ('send' | 'consume' | 'read')[];
  /**
   * The tier dead-letter queues: DLQ_URL_P1..P3. 'count' for their depth (GetQueueAttributes); 'read' to count
   * and peek (also ReceiveMessage, and ChangeMessageVisibility to hand peeked messages straight back);
   * 'redrive' to move messages out (also DeleteMessage on the DLQs, and QUEUE_URL_P1..P3 with SendMessage on
   * the source queues).
   */
  readonly deadLetterQueues?: 'count' | 'read' | 'redrive';
  /** The Powertools idempotency DynamoDB table: IDEMPOTENCY_TABLE (read/write items on it). */
  readonly idempotencyTable?: boolean;
  /** The alerts SNS topic: ALERTS_TOPIC_ARN (sns:Publish on it). */
  readonly alertsTopic?: boolean;
  /** The Slack webhook secret: SLACK_WEBHOOK_SECRET_ARN (GetSecretValue on it); locally SLACK_WEBHOOK_URL. */
  readonly slackWebhookSecret?: boolean;
  /**
   * Client API keys: USAGE_PLAN_IDS (the client plans, in the data stack) and API_KEY_NAME_PREFIX; API
   * Gateway's create, list-by-plan and delete calls on those plans' keys only, never on the admin key.
   */
  readonly apiKeys?: boolean;
  /**
   * The records bucket (RECORDS_BUCKET), one grant per prefix of policy RECORDS: 'read' s3:GetObject (fetch,
   * and presign GET URLs), 'write' s3:PutObject, 'list' s3:ListBucket limited to the prefix (whether an
   * object is there). Nothing may delete: objects end by the bucket's lifecycle rules.
   */
  readonly records?: readonly RecordsGrant[];
  /**
   * The stage's inbound mail domain (stage option `inboundMailDomain`): INBOUND_MAIL_DOMAIN, the domain of the
   * per-job aliases a definition with `emailMode: 'alias'` types. Unset when the stage has none.
   */
  readonly inboundMail?: boolean;
  /**
   * The webhook signing-secret key (KMS, data stack): WEBHOOK_KMS_KEY_ID; 'seal' grants kms:Encrypt (the API
   * seals a new endpoint's secret), 'open' grants kms:Decrypt (delivery signs with it), each only with an
   * `endpoint` encryption context.
   */
  readonly webhookKey?: 'seal' | 'open';
  /** The webhook delivery queue: WEBHOOK_QUEUE_URL with sqs:SendMessage (the dispatcher's wakes). */
  readonly webhookQueue?: 'send';
  /** The stage's PagerDuty routing-key secret: PAGERDUTY_ROUTING_KEY_SECRET_ARN (GetSecretValue on it). */
  readonly pagerDutyRoutingKey?: boolean;
}

/** The SQS queues a 'consumer' function is driven by (other than the worker's tier queues), and how. */
export const CONSUMED_QUEUES = {
  /** Webhook wakes (FIFO, group = endpoint slot): one per invocation, a bounded number at once. */
  webhooks: {
    batchSize: WEBHOOKS.deliveryBatchSize,
    maxConcurrency: WEBHOOKS.deliveryMaxConcurrency,
  },
} as const;
export type ConsumedQueue = keyof typeof CONSUMED_QUEUES;

export type RecordsAccess = 'read' | 'write' | 'list';

export interface RecordsGrant {
  readonly prefix: RecordsPrefixName;
  readonly access: readonly RecordsAccess[];
}

/** Reading proof screenshots (the API presigns links to them). */
const READ_EVIDENCE: readonly RecordsGrant[] = [{ prefix: 'evidence', access: ['read'] }];

export interface FunctionSpec {
  /** Logical name: `formfleet-<stage>-<name>`. */
  readonly name: string;
  /** Entry file relative to the repository root. */
  readonly entry: string;
  readonly description: string;
  /**
   * How it is invoked: 'api' by API Gateway for its routes; 'worker' by one SQS event source mapping per
   * tier; 'scheduled' by EventBridge every `schedule`; 'subscriber' by SNS (`subscribesTo`); 'trigger' once
   * per deploy (when its code changes), before every other function is updated, failing the deploy if it
   * throws; 'mail' by the SES receipt rule of the stage's inbound mail domain (after its S3 action stored the
   * mail), as an asynchronous event, only on a stage with `inboundMailDomain`; 'consumer' by an SQS event
   * source mapping on the queue it `consumes`.
   */
  readonly kind: 'api' | 'worker' | 'scheduled' | 'subscriber' | 'trigger' | 'mail' | 'consumer';
  /** For kind 'api': the route-table function it serves. */
  readonly apiFunction?: ApiFunction;
  /** Runs Chromium: the browser Lambda construct (memory, /tmp, @sparticuz/chromium packaging). */
  readonly browser?: boolean;
  /** For kind 'scheduled': how often EventBridge (or the local scheduler) invokes it; from policy SCHEDULES. */
  readonly schedule?: { readonly everySeconds: number };
  /** For kind 'subscriber': the SNS topic it is subscribed to (with an on-failure destination). */
  readonly subscribesTo?: 'alerts';
  /** For kind 'consumer': the queue whose event source mapping invokes it (CONSUMED_QUEUES). */
  readonly consumes?: ConsumedQueue;
  /**
   * Built only when the stage provides this: 'pagerDuty', a routing-key secret (stage pagerDutyRoutingKeySecretArn).
   * @default always built
   */
  readonly onlyWith?: 'pagerDuty';
  /** Timeout in seconds. @default FUNCTION_DEFAULTS[kind].timeoutSeconds (policy) */
  readonly timeoutSeconds?: number;
  /** Memory in MB. @default FUNCTION_DEFAULTS[kind].memoryMb (policy) */
  readonly memoryMb?: number;
  /**
   * Repository directories copied into the bundle beside the handler (e.g. `sql` for the migrate trigger,
   * found at `$LAMBDA_TASK_ROOT/sql`). @default none
   */
  readonly assets?: readonly string[];
  readonly needs: FunctionNeeds;
}

const apiFunctions = [...new Set(ROUTES.map((r) => r.fn))];

/** What each API function needs beyond the database (every one has it: rate limits live there). */
const API_NEEDS: Record<ApiFunction, FunctionNeeds> = {
  // records: each result's proof links.
  jobs: { jobQueues: ['send'], records: READ_EVIDENCE },
  // records: presigned uploads of customers' images under media/, read back to check their bytes.
  customers: { records: [{ prefix: 'media', access: ['write', 'read', 'list'] }] },
  // Depths only: health never receives a message.
  health: { jobQueues: ['read'], deadLetterQueues: 'count' },
  directories: {},
  // records: the dry runs' screenshots, written and linked (presigned) under probes/.
  probes: { records: [{ prefix: 'probes', access: ['write', 'read'] }] },
  submissions: { records: READ_EVIDENCE },
  // Redrive moves messages from a DLQ back to its tier queue.
  dlq: { jobQueues: ['send'], deadLetterQueues: 'redrive' },
  keys: { apiKeys: true },
  // Seals a new endpoint's signing secret; never opens one.
  webhooks: { webhookKey: 'seal' },
};

/**
 * API functions that run Chromium: probes (dry runs) visits directory sites as a person waits, so it has the
 * worker's browser and memory, and API Gateway's timeout (PROBES' budgets fit inside it).
 */
const API_BROWSER: Partial<
  Record<ApiFunction, Pick<FunctionSpec, 'browser' | 'memoryMb' | 'timeoutSeconds'>>
> = {
  probes: { browser: true, memoryMb: WORKER.memoryMb, timeoutSeconds: PROBES.timeoutSeconds },
};

export const FUNCTIONS: readonly FunctionSpec[] = [
  ...apiFunctions.map(
    (fn): FunctionSpec => ({
      name: `api-${fn}`,
      entry: `functions/api-${fn}.ts`,
      description: `HTTP API: ${ROUTES.filter((r) => r.fn === fn)
        .map((r) => `${r.method} ${r.path}`)
        .join(', ')}`,
      kind: 'api',
      apiFunction: fn,
      ...(API_BROWSER[fn] ?? {}),
      needs: { database: true, ...API_NEEDS[fn] },
    }),
  ),
  {
    name: 'worker',
    entry: 'functions/worker.ts',
    description: 'Submission worker: claims a job, fills each directory form in Chromium, records the ledger',
    kind: 'worker',
    browser: true,
    // 'send': a job out of invocation time continues in a fresh message on its tier queue. records: the
    // proof screenshots of each submit click.
    // inboundMail: the domain of the aliases it types for a definition with emailMode 'alias'.
    needs: {
      database: true,
      jobQueues: ['consume', 'send'],
      idempotencyTable: true,
      records: [
        { prefix: 'evidence', access: ['write'] },
        // The customers' logos `upload` steps type into forms.
        { prefix: 'media', access: ['read'] },
      ],
      inboundMail: true,
    },
  },
  {
    name: 'promote-jobs',
    entry: 'functions/promote-jobs.ts',
    description: 'Aging: promotes jobs waiting past their tier limit to the next tier, so P3 never starves',
    kind: 'scheduled',
    schedule: SCHEDULES.promoteJobs,
    needs: { database: true, jobQueues: ['send'] },
  },
  {
    name: 'stale-jobs',
    entry: 'functions/stale-jobs.ts',
    description:
      'Requeues jobs whose worker stopped heartbeating (fails them past the cap), re-sends jobs left pending or queued without a message, reports stuck steps, uploads proof screenshots left pending',
    kind: 'scheduled',
    schedule: SCHEDULES.staleJobs,
    // 'read': the tier queues' message counts tell a job whose message is gone from one waiting in a backlog.
    // records: uploads the screenshots kept in Postgres while S3 refused; 'list' tells whether one whose
    // worker died had reached S3.
    needs: {
      database: true,
      jobQueues: ['send', 'read'],
      alertsTopic: true,
      records: [{ prefix: 'evidence', access: ['write', 'list'] }],
    },
  },
  {
    name: 'dlq-check',
    entry: 'functions/dlq-check.ts',
    description:
      'Reads every tier DLQ (depth, peek) and alerts on new or growing depth, reminders and drains',
    kind: 'scheduled',
    schedule: SCHEDULES.dlqCheck,
    needs: { database: true, deadLetterQueues: 'read', alertsTopic: true },
  },
  {
    name: 'recheck-listings',
    entry: 'functions/recheck-listings.ts',
    description:
      'Follows each submitted listing: looks it up on its directory at the recheck ages (live, not_found, rejected)',
    kind: 'scheduled',
    schedule: SCHEDULES.recheckListings,
    // A Chromium function of its own, not messages to the worker's queues: a lookup is not a job (no claim,
    // no fencing token, no tier), it would take a tier's concurrency from paying jobs, and one run at a time
    // (its timeout fits its interval) is all a few lookups a minute need. Politeness is shared all the same:
    // the site_visits lease row per site. docs/infrastructure.md weighs it.
    browser: true,
    timeoutSeconds: LIFECYCLE.recheckTimeoutSeconds,
    // Chromium's memory, as the worker's (a scheduled function's default is far below it).
    memoryMb: WORKER.memoryMb,
    needs: { database: true },
  },
  {
    name: 'directory-health',
    entry: 'functions/directory-health.ts',
    description:
      'Dry-runs each active directory once a day (never submitting) and pauses one whose form drifted, with one alert',
    kind: 'scheduled',
    schedule: SCHEDULES.directoryHealth,
    // A Chromium function of its own, as recheck-listings (a check is not a job); politeness is the shared
    // site_visits lease. Its run (checks one after another) fits its interval.
    browser: true,
    timeoutSeconds: DIRECTORY_HEALTH.timeoutSeconds,
    memoryMb: WORKER.memoryMb,
    needs: { database: true, alertsTopic: true },
  },
  {
    name: 'retention',
    entry: 'functions/retention.ts',
    description:
      'Archives rows past their retention period (policy RETENTION) to the records bucket as gzip JSON lines, then deletes them in short batches',
    kind: 'scheduled',
    schedule: SCHEDULES.retention,
    timeoutSeconds: RETENTION.timeoutSeconds,
    // 'write' only: an archive object is written once per batch number (a rerun overwrites its own
    // uncommitted one); reading back is the operator's (npm run ops -- archive), not the function's.
    needs: { database: true, records: [{ prefix: 'archive', access: ['write'] }] },
  },
  {
    name: 'mail-inbound',
    entry: 'functions/mail-inbound.ts',
    description:
      'Reads each verification mail SES stored, matches its alias to a job, visits its link politely and confirms the listing',
    kind: 'mail',
    // The SES receipt rule invokes it (its Lambda action, after the S3 action stored the mail): an S3 event
    // notification would need the bucket (data stack) to point at a function of the app stack, and would lose
    // the envelope recipients, which name the alias. Chromium for the link visit, as recheck-listings.
    browser: true,
    // records: the stored mail ('list' asks its size before reading it).
    needs: {
      database: true,
      inboundMail: true,
      records: [{ prefix: 'mail', access: ['read', 'list'] }],
    },
  },
  {
    name: 'slack-notifier',
    entry: 'functions/slack-notifier.ts',
    description:
      'Posts alerts-topic messages (formfleet alerts, CloudWatch alarms) to Slack as Block Kit, once',
    kind: 'subscriber',
    subscribesTo: 'alerts',
    // Unreserved: a reservation fails on small-quota accounts. Slack's rate limit is met by the in-process
    // pacing and by honouring 429 Retry-After; a stage may still reserve 1 (cdk.json concurrency.reserved).
    timeoutSeconds: ALERTS.notifierTimeoutSeconds,
    needs: { slackWebhookSecret: true, idempotencyTable: true },
  },
  {
    name: 'pagerduty-notifier',
    entry: 'functions/pagerduty-notifier.ts',
    description:
      'Sends critical alerts (policy ALERTS.critical) to PagerDuty Events API v2: trigger, then resolve with the same key',
    kind: 'subscriber',
    subscribesTo: 'alerts',
    onlyWith: 'pagerDuty',
    timeoutSeconds: ALERTS.notifierTimeoutSeconds,
    // The idempotency table keeps each incident's newest alert, so a late retry never reopens it.
    needs: { pagerDutyRoutingKey: true, idempotencyTable: true },
  },
  {
    name: 'webhook-dispatch',
    entry: 'functions/webhook-dispatch.ts',
    description:
      'Wakes webhook delivery for endpoints with due events (looking every second for most of its minute); prunes old events',
    kind: 'scheduled',
    schedule: SCHEDULES.webhookDispatch,
    // The alerts topic: it publishes what waits in the alert outbox (an endpoint disabled by delivery).
    needs: { database: true, webhookQueue: 'send', alertsTopic: true },
  },
  {
    name: 'webhook-delivery',
    entry: 'functions/webhook-delivery.ts',
    description:
      'Posts an endpoint’s due webhook events, signed (Standard Webhooks); retries with backoff, disables failing endpoints',
    kind: 'consumer',
    consumes: 'webhooks',
    needs: { database: true, webhookKey: 'open' },
  },
  {
    name: 'migrate',
    entry: 'functions/migrate-trigger.ts',
    description: 'Applies pending sql/ migrations on every deploy, before the new code runs',
    kind: 'trigger',
    assets: ['sql'],
    // A session connection: a no-transaction migration holds a session lock (never a transaction pooler's).
    needs: { database: 'direct' },
  },
];

export function functionSpec(name: string): FunctionSpec {
  const spec = FUNCTIONS.find((f) => f.name === name);
  if (!spec) throw new Error(`no function named ${name} in functions/manifest.ts`);
  return spec;
}
