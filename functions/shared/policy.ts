/**
 * formfleet's operating policy: the one place where tiers, limits, thresholds and schedules live.
 *
 * Plain typed data with no aws-cdk-lib (or any other runtime) import, so the CDK stacks, the Lambda
 * handlers, the local runtime and the tests all read the same numbers. Change a number here and every
 * layer follows; nothing else may restate it.
 */

/** Priority 1 is served first. */
export type Priority = 1 | 2 | 3;

export interface PriorityTier {
  readonly priority: Priority;
  /** Short label used in metrics, logs, dashboards and the API ("P1"). */
  readonly name: 'P1' | 'P2' | 'P3';
  /** Base name of the tier's FIFO queue; `.fifo` and a stage prefix are added where queues are made. */
  readonly queueName: string;
  /**
   * Most worker invocations this tier's event source mapping may run at once (Lambda's
   * ScalingConfig.MaximumConcurrency, minimum 2). P1 gets the most so urgent work never waits behind
   * a P3 backlog.
   */
  readonly maxConcurrency: number;
  /** Records per worker invocation. One: a job drives a browser for minutes, so batching adds latency only. */
  readonly batchSize: number;
  /**
   * A job that has waited this long in the tier is promoted to the next tier up, so low priorities never
   * starve. Null for the top tier.
   */
  readonly promoteAfterSeconds: number | null;
}

export const PRIORITY_TIERS: readonly PriorityTier[] = [
  {
    priority: 1,
    name: 'P1',
    queueName: 'formfleet-p1',
    maxConcurrency: 10,
    batchSize: 1,
    promoteAfterSeconds: null,
  },
  {
    priority: 2,
    name: 'P2',
    queueName: 'formfleet-p2',
    maxConcurrency: 5,
    batchSize: 1,
    promoteAfterSeconds: 15 * 60,
  },
  {
    priority: 3,
    name: 'P3',
    queueName: 'formfleet-p3',
    maxConcurrency: 2,
    batchSize: 1,
    promoteAfterSeconds: 30 * 60,
  },
];

export function tierFor(priority: number): PriorityTier {
  const tier = PRIORITY_TIERS.find((t) => t.priority === priority);
  if (!tier) throw new RangeError(`priority must be 1, 2 or 3 (got ${priority})`);
  return tier;
}

/** Queue behaviour shared by every tier. */
export const QUEUES = {
  /** A message received this many times without success moves to the tier's dead-letter queue. */
  maxReceiveCount: 5,
  /** Main queues keep a message 4 days; a job older than that has failed long before. */
  retentionSeconds: 4 * 24 * 3600,
  /** Dead-letter queues keep messages the SQS maximum, 14 days, so a person has time to look. */
  dlqRetentionSeconds: 14 * 24 * 3600,
} as const;

/** The submission worker's runtime limits. */
export const WORKER = {
  /** Lambda timeout of one worker invocation (the Lambda maximum). */
  timeoutSeconds: 900,
  /**
   * Queue visibility timeout: AWS asks for at least 6x the function timeout on an event source mapping
   * so a message is not redelivered while a slow invocation still runs. Heartbeats extend it too.
   */
  visibilityTimeoutSeconds: 6 * 900,
  /** Heartbeat (progress write + visibility extension) period. */
  heartbeatIntervalSeconds: 20,
  /** Memory for the browser worker; Chromium needs at least 2 GB to be stable. */
  memoryMb: 2048,
  /** /tmp space for the extracted Chromium and its profile. */
  ephemeralStorageMb: 2048,
  /** A browser is closed and relaunched after this many pages, bounding leaks. */
  browserRecycleAfterPages: 50,
  /** Per step and per directory time budgets for the form engine. */
  stepTimeoutMs: 15_000,
  directoryTimeoutMs: 90_000,
  /** Attempts for a transient failure of one directory within one job run, with exponential backoff. */
  transientRetries: 2,
  retryBaseDelayMs: 500,
  /** Politeness: the minimum gap between two submissions to the same directory site, across workers. */
  siteMinGapMs: 1_000,
  /**
   * Politeness lease: a worker visiting a site holds a lease row on it (site_visits), renewed every third of
   * this while the visit lasts and released at its end. A worker that dies mid-visit blocks its site at most
   * this long. 60 s: four times the longest form step (stepTimeoutMs), so even renewals stalled for a whole
   * step (a slow database) keep the lease, yet short beside siteWaitMaxMs, so a waiting job outlasts a
   * crashed holder instead of giving up.
   */
  siteLeaseSeconds: 60,
  /** Longest backoff between two transient retries of one directory (the base doubles up to this). */
  retryMaxDelayMs: 10_000,
  /**
   * Longest a job waits for another worker to finish with a directory site (politeness) before its
   * message is returned to the queue to try again later.
   */
  siteWaitMaxMs: 5 * 60_000,
  /** Backoff of a failed job message (visibility shortened to this, doubling per receive, with jitter). */
  recordRetryBaseSeconds: 15,
  recordRetryMaxSeconds: 15 * 60,
  /** How long a processed message's idempotency record refuses a duplicate execution (DynamoDB TTL). */
  idempotencyExpirySeconds: 24 * 3600,
  /** Budget for looking a listing up to verify an interrupted submission. */
  verifyTimeoutMs: 15_000,
  /** A directory is not started with less invocation time left than its budget plus this margin. */
  invocationMarginMs: 30_000,
  /**
   * K: how many of a job's directories one worker runs at once, each in its own context of the shared
   * browser (a stage may override it: cdk.json `worker.directoriesInFlight`). Real directory sites are
   * network-bound (a page load and a post take seconds), so one directory at a time leaves the paid Lambda
   * mostly waiting; benchmark i (docs/performance.md, issue 16's "h") measures throughput, GB-s and peak memory per K.
   */
  directoriesInFlight: 6,
  /** The most a stage may set K to: each directory in flight is a browser context in one Lambda's memory. */
  directoriesInFlightMax: 16,
  /**
   * Lambda's memory settings (MB): a stage's worker memory (cdk.json `worker.memoryMb`) must be a whole number
   * in this range, and at least memoryMb for Chromium.
   */
  lambdaMemoryMinMb: 128,
  lambdaMemoryMaxMb: 10_240,
  /**
   * Peak memory (MB) of one worker before its directories: Node and Chromium's browser, GPU and network
   * processes. Benchmark i (docs/performance.md, issue 16's "h") measured peak RSS, summed over Chromium's
   * processes and Node, at 574 MB with one directory in flight and 1,359 MB with eight on the realistic
   * profile: about 460 MB before the first directory (RSS counts shared pages once per process, so it
   * overstates; the PSS at K = 6 was 495 MB).
   */
  memoryBaseMb: 460,
  /**
   * Peak memory (MB) each directory in flight adds: its context and its page's renderer. Benchmark i measured
   * about 112 MB per directory by RSS on the fixture forms; small-business sites carry more scripts and images
   * than those, so 150, which refuses K = 8 at 2,048 MB where the measured peak was already 66 %.
   */
  memoryPerDirectoryMb: 150,
  /**
   * A stage's K must keep the estimated peak (memoryBaseMb + K x memoryPerDirectoryMb) at or under this share
   * of its worker memory (issue 16: the peak under 75 % of the memory setting), or the stage is refused.
   */
  memoryPeakShare: 0.75,
} as const;

/** Aging: jobs waiting longer than their tier's promoteAfterSeconds move up one tier. */
export const PROMOTION = {
  /** Most jobs promoted per run, so one run stays short however large the backlog. */
  batchSize: 200,
} as const;

/** Stale-job recovery and dead-letter watching. */
export const RECOVERY = {
  /** A claimed job with no heartbeat for this long is considered abandoned (its worker died). */
  staleAfterSeconds: 10 * 60,
  /** How often the stale-job monitor runs. */
  staleCheckIntervalSeconds: 2 * 60,
  /** A job requeued this many times by the monitor is failed instead of requeued again. */
  requeueCap: 3,
  /** Heartbeats arriving but the step unchanged this long: the site is slow or the browser hung. */
  stuckStepAfterSeconds: 5 * 60,
  /** How often the DLQ check runs. */
  dlqCheckIntervalSeconds: 5 * 60,
  /** While a DLQ stays non-empty and unchanged, remind once per this period. */
  dlqReminderAfterSeconds: 60 * 60,
  /**
   * A job left 'pending' this long has no message on its queue (the API's or a requeue's SQS send failed
   * after the database commit): the stale-job run sends it again. Long enough not to race a send in flight.
   */
  pendingGraceSeconds: 60,
  /**
   * Stale jobs requeued per statement (one transaction, one alert); a run loops over batches, and two runs
   * interleave rather than block (SKIP LOCKED). 500: measured on 1,000,000 jobs with 10,000 stale, the
   * statements took 675 ms in all (949 ms at 50), and a mass failure raises 20 alerts, not 200.
   */
  staleBatchSize: 500,
  /**
   * Most stale jobs one run handles, bounding its duration; the next run takes the rest. 10,000 stale jobs
   * cost one run 1.5 s of formfleet's own work (bench/stale.ts; the SQS sends, 1,000 SendMessageBatch calls,
   * come on top), far inside the 60 s timeout, so a mass worker failure is recovered in one run, not ten
   * runs over 20 minutes.
   */
  maxRequeuesPerRun: 10_000,
  /** Pending jobs re-sent per run (same reasoning as maxRequeuesPerRun). */
  maxResendsPerRun: 500,
  /**
   * A job 'queued' and unchanged this long while its tier's queue holds fewer messages than its queued and
   * running jobs need has lost its message (purged, or held by a local moto that restarted): the stale-jobs
   * run re-sends it with a new enqueue token (an old message, if any survives, is then refused by the claim).
   * Five minutes: far beyond SQS's lag in counting a message just sent (about a minute) and the pending grace,
   * so a message in transit is never mistaken for a lost one. SQS cannot be searched for a job's message, so
   * the counts decide how many of the oldest quiet jobs are re-sent; a tier whose queue holds enough messages
   * is left alone however long its backlog waits.
   */
  queuedLostAfterSeconds: 5 * 60,
  /** Expired Idempotency-Keys (API_IDEMPOTENCY.keyTtlSeconds) pruned per stale-jobs run, oldest first. */
  idempotencyKeysPrunedPerRun: 5_000,
  /** Messages peeked per dead-letter queue for an alert or GET /v1/dlq. */
  dlqPeekMaxPerTier: 10,
  /** How long a peek hides the messages it reads before handing them straight back (visibility 0). */
  dlqPeekHoldSeconds: 30,
  /** How long a redrive holds the messages it is deciding about; unchosen ones are handed back at the end. */
  dlqRedriveHoldSeconds: 60,
  /** Most messages one redrive call moves, unless the caller asks for fewer. */
  dlqRedriveMaxPerCall: 100,
} as const;

/** Alert delivery: SNS topic → notifier Lambda → Slack incoming webhook. */
export const ALERTS = {
  /** Slack accepts about one incoming-webhook message per second; the notifier paces itself to that. */
  minIntervalMs: 1_000,
  /** A webhook call slower than this is abandoned and retried (the outcome is ambiguous, so rare). */
  slackTimeoutMs: 5_000,
  /** Retries inside one invocation for 429, 5xx and timeouts, before the invocation fails. */
  slackInlineRetries: 2,
  /** First inline backoff; doubles per retry. A 429's Retry-After is honoured when not longer than the cap. */
  slackRetryBaseMs: 1_000,
  maxInlineRetryWaitMs: 5_000,
  /** Lambda asynchronous-invocation retries (its maximum); then the event goes to the on-failure queue. */
  deliveryRetryAttempts: 2,
  /** Oldest event Lambda keeps retrying (its maximum, 6 h). */
  maxEventAgeSeconds: 6 * 3600,
  /** Locally, the delay before a failed delivery is retried (Lambda waits about a minute, then two). */
  localRetryDelaySeconds: 60,
  /** Notifier timeout: inline retries at worst 3 x 5 s + backoff + pacing fit well inside it. */
  notifierTimeoutSeconds: 30,
  /** Delivered alert ids are remembered this long, so a redelivery or replay does not post twice. */
  dedupeWindowSeconds: 7 * 24 * 3600,
  /** Items (jobs, messages) listed in one alert; the rest are counted. */
  maxItems: 5,
  /** Outbox alerts published per handler run. */
  outboxFlushBatch: 50,
  /** Published outbox rows are kept this long (they also de-duplicate alerts at the source), then pruned. */
  outboxRetentionSeconds: 14 * 24 * 3600,
  /**
   * The alerts that page a person (PagerDuty, when the stage names a routing key), besides going to Slack
   * like every alert: a dead-letter queue that became non-empty or grew (resolved when it drains), jobs failed
   * past the stale-job requeue cap, and the CloudWatch alarms whose runbook is named here (worker heartbeat
   * missing while work waits, API 5xx), each resolved when its alarm returns to OK. Everything else is for
   * working hours.
   */
  critical: {
    /** formfleet's own alert kinds that page, and the kind that resolves each (null: an event, no resolve). */
    kinds: { dlq: 'dlq_resolved', job_failed: null },
    /** CloudWatch alarms that page, by the runbook their description links (docs/runbooks/<name>.md). */
    alarmRunbooks: ['worker-heartbeat-missing', 'api-5xx'],
  },
} as const satisfies {
  critical: { kinds: Record<string, string | null>; alarmRunbooks: readonly string[] };
  [key: string]: unknown;
};

/**
 * PagerDuty (Events API v2): critical alerts (ALERTS.critical) trigger an incident keyed by the alert's
 * condition, and its resolution resolves it, when the stage names a routing-key secret.
 */
export const PAGERDUTY = {
  /** The Events API v2 endpoint (the local runtime points PAGERDUTY_EVENTS_URL at its sink instead). */
  eventsUrl: 'https://events.pagerduty.com/v2/enqueue',
  /** A call slower than this is abandoned, and the invocation fails so Lambda retries it. */
  timeoutMs: 5_000,
  /** PagerDuty caps an event's summary at 1,024 characters. */
  summaryMaxLength: 1_024,
  /** The order of events per incident is remembered this long (a late retried trigger never reopens it). */
  orderWindowSeconds: 7 * 24 * 3600,
} as const;

/**
 * Webhooks to API clients (functions/webhooks/): Standard Webhooks signatures, delivery from the events outbox
 * by the webhook-delivery function, retries with backoff, and endpoints disabled when they keep failing.
 */
export const WEBHOOKS = {
  /** An attempt that has not answered within this is abandoned and counts as failed (a hanging receiver). */
  timeoutMs: 10_000,
  /**
   * The wait before each retry after a failed attempt: the Standard Webhooks schedule (5 s, 5 min, 30 min, 2 h,
   * 5 h, 10 h, 10 h: 27 h 35 min in all), so a delivery is retried for more than a day. After the last one
   * fails the delivery is given up ('failed'; a replay sends it again). The same schedule paces a failing
   * endpoint: after its n-th failure in a row nothing is sent to it for the n-th wait (a probe, then the rest).
   */
  retryScheduleSeconds: [5, 5 * 60, 30 * 60, 2 * 3600, 5 * 3600, 10 * 3600, 10 * 3600],
  /** Each wait is scaled by a random factor in [1 - jitter, 1 + jitter], so retries do not arrive in step. */
  retryJitter: 0.1,
  /** The schedule must keep retrying at least this long even at the shortest jitter (a test checks). */
  minimumRetrySeconds: 24 * 3600,
  /** An endpoint with no successful delivery for this long while failing is disabled, and an alert raised. */
  disableAfterFailingDays: 3,
  /**
   * Most attempts in flight to one endpoint at once: its deliveries go through this many FIFO message groups
   * of the delivery queue, so one busy or hanging endpoint takes at most this share of the delivery function.
   */
  perEndpointConcurrency: 2,
  /** The delivery function's event source mapping: at most this many invocations at once, one wake each. */
  deliveryMaxConcurrency: 10,
  deliveryBatchSize: 1,
  /** Delivery function timeout: a drain stops starting attempts when less than one attempt's time is left. */
  deliveryTimeoutSeconds: 120,
  /** Most deliveries one invocation sends to its endpoint before it hands on (the next wake continues). */
  deliveriesPerInvocation: 100,
  /** An attempt's claim lapses after this (its function died mid-attempt): the delivery is due again. */
  attemptLeaseSeconds: 60,
  /**
   * The dispatcher (webhook-dispatch, every minute): it looks for due deliveries every dispatchPollMs for
   * dispatchWindowSeconds, so a first attempt starts within about a second of the change it reports. A stage
   * with no endpoint ends each run at once.
   */
  dispatchEverySeconds: 60,
  dispatchWindowSeconds: 50,
  dispatchPollMs: 1_000,
  /** Endpoints woken per dispatcher look (the rest are woken at the next look). */
  wakesPerPoll: 500,
  /** Delivery queue: retention of a wake, and receives before a wake that keeps failing is dead-lettered. */
  queueRetentionSeconds: 24 * 3600,
  maxReceiveCount: 5,
  /** Kept of a receiver's answer per attempt (it is a third party's text: shown, never trusted). */
  responseExcerptChars: 500,
  /** Events, deliveries and attempts older than this are pruned (a replay reaches back this far). */
  retentionDays: 30,
  /** Rows pruned per dispatcher run, so a run stays short however long pruning was skipped. */
  pruneBatch: 1_000,
  /** Endpoints one API key may have. */
  maxEndpointsPerKey: 20,
  /** Longest endpoint URL. */
  maxUrlLength: 2_048,
  /** Random bytes of a signing secret (`whsec_` + base64; Standard Webhooks asks for 24 to 64). */
  secretBytes: 32,
  /** A signing secret read from its sealed form is kept in the container this long. */
  secretCacheSeconds: 300,
  /** Deliveries listed per attempt history (the schedule has 8 attempts; a replay is its own delivery). */
  attemptsShown: 20,
} as const;

/**
 * A rate-limit preset: the exact sliding limits the API enforces (functions/api/rate-limiter.ts: in ANY
 * 60-second span at most perMinute requests, in any 3,600-second span at most perHour), and the token
 * bucket of API Gateway's usage plan in front of it.
 */
export interface RateLimitPreset {
  readonly perMinute: number;
  readonly perHour: number | null;
  /**
   * Token-bucket burst of the API Gateway usage plan (and the local gateway's emulation). It is a coarse,
   * best-effort outer guard against floods, so it is set LOOSER than the exact limits (a multiple of
   * perMinute): a client over its allowance meets the exact limiter's 429 with RateLimit-* headers, never
   * the bucket's bare one. See usagePlanFor().
   */
  readonly burst: number;
}

/** How much looser than the exact per-minute limit the outer token bucket (usage plan) is set. */
export const OUTER_GUARD_FACTOR = 2;

export const RATE_LIMITS = {
  /** Client API keys. */
  client: { perMinute: 100, perHour: 1_000, burst: 100 * OUTER_GUARD_FACTOR },
  /** Admin API keys: operators and automation, trusted but still bounded. */
  admin: { perMinute: 600, perHour: 20_000, burst: 600 * OUTER_GUARD_FACTOR },
  /** Unauthenticated routes (GET /health), per client IP. */
  anonymousPerIp: { perMinute: 100, perHour: null, burst: 100 * OUTER_GUARD_FACTOR },
} as const satisfies Record<string, RateLimitPreset>;

/** POST /v1/jobs with an Idempotency-Key header: the same key and body answer the first job. */
export const API_IDEMPOTENCY = {
  /** How long a key answers with its first job (per API key); after that it may be used afresh. */
  keyTtlSeconds: 24 * 3600,
  /** Longest key accepted (printable ASCII, as clients generate UUIDs or request hashes). */
  maxKeyLength: 255,
} as const;

/** List routes: page sizes (`limit` query parameter). */
export const PAGINATION = {
  defaultLimit: 50,
  maxLimit: 200,
} as const;

/** Health reporting (GET /v1/health) and queue-position estimates. */
export const HEALTH = {
  /** The database must answer within this or it counts as down. */
  databaseTimeoutMs: 2_000,
  /** SQS must answer within this or queue figures count as unavailable. */
  queueTimeoutMs: 2_000,
  /** A worker not seen for 3 heartbeat periods is stale (its process died or froze). */
  workerStaleAfterSeconds: 3 * WORKER.heartbeatIntervalSeconds,
  /** Worker rows older than this are forgotten by health (Lambda environments end silently). */
  workerForgetAfterSeconds: 60 * 60,
  /** A tier backlog above this makes the service degraded (the same figure as the queue-depth alarm). */
  queueBacklogDegraded: 100,
  /** Recent throughput (for estimated waits) is measured over this window. */
  throughputWindowSeconds: 60 * 60,
} as const;

/** Request size limits. */
export const PAYLOAD_LIMITS = {
  /** Largest JSON body a route accepts; larger is refused with 413 before parsing. */
  jsonBodyBytes: 1_048_576,
  /**
   * Highest value jsonBodyBytes may be configured to: Lambda's synchronous invocation payload limit is
   * 6 MB for the whole event, and a body is base64- or JSON-escaped inside it, so keep a margin.
   */
  jsonBodyCeilingBytes: 4_500_000,
  /** URLs longer than this get 414. */
  maxUrlLength: 2_048,
  /** API Gateway REST's own hard payload ceiling, which the local gateway applies too. */
  apiGatewayMaxBytes: 10 * 1_048_576,
} as const;

/** In-container caches of the worker and API. */
export const CACHE_TTL = {
  customerSeconds: 60 * 60,
  directorySeconds: 24 * 60 * 60,
  /** GET /v1/directories pages, per container (PUT/DELETE in the same container clear it at once). */
  directoryListSeconds: 60,
} as const;

/**
 * Business categories (functions/shared/categories.ts): when the worker may choose a directory's option by
 * likeness where the directory's category map says nothing, and how the API suggests names for an unknown one.
 */
export const CATEGORIES = {
  /**
   * The least likeness (0..1) at which an option is chosen without a map entry. 0.8: a label that says one
   * of the category's names and a word more ("Bakeries & Pastry Shops" for bakery: 0.83) passes; one that
   * shares half a name's words ("Heating Oil" for "heating and cooling": 0.44) does not.
   */
  similarityThreshold: 0.8,
  /** The chosen option must lead the next best by this much: two near-equal options go to a person. */
  similarityMargin: 0.1,
  /** Nearest categories named in the API's refusal of an unknown one, and the least likeness named. */
  suggestions: 5,
  suggestionMinScore: 0.3,
} as const;

/** Packages a business can buy: which directories, how many, and at which priority by default. */
export const PACKAGES = {
  starter: { maxDirectoryTier: 1, size: 25, defaultPriority: 3 },
  growth: { maxDirectoryTier: 2, size: 50, defaultPriority: 2 },
  professional: { maxDirectoryTier: 3, size: 100, defaultPriority: 2 },
  enterprise: { maxDirectoryTier: 4, size: 200, defaultPriority: 1 },
} as const satisfies Record<string, { maxDirectoryTier: number; size: number; defaultPriority: Priority }>;

export type PackageName = keyof typeof PACKAGES;

const DAY_SECONDS = 24 * 3600;

/**
 * The listing's life after the click (functions/lifecycle/): a row the worker settled 'submitted' enters the
 * lifecycle ('under_review'), and the scheduled recheck-listings run looks it up on the directory with the
 * definition's `verify` at each recheck age, through the worker's browser pool and per-site politeness,
 * until it is 'live' (found, with its URL), 'rejected' (the definition's `rejected` indicator) or
 * 'not_found' (not found at the last age). docs/architecture.md draws the states.
 */
export const LIFECYCLE = {
  /**
   * When a listing is looked up, counted from the submission: a day (most directories publish or moderate
   * within one), a week (a moderation queue), four weeks (the slowest). Not found at the last: 'not_found'.
   */
  recheckAgesSeconds: [1 * DAY_SECONDS, 7 * DAY_SECONDS, 28 * DAY_SECONDS],
  /**
   * How often recheck-listings runs. Five minutes: a row is looked up within minutes of its age, and a run
   * with nothing due costs one query (Chromium starts only for a due row).
   */
  recheckIntervalSeconds: 5 * 60,
  /**
   * The run's Lambda timeout: shorter than its interval, so two runs never overlap (the manifest checks it),
   * and long enough for maxLookupsPerRun lookups at their verify budget, two at a time.
   */
  recheckTimeoutSeconds: 4 * 60,
  /** Due rows claimed per statement (FOR UPDATE SKIP LOCKED): what a run that dies leaves leased. */
  claimBatch: 10,
  /**
   * Most lookups one run makes; the next run takes the rest. 120 every 5 minutes is 34,560 a day, three per
   * submission for 11,500 submissions a day.
   */
  maxLookupsPerRun: 120,
  /** Lookups of one run at once, each on a different site (a site is never visited twice at once anyway). */
  lanes: 2,
  /** A claimed row is due again after this if its run dies before recording the lookup: the run's timeout and more. */
  claimLeaseSeconds: 15 * 60,
  /** An inconclusive lookup (the site down, neither indicator on the page) is tried again after this. */
  inconclusiveRetrySeconds: 6 * 3600,
  /**
   * Inconclusive lookups in a row before the age counts as passed without the listing found (the bound on
   * retries): three, 18 hours apart in all, so a site down for a day does not make a listing 'not_found'.
   */
  maxInconclusiveInARow: 3,
  /**
   * Longest a lookup waits for its site (another worker's visit, politeness); a busier site is left for a
   * later run, the row unchanged, rather than holding the run for the worker's five minutes.
   */
  siteWaitMaxMs: 30_000,
  /** A row whose site stayed busy (or whose run ran out of time) is due again after this. */
  busyRetrySeconds: 10 * 60,
  /**
   * 'submitted' rows without a lifecycle entered per run: rows the worker settled without entering (it
   * died between the two statements) and rows settled before the lifecycle existed.
   */
  enterBatch: 500,
  /** Longest listing URL kept (a directory's own link, read from an untrusted page). */
  listingUrlMaxLength: 2_048,
} as const;

/**
 * One table retention keeps small: rows older than `keepDays` (by `ageColumn`) that `removableWhen` allows
 * are written to the records bucket's archive prefix, then deleted, `batchSize` at a time. A table another
 * capability adds (webhook deliveries, tasks, inbound mail) is one more entry in RETENTION.tables.
 */
export interface RetentionTable {
  /** The table, as in sql/. */
  readonly table: string;
  /** A unique, non-null column: batches are taken in (ageColumn, key) order and deleted by it. */
  readonly key: string;
  /** The timestamptz column a row's age is counted from; a row with it NULL is never archived. */
  readonly ageColumn: string;
  /** Rows whose age passed this many days may go. */
  readonly keepDays: number;
  /** Rows per batch: one short transaction, one archive object per day in it. */
  readonly batchSize: number;
  /**
   * SQL condition over the row (aliased `r`) that must also hold: "never while a live job or listing needs
   * it". Empty for none.
   */
  readonly removableWhen: string;
  /**
   * Rows that go with each row (ON DELETE CASCADE children), as a JSON expression over the row `r` added to
   * its archived line under `with`, so what the delete takes is archived too. Restoring puts back the row
   * itself (json_populate_record ignores `with`); the children stay readable in the archive.
   */
  readonly archivedWith?: string;
  /** Why the period, for docs/configuration.md. */
  readonly why: string;
}

/** Jobs still running, and listings still being looked up, keep every row that names them. */
const JOB_AT_REST = `NOT EXISTS (SELECT 1 FROM jobs j WHERE j.id = r.job_id AND j.status IN ('pending', 'queued', 'in_progress'))
    AND NOT EXISTS (SELECT 1 FROM submissions s WHERE s.job_id = r.job_id AND s.lifecycle IN ('pending_verification', 'under_review'))`;

/**
 * Retention (issue 21): what is archived and deleted, after how long, and what is never deleted. The
 * scheduled `retention` function (functions/retention/) runs it; `npm run ops -- archive show|restore`
 * reads an archived day back (docs/runbooks/restore-archived-history.md).
 */
export const RETENTION = {
  tables: [
    {
      table: 'job_events',
      key: 'id',
      ageColumn: 'created_at',
      keepDays: 90,
      batchSize: 2_000,
      removableWhen: JOB_AT_REST,
      why: "A job's timeline: the audit asked for 90 days online; a job still running, or with a listing still looked up, keeps all of its events.",
    },
    {
      table: 'alert_outbox',
      key: 'id',
      ageColumn: 'published_at',
      keepDays: 30,
      batchSize: 1_000,
      removableWhen: '',
      why: 'Alerts already published to SNS (an unpublished one has no published_at and stays); a month answers "did we alert on that?".',
    },
    {
      table: 'workers',
      key: 'id',
      ageColumn: 'last_seen_at',
      keepDays: 30,
      batchSize: 1_000,
      removableWhen: `r.jobs_in_flight = 0
    AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.status = 'in_progress' AND j.claimed_by = r.id)`,
      why: 'Lambda execution environments not seen for a month are gone; one still named by a claimed job stays.',
    },
    {
      table: 'site_visits',
      key: 'site',
      ageColumn: 'last_finished_at',
      keepDays: 180,
      batchSize: 1_000,
      removableWhen: 'r.lease_token IS NULL AND r.holder IS NULL',
      why: 'A site unvisited for half a year has no politeness gap left to keep; a site being visited (a lease) stays.',
    },
    {
      table: 'evidence_objects',
      key: 'key',
      ageColumn: 'created_at',
      keepDays: 430,
      batchSize: 1_000,
      removableWhen: "r.state IN ('stored', 'lost')",
      why: 'Proof screenshot metadata, kept 30 days past the objects themselves (RECORDS evidence, 400 days); a screenshot still waiting for S3 stays.',
    },
    {
      table: 'webhook_events',
      key: 'id',
      ageColumn: 'occurred_at',
      keepDays: 45,
      batchSize: 1_000,
      removableWhen: `NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.event_id = r.id AND d.status IN ('pending', 'held'))`,
      archivedWith: `jsonb_build_object('deliveries', (SELECT coalesce(jsonb_agg(to_jsonb(d) || jsonb_build_object('attempts',
        (SELECT coalesce(jsonb_agg(to_jsonb(a) ORDER BY a.number), '[]'::jsonb) FROM webhook_attempts a WHERE a.delivery_id = d.id))
        ORDER BY d.created_at), '[]'::jsonb) FROM webhook_deliveries d WHERE d.event_id = r.id))`,
      why: 'Webhook events with their deliveries and attempts (archived in the same line): past the 24 h retries and a month of "was it sent?"; an event with a delivery still pending or held (a disabled endpoint) stays.',
    },
    {
      table: 'inbound_mail',
      key: 'id',
      ageColumn: 'received_at',
      keepDays: 90,
      batchSize: 1_000,
      removableWhen: "r.outcome <> 'processing'",
      why: 'What became of each verification mail (the raw mail itself expires from mail/ sooner); one being handled stays.',
    },
    {
      table: 'tasks',
      key: 'id',
      ageColumn: 'updated_at',
      keepDays: 180,
      batchSize: 1_000,
      removableWhen: "r.status IN ('resolved', 'withdrawn')",
      why: 'Finished tasks (who did what by hand; the ledger row keeps the outcome, the job events the story); an open or claimed task stays however old.',
    },
  ],
  /**
   * Never deleted: what a customer's report (GET /v1/jobs/{id}, GET /v1/submissions) or a listing's recheck
   * reads. Tests check the run leaves them whole however old.
   */
  neverDeleted: {
    customers: 'the business a report is about',
    directories: 'the catalogue every ledger row names',
    jobs: "every report's header and status",
    submissions: "the ledger: what was sent where, once (issue 18), and each listing's lifecycle",
    submission_proofs: 'the facts of each click, part of the report',
    dlq_alert_state: 'one row per tier',
    retention_archives: 'the index of what was archived (one row per archive object)',
  },
  /** Not archived: rate_limit_hits is pruned by rate_limit_take itself (sql/030), as the window passes. */
  prunedInPlace: { rate_limit_hits: 'pruned by every request (the window) and a 1-day sweep (sql/030)' },
  /** The run: hourly, finishing well within the hour (its timeout is shorter than its interval). */
  runIntervalSeconds: 3600,
  timeoutSeconds: 10 * 60,
  /**
   * A run stops starting batches after this (the rest waits for the next run), leaving the upload and
   * delete of the last batch time within the timeout.
   */
  runBudgetSeconds: 8 * 60,
  /** Lock wait of each batch's statements (SET LOCAL): a row someone holds is skipped, never waited for long. */
  lockTimeoutMs: 2_000,
  /** Statement timeout of each batch's statements. */
  statementTimeoutMs: 20_000,
  /** Longest one archive object's upload may take; the batch rolls back past it and the run stops. */
  uploadTimeoutMs: 20_000,
  /** Pause between batches, so the hot paths' writers always get the disk and locks in between. */
  pauseBetweenBatchesMs: 50,
} as const satisfies {
  tables: readonly RetentionTable[];
  neverDeleted: Readonly<Record<string, string>>;
  prunedInPlace: Readonly<Record<string, string>>;
  runIntervalSeconds: number;
  timeoutSeconds: number;
  runBudgetSeconds: number;
  lockTimeoutMs: number;
  statementTimeoutMs: number;
  uploadTimeoutMs: number;
  pauseBetweenBatchesMs: number;
};

/**
 * People in the loop (issue 14): a ledger row the robot must not finish (a captcha, a login wall, an
 * `unknown` nobody could decide) is a task (sql/105_tasks.sql); a person claims it, does it by hand and
 * resolves it through the fenced ledger (functions/shared/task-store.ts).
 */
export const TASKS = {
  /**
   * How long a claim holds a task before another person may take it over: 30 minutes, long enough to
   * register on a slow directory by hand (an account, a captcha, a confirmation), short enough that a task
   * left by someone who went home is back in the queue within the half hour. Claiming again extends it.
   */
  leaseSeconds: 30 * 60,
  /** Longest note a person leaves on a resolution (the CHECK of sql/105_tasks.sql). */
  noteMaxLength: 2_000,
  /** Longest name a person claims under (`by`; the CHECK of sql/105_tasks.sql). */
  claimantMaxLength: 200,
} as const;

/**
 * E-mail verification (issue 13): the per-job alias a definition with `emailMode: 'alias'` types, and what
 * mail-inbound accepts of a mail to it. Mail is untrusted input from anyone who can send to the domain.
 */
export const MAIL = {
  /**
   * The alias's random part: 16 bytes (128 bits) as 26 base32 characters, so an alias cannot be guessed or
   * enumerated; the address is `<aliasPrefix><token>@<inboundMailDomain>`.
   */
  aliasBytes: 16,
  aliasPrefix: 'v-',
  /**
   * The largest mail mail-inbound reads (raw, as stored): a verification mail is a few KB of text and HTML;
   * 1 MiB leaves room for a logo or two. A bigger one is refused ('too_large') unread.
   */
  maxBytes: 1_048_576,
  /**
   * What SES itself accepts (40 MB, its limit for received mail); the local SMTP stand-in takes the same, so
   * a huge mail reaches mail-inbound's own refusal locally as it would in AWS.
   */
  receiveMaxBytes: 40 * 1_048_576,
  /** Links read from one mail at most (a mail with thousands is refused as no_link past these). */
  maxLinks: 200,
  /**
   * A mail can come before the worker has recorded the submission (directories send it at the click): its row
   * is not waiting for a link yet, so the handler asks to be invoked again (SES's asynchronous Lambda
   * invocation retries twice, minutes apart; the local stand-in retries on this schedule), and records it
   * 'early' when the tries run out.
   */
  earlyRetryMs: [1_000, 2_000, 4_000, 8_000, 16_000],
  /** Longest the link visit may take (load and confirmation indicator), as a verify lookup. */
  visitTimeoutMs: 30_000,
  /** Longest the visit waits for its site (politeness); after it the mail is retried as early. */
  siteWaitMaxMs: 30_000,
  /** mail-inbound's Lambda timeout: a site wait, a visit and the writes. */
  timeoutSeconds: 120,
  /**
   * Containers of mail-inbound at once, for the connection budget: it is invoked once per verification mail
   * (one per alias-mode submission, spread over the day). A stage that needs the bound enforced reserves it
   * (cdk.json concurrency.reserved["mail-inbound"]).
   */
  concurrencyBound: 2,
} as const;

/**
 * Directory health (functions/directories/health.ts): the scheduled directory-health run dry-runs each active
 * directory (the probes' dry run, never submitting) at most once per checkInterval, politely (the site's
 * site_visits lease, as jobs and rechecks take), and pauses a directory whose dry run drifts or whose last
 * driftSubmissions real submissions all failed with selector_drift. Jobs skip a paused directory.
 */
export const DIRECTORY_HEALTH = {
  /** How often the run wakes: a directory due is checked within this of its day coming round. */
  runIntervalSeconds: 15 * 60,
  /** Each directory is dry-run at most once a day. */
  checkIntervalSeconds: DAY_SECONDS,
  /** Most directories one run dry-runs; the rest are due for the next run (a day spreads hundreds out). */
  maxChecksPerRun: 20,
  /** Lambda timeout of the run: its dry runs one after another, each within PROBES.directoryTimeoutMs. */
  timeoutSeconds: 10 * 60,
  /**
   * A directory whose last this many settled real submissions all failed with selector_drift is paused, as
   * a drifting dry run pauses it: three customers in a row is a changed form, not a slow page.
   */
  driftSubmissions: 3,
  /**
   * Longest wait for a site a job or recheck holds; after it the directory stays due and the next run tries.
   * Short: a run has other directories to check.
   */
  siteWaitMaxMs: 10_000,
} as const;

/** EventBridge schedules (and the local runtime's timers), derived from the thresholds above. */
export const SCHEDULES = {
  staleJobs: { everySeconds: RECOVERY.staleCheckIntervalSeconds },
  dlqCheck: { everySeconds: RECOVERY.dlqCheckIntervalSeconds },
  /** Aging promotion: often enough that a job is promoted within a minute of reaching its tier's limit. */
  promoteJobs: { everySeconds: 60 },
  /** Webhook dispatch: each run keeps looking for most of its minute (WEBHOOKS.dispatchWindowSeconds). */
  webhookDispatch: { everySeconds: WEBHOOKS.dispatchEverySeconds },
  /** Listing rechecks: rows whose recheck age has come are looked up on their directory. */
  recheckListings: { everySeconds: LIFECYCLE.recheckIntervalSeconds },
  /** Retention: archives and deletes rows past their period. */
  retention: { everySeconds: RETENTION.runIntervalSeconds },
  /** Directory health: each active directory dry-run once a day (DIRECTORY_HEALTH). */
  directoryHealth: { everySeconds: DIRECTORY_HEALTH.runIntervalSeconds },
} as const;

/** One part of the records bucket: its key prefix and how long its objects live. */
export interface RecordsPrefix {
  /** Key prefix, ending in `/`; IAM grants (manifest `needs.records`) are scoped to it. */
  readonly prefix: string;
  /**
   * The bucket's lifecycle rule deletes an object this many days after it was written; null: no expiry rule
   * (kept as long as what it belongs to exists).
   */
  readonly expireAfterDays: number | null;
}

/**
 * The records bucket: the one S3 bucket per stage (data stack) for what formfleet keeps as files, each kind
 * under its own prefix with its own lifecycle rule and its own grants. Another kind of record (inbound
 * verification mail, archives) is one more entry in `prefixes`: the bucket gets its rule, and a function
 * binds to it by name in the manifest.
 */
export const RECORDS = {
  prefixes: {
    /**
     * Proof per submission (issue 13): `evidence/<customer>/<job>/<directory>/<attempt>/{form,result}.jpg`.
     * 400 days: a listing is paid for by the year, so last year's proof is still there when a customer
     * renews or disputes a listing a year on (and a month of slack for the conversation).
     */
    evidence: { prefix: 'evidence/', expireAfterDays: 400 },
    /**
     * Rows the retention run moved out of Postgres (issue 21):
     * `archive/<table>/<yyyy-mm-dd>/<batch>.jsonl.gz`. Five years: the longest a business is commonly asked
     * to keep its records, long past any listing's year.
     */
    archive: { prefix: 'archive/', expireAfterDays: 5 * 365 },
    /**
     * Screenshots of dry runs and form discovery (issue 17): `probes/<directory or discover>/<run>-<n>.jpg`.
     * 30 days: an operator looks at them the day they onboard or repair a directory; a month keeps the last
     * health check's picture for a drift found over a weekend or a holiday.
     */
    probes: { prefix: 'probes/', expireAfterDays: 30 },
    /**
     * Inbound mail (issue 13): each verification mail as received, `mail/<message id>`, written by SES's
     * receipt rule (locally by the SMTP stand-in) and read once by mail-inbound. 30 days: long enough to look
     * into a refused mail (the inbound_mail table keeps its outcome for good), short enough that mail
     * addressed to customers' aliases is not kept for nothing.
     */
    mail: { prefix: 'mail/', expireAfterDays: 30 },
    /**
     * Customers' images (issue 14): `media/<customer>/<media id>`, uploaded by the API client straight to S3
     * with a presigned POST (policy MEDIA) and typed into directory forms by the worker's `upload` step. No
     * expiry: a logo is part of the profile and is kept while the customer exists (customers are never
     * deleted, RETENTION.neverDeleted); a replaced one stays, unreferenced, as history.
     */
    media: { prefix: 'media/', expireAfterDays: null },
  },
  /**
   * The bucket keeps versions: an object overwritten or deleted (a bug, a mistaken script) stays
   * recoverable this long as a noncurrent version, then the lifecycle rule removes it.
   */
  noncurrentVersionDays: 30,
  /** Parts of an upload that never completed are removed after this many days. */
  abortIncompleteUploadDays: 1,
} as const satisfies {
  prefixes: Readonly<Record<string, RecordsPrefix>>;
  noncurrentVersionDays: number;
  abortIncompleteUploadDays: number;
};

export type RecordsPrefixName = keyof typeof RECORDS.prefixes;

/**
 * Customers' images (issue 14): what `POST /v1/customers/{id}/media` accepts. The presigned POST it returns
 * makes S3 itself refuse another content type or a bigger file; the stored bytes are then checked against
 * the declared type by their magic numbers before the image becomes the customer's (and again before a
 * worker types it into a form).
 */
export const MEDIA = {
  /** The image types a customer may upload, each told from its first bytes (functions/shared/media.ts). */
  contentTypes: ['image/png', 'image/jpeg', 'image/webp'],
  /** The largest image: 5 MB (MiB), more than any directory's logo field takes. */
  maxBytes: 5 * 1024 * 1024,
  /** How long the presigned POST may be used. 15 minutes: one upload, with room for a slow link. */
  uploadUrlSeconds: 15 * 60,
  /** The kinds of image a profile holds; `logo` is the one a definition's `upload` step types. */
  kinds: ['logo'],
} as const;

export type MediaContentType = (typeof MEDIA.contentTypes)[number];

/**
 * Proof per submission: the screenshots the worker keeps of each submit click (the filled form just before
 * it, the result page after it), their size, and how their upload to the records bucket is kept off the
 * critical path and retried.
 */
export const EVIDENCE = {
  /**
   * JPEG quality of a screenshot. 60: a form's text stays readable; a typical form page is 20 to 80 KB,
   * where PNG would be several times that.
   */
  jpegQuality: 60,
  /** A screenshot over maxImageBytes is taken again at this quality (and then only the viewport). */
  retakeJpegQuality: 30,
  /** The ceiling of one screenshot: a bigger one is retaken smaller, and never kept above it. */
  maxImageBytes: 400_000,
  /** A full-page screenshot is clipped to this many CSS pixels of height (and width). */
  maxHeightPx: 4_000,
  maxWidthPx: 1_920,
  /** Longest one screenshot may take; a page that will not render is recorded without it. */
  screenshotTimeoutMs: 5_000,
  /** Longest one upload to S3 may take (the SDK's own retries included) before its bytes are kept for later. */
  uploadTimeoutMs: 10_000,
  /**
   * When a job's run ends (completed, continued or stopped), it waits this long at most for its uploads
   * still running; what has not reached S3 by then is kept in Postgres and uploaded by the stale-jobs run.
   */
  uploadWaitAtJobEndMs: 10_000,
  /** How long a presigned URL in `GET /v1/jobs/{id}` and `GET /v1/submissions` works. */
  presignedUrlSeconds: 15 * 60,
  /**
   * The most screenshot bytes kept in Postgres waiting for S3 (an outage). 256 MiB holds about 3,000
   * submissions' proof (two screenshots of about 40 KB each), an hour of a busy stage; past it, a
   * screenshot that cannot be uploaded is recorded as lost rather than filling the database.
   */
  pendingMaxBytes: 256 * 1_048_576,
  /** Screenshots the stale-jobs run uploads per run from Postgres (it stops early once S3 refuses). */
  retryBatchSize: 200,
  /** A kept screenshot that failed to upload is tried again after this, doubling per try up to the max. */
  retryBaseSeconds: 60,
  retryMaxSeconds: 60 * 60,
  /**
   * A screenshot still pending after this with no bytes kept was lost with its worker (the longest
   * invocation plus a margin): the stale-jobs run looks for it in S3 (stored after all) or records it lost.
   */
  orphanAfterSeconds: WORKER.timeoutSeconds + 5 * 60,
} as const;

/**
 * The local runtime (`npm start`, `npm run demo`, the dashboard, the ops CLI): numbers that exist only on one
 * machine. The system itself runs by the sections above, locally as in AWS.
 */
export const LOCAL = {
  /** Gateway port of `npm start` when PORT is unset. */
  defaultPort: 3000,
  /**
   * The local runtime's inbound mail domain (a stage's is its `inboundMailDomain`): the SMTP stand-in on
   * loopback receives it. `.test` is reserved (RFC 2606), so no real mail is ever addressed there.
   */
  inboundMailDomain: 'inbound.formfleet.test',
  /**
   * `npm start -- --fast` divides every schedule and the alert retry delay by this, so recovery can be watched
   * at work: stale-jobs every 12 s, dlq-check every 30 s, promote-jobs every 6 s. Thresholds stay as above.
   */
  fastSpeedUp: 10,
  /**
   * `npm start -- --fast` divides the listing lifecycle's ages and retry delays by this (LIFECYCLE_SPEED_UP),
   * so a person can watch listings go live: a day passes in 10 s, the +1, +7 and +28 day rechecks come after
   * 10 s, 70 s and 280 s (recheck-listings runs every 30 s then).
   */
  fastLifecycleSpeedUp: 8_640,
  /** A shutdown (Ctrl-C, SIGTERM) taking longer than this exits anyway, with status 1. */
  shutdownGraceMs: 20_000,
  /** How long a running worker invocation may finish during shutdown; its message returns to the queue otherwise. */
  pollerStopGraceMs: 10_000,
  /** The dashboard page asks for fresh figures this often. */
  dashboardRefreshMs: 2_000,
  /** Minutes of history in the dashboard's submissions-per-minute chart. */
  dashboardMinutes: 30,
  /** Recent jobs, alerts and Slack messages the dashboard lists. */
  dashboardRecent: 10,
  /** `npm run demo` defaults (each a flag): the workload, how long it may run, how often it looks. */
  demo: {
    jobs: 12,
    directoriesPerJob: 4,
    /** Share of P1 : P2 : P3 jobs in the workload. */
    mix: [1, 2, 3],
    timeoutSeconds: 300,
    pollMs: 1_000,
    /** Without a terminal (CI), one progress line at most this often, and only when something changed. */
    plainLineEveryMs: 5_000,
  },
  /** The ops CLI: how often `--wait` and redrive progress look, and how long `--wait` waits by default. */
  ops: { pollMs: 1_000, waitTimeoutSeconds: 900 },
} as const;

/** A range of addresses the worker's browser must never reach, and what it is (named in the refusal). */
export interface BlockedRange {
  readonly cidr: string;
  readonly kind: string;
}

/**
 * What the worker's browser may reach (functions/worker/network-guard.ts). Directory sites are untrusted third
 * parties: a page (or a definition) could aim the browser at the Lambda runtime API (127.0.0.1:9001), the
 * instance or container credentials (169.254.169.254, 169.254.170.2, fd00:ec2::254), or anything on a private
 * network the function can see. Every connection the browser makes goes through a gate that resolves the
 * name itself, refuses an address in any range below, and connects to exactly the address it checked.
 * Nothing here opens anything: the only allowance is the local runtime's explicit list of its fixture sites
 * (BROWSER_ALLOWED_ORIGINS, refused in Lambda).
 */
export const BROWSER_NETWORK = {
  /** The only schemes a definition may navigate to; a page's own file:, chrome: and data: navigations Chromium refuses. */
  schemes: ['http:', 'https:'],
  /** IPv4 special-purpose ranges (IANA registry) no directory site is served from. */
  blockedIpv4: [
    { cidr: '0.0.0.0/8', kind: 'this-network (0.0.0.0 reaches the host itself)' },
    { cidr: '10.0.0.0/8', kind: 'private' },
    { cidr: '100.64.0.0/10', kind: 'shared address space (CGNAT)' },
    { cidr: '127.0.0.0/8', kind: 'loopback' },
    { cidr: '169.254.0.0/16', kind: 'link-local (cloud metadata and credentials)' },
    { cidr: '172.16.0.0/12', kind: 'private' },
    { cidr: '192.0.0.0/24', kind: 'IETF protocol assignments' },
    { cidr: '192.0.2.0/24', kind: 'documentation' },
    { cidr: '192.88.99.0/24', kind: '6to4 relay' },
    { cidr: '192.168.0.0/16', kind: 'private' },
    { cidr: '198.18.0.0/15', kind: 'benchmarking' },
    { cidr: '198.51.100.0/24', kind: 'documentation' },
    { cidr: '203.0.113.0/24', kind: 'documentation' },
    { cidr: '224.0.0.0/4', kind: 'multicast' },
    { cidr: '240.0.0.0/4', kind: 'reserved (and broadcast)' },
  ],
  /**
   * IPv6 special-purpose ranges. IPv4-mapped (::ffff:a.b.c.d) and NAT64 (64:ff9b::a.b.c.d) addresses are
   * judged by the IPv4 address they carry, so a public site behind DNS64 still works.
   */
  blockedIpv6: [
    { cidr: '::1/128', kind: 'loopback' },
    { cidr: '::/128', kind: 'unspecified' },
    { cidr: '::/96', kind: 'IPv4-compatible (deprecated)' },
    { cidr: '64:ff9b:1::/48', kind: 'NAT64 local use' },
    { cidr: '100::/64', kind: 'discard' },
    { cidr: '2001::/23', kind: 'IETF protocol assignments (Teredo and others)' },
    { cidr: '2001:db8::/32', kind: 'documentation' },
    { cidr: '2002::/16', kind: '6to4' },
    { cidr: 'fc00::/7', kind: 'unique local (private; fd00:ec2::254 is instance metadata)' },
    { cidr: 'fe80::/10', kind: 'link-local' },
    { cidr: 'fec0::/10', kind: 'site-local (deprecated)' },
    { cidr: 'ff00::/8', kind: 'multicast' },
  ],
  /** A destination's name must resolve within this, or the request fails like an unreachable site. */
  resolveTimeoutMs: 5_000,
  /** Refused attempts kept per directory visit for the ledger's evidence (the rest are counted). */
  evidenceMaxAttempts: 10,
} as const satisfies {
  schemes: readonly string[];
  blockedIpv4: readonly BlockedRange[];
  blockedIpv6: readonly BlockedRange[];
  resolveTimeoutMs: number;
  evidenceMaxAttempts: number;
};

/** Names used for metrics and logs. */
export const SERVICE = {
  name: 'formfleet',
  metricsNamespace: 'Formfleet',
} as const;

/** Physical queue names of a tier; `prefix` separates stages (and parallel tests) sharing one account. */
export function tierQueueNames(tier: PriorityTier, prefix = ''): { queue: string; dlq: string } {
  return { queue: `${prefix}${tier.queueName}.fifo`, dlq: `${prefix}${tier.queueName}-dlq.fifo` };
}

/** Physical names of the webhook delivery queue and its dead-letter queue (FIFO). */
export function webhookQueueNames(prefix = ''): { queue: string; dlq: string } {
  return { queue: `${prefix}formfleet-webhooks.fifo`, dlq: `${prefix}formfleet-webhooks-dlq.fifo` };
}

/**
 * Lambda sizing per function kind (a manifest entry may override timeout or memory). Memory buys CPU: the
 * API gets 1 GB so a cold start and a Postgres round trip stay fast; the worker gets WORKER.memoryMb for
 * Chromium.
 */
/**
 * Probes of a directory's form outside a job (issue 17): a dry run (the definition up to, never including,
 * the submit) and discovery (a draft definition from the page). The API answers them within API Gateway's
 * 29 s, so a probe's own budget is well inside it: the site's politeness wait, then the form.
 */
export const PROBES = {
  /** One step's longest wait (the worker's is 15 s: a probe answers a person waiting on an HTTP request). */
  stepTimeoutMs: 8_000,
  /** A whole dry run's longest time on the site, retries included. */
  directoryTimeoutMs: 18_000,
  /**
   * Longest wait for a site another visitor (a job, a recheck) holds; after it the API answers 409
   * directory_busy with Retry-After. 4 s: with the form's budget it stays under 29 s.
   */
  siteWaitMaxMs: 4_000,
  /** Another go after a transient failure (site down, a timeout), as a job would take. */
  transientRetries: 1,
  retryDelayMs: 500,
  /** Discovery: how long a page may take to draw its form (script-rendered forms) before it has none. */
  formWaitMs: 4_000,
  /** Discovery: most pages of a multi-page form followed. */
  maxPages: 5,
  /** Most screenshots one probe keeps (discovery takes one per page of a multi-page form). */
  screenshotsPerProbe: 5,
  /** How long a probe screenshot's presigned URL works. */
  presignedUrlSeconds: 60 * 60,
  /** Lambda timeout of the probes API function: API Gateway's. */
  timeoutSeconds: 29,
} as const;

export const FUNCTION_DEFAULTS = {
  /** 29 s: API Gateway REST gives up at 29 s, so a longer Lambda would only run on for nobody. */
  api: { timeoutSeconds: 29, memoryMb: 1024 },
  worker: { timeoutSeconds: WORKER.timeoutSeconds, memoryMb: WORKER.memoryMb },
  scheduled: { timeoutSeconds: 60, memoryMb: 512 },
  subscriber: { timeoutSeconds: 30, memoryMb: 256 },
  /** Inbound mail (SES): a link visit in Chromium, so the worker's memory. */
  mail: { timeoutSeconds: MAIL.timeoutSeconds, memoryMb: WORKER.memoryMb },
  /** SQS consumers other than the worker (webhook delivery): room for many attempts per invocation. */
  consumer: { timeoutSeconds: WEBHOOKS.deliveryTimeoutSeconds, memoryMb: 256 },
  /** Migrations on deploy: long enough for a large index build, short of the deploy timing out. */
  trigger: { timeoutSeconds: 300, memoryMb: 512 },
} as const;

/**
 * Postgres connections. Every function reaches Postgres through a small pool per Lambda container (a
 * container serves one invocation at a time), so the database sees at most functions x concurrency x pool
 * connections; docs/infrastructure.md works the budget out for the default stage.
 */
export const DATABASE = {
  /**
   * Pool size per Lambda container, by function kind (CDK sets DATABASE_POOL_MAX from it). API: 1, since an
   * API request's queries are short and the API's concurrency is the largest and least bounded multiplier
   * (parallel reads of one request wait their turn, milliseconds). Worker: 2, so the heartbeat and the site
   * lease renewal do not queue behind the job's own writes. Scheduled (recovery): 2, as many as a run
   * overlaps. Trigger (migrate): 1 session connection. Subscriber (Slack notifier): none. Mail (mail-inbound):
   * 2, its writes and the site lease's renewal. Consumer (webhook delivery): 1, since one invocation sends its
   * endpoint's deliveries one after another.
   */
  poolMax: { api: 1, worker: 2, scheduled: 2, subscriber: 0, trigger: 1, mail: 2, consumer: 1 },
  /** A connection (TCP, TLS, authentication) not made within this fails: a cold start never hangs. */
  connectTimeoutMs: 5_000,
  /**
   * Statement timeout of every request-path transaction (SET LOCAL, so it holds behind a transaction
   * pooler; it is not sent as a startup parameter, which PgBouncer refuses and RDS Proxy pins on). Single
   * statements outside a transaction run under the role's own default (see docs/infrastructure.md). 25 s:
   * under API Gateway's 29 s, so a request's transaction ends, and frees its row locks, before the caller
   * is told it timed out.
   */
  statementTimeoutMs: 25_000,
  /** Idle pooled connections close after this (when the container runs; a frozen one keeps them). */
  idleTimeoutMs: 30_000,
  /**
   * How long a migration run waits for another run's migration lock (a second deploy) before it fails,
   * inside the migrate trigger's timeout, so a lock left behind can never hang a deploy.
   */
  migrationLockWaitSeconds: 120,
} as const;

/** Async invocations (schedules, SNS subscribers): retries before the on-failure destination keeps the event. */
export const ASYNC_INVOKE = {
  /** The Slack notifier and other subscribers: Lambda's maximum, since Slack outages are usually short. */
  subscriberRetryAttempts: 2,
  /** Subscribers keep trying for an hour; an alert older than that goes to the on-failure queue. */
  subscriberMaxEventAgeSeconds: 60 * 60,
  /** Schedules never retry a run: the next tick does the same work with fresher data. */
  scheduledRetryAttempts: 0,
  /**
   * EventBridge's retries of a schedule's delivery: these repeat only an invocation Lambda refused (throttled,
   * or a service error), so the run never started and nothing runs twice. Within the tick (the event's
   * maximum age is the schedule's interval), so a retried run never overlaps the next tick's.
   */
  scheduleDeliveryRetryAttempts: 2,
  /**
   * mail-inbound (SES's Lambda action, invoked as an event): Lambda's maximum, so a verification mail that
   * came before its submission was recorded is tried again (about a minute, then two, later).
   */
  mailRetryAttempts: 2,
  /** A verification mail older than this is not tried again (its link may expire within a day). */
  mailMaxEventAgeSeconds: 6 * 60 * 60,
} as const;

/**
 * API Gateway usage-plan numbers derived from a RATE_LIMITS preset: one source for the usage plans CDK
 * creates and the local gateway's emulation of them. API Gateway throttles with a token bucket in requests
 * per second and counts quotas per DAY, WEEK or MONTH only, so: rate = OUTER_GUARD_FACTOR x perMinute / 60
 * (looser than the exact limiter, so a client over its allowance meets the API's 429 with RateLimit-*
 * headers, never the bucket's bare one); burst as given; the daily quota is the most the exact hourly limit
 * could ever allow in a day (perHour x 24, or perMinute x 1,440 without an hourly limit). The outer guards
 * therefore never refuse a request the API's own exact limiter would allow; they only cap a runaway key.
 */
export interface UsagePlanNumbers {
  readonly rateLimitPerSecond: number;
  readonly burstLimit: number;
  readonly quotaPerDay: number;
}

export function usagePlanFor(preset: RateLimitPreset): UsagePlanNumbers {
  return {
    rateLimitPerSecond: (preset.perMinute * OUTER_GUARD_FACTOR) / 60,
    burstLimit: preset.burst,
    quotaPerDay: preset.perHour === null ? preset.perMinute * 60 * 24 : preset.perHour * 24,
  };
}

/**
 * One usage plan per kind of API key: every RATE_LIMITS preset except the per-IP one for requests without
 * a key. A preset added to RATE_LIMITS gets its plan without further change.
 */
export const USAGE_PLANS: Readonly<Record<string, UsagePlanNumbers>> = Object.fromEntries(
  Object.entries(RATE_LIMITS)
    .filter(([name]) => name !== 'anonymousPerIp')
    .map(([name, preset]) => [name, usagePlanFor(preset)]),
);

/** API Gateway's and WAF's coarse guards in front of the API's exact limiter. */
export const API_EDGE = {
  /**
   * Stage throttle (every method, all callers together): 50 requests/s with a burst of 100 is 3x the
   * 1,000 requests/min the API must serve, and keeps Lambda and the Postgres connection budget bounded.
   */
  stageRateLimitPerSecond: 50,
  stageBurstLimit: 100,
  /**
   * WAF per-IP rule: no single address legitimately sends more than the most generous key allows (the
   * admin preset per minute); above that it is a flood, blocked before it costs a Lambda invocation.
   */
  wafPerIpRequests: RATE_LIMITS.admin.perMinute,
  /** WAF per-IP rule on the routes without a key (GET /health): the anonymous preset. */
  wafAnonymousPerIpRequests: RATE_LIMITS.anonymousPerIp.perMinute,
  /** WAF rate-based rules count over this window (WAF allows 60, 120, 300 or 600 s). */
  wafWindowSeconds: 60,
  /** GET /v1/directories responses are cached this long at the edge (directory data changes rarely). */
  directoriesCacheTtlSeconds: 60,
} as const;

/** Metric names the handlers emit and the dashboard and alarms read (namespace SERVICE.metricsNamespace). */
export const METRIC_NAMES = {
  /** Count 1 per worker heartbeat (every WORKER.heartbeatIntervalSeconds while a job runs), flushed at once. */
  workerHeartbeat: 'WorkerHeartbeat',
  /** Milliseconds from claim to the job's end, per job. */
  jobDuration: 'JobDuration',
  /** `Submission_<status>` counts one settled directory. */
  submissionPrefix: 'Submission_',
  /**
   * Count 1 per connection or navigation the worker's browser was refused (network guard): a directory page
   * that reaches for loopback, link-local, private addresses or a non-web scheme (docs/runbooks/blocked-destination.md).
   */
  browserRequestRefused: 'BrowserRequestRefused',
} as const;

/**
 * CloudWatch alarm thresholds. Each alarm is evaluated on one-minute periods; `…Minutes` is how many
 * consecutive minutes must breach before it fires.
 */
export const ALARMS = {
  periodSeconds: 60,
  /** A message in a DLQ is a job that failed maxReceiveCount times: a person must look, so any one fires. */
  dlqVisibleAbove: 0,
  dlqMinutes: 1,
  /** 100 waiting jobs is far more than even P1's concurrency drains in minutes: work is piling up. */
  queueDepthAbove: 100,
  /** Sustained for 5 min, so a burst being drained at full concurrency does not page anyone. */
  queueDepthMinutes: 5,
  /** A function failing one invocation in ten is broken, not unlucky. */
  errorRatePercentAbove: 10,
  errorRateMinutes: 5,
  /** Jobs waiting or in flight and not one worker heartbeat for 5 min: the workers are not running. */
  heartbeatMissingMinutes: 5,
  /** More than 1 % of API requests failing on our side for 5 min is a broken dependency, not a blip. */
  api5xxPercentAbove: 1,
  api5xxMinutes: 5,
  /**
   * Any error of a function no caller sees (worker crash or timeout, a failed scheduled run, a failed
   * notifier delivery, a failed migration) is worth a look: nobody else will report it.
   */
  backgroundErrorsAbove: 0,
  backgroundErrorsMinutes: 1,
  /** Any throttle means a function wanted to run and could not (functions without reserved concurrency). */
  throttlesAbove: 0,
  throttlesMinutes: 5,
  /** An alert that could not be delivered to Slack after every retry: the alerting path itself is broken. */
  undeliveredAlertsAbove: 0,
} as const;

/** The CloudWatch dashboard. */
export const DASHBOARD = {
  /** Graph resolution: one minute, the finest SQS and Lambda publish. */
  periodSeconds: 60,
  /** Default time range shown. */
  defaultRangeHours: 3,
} as const;

/**
 * Lambda concurrency: the limits a stage's `concurrency` (cdk.json) is validated against, and the account
 * rules the preflight (`npm run preflight`) checks before a deploy. The tiers' maximum concurrency defaults to
 * PRIORITY_TIERS; no function reserves concurrency unless its stage asks.
 */
export const CONCURRENCY = {
  /** An SQS event source mapping's ScalingConfig.MaximumConcurrency: Lambda accepts 2..1000. */
  mappingMin: 2,
  mappingMax: 1_000,
  /** Highest reserved concurrency a stage may ask for one function (Lambda's default account quota). */
  reservedMax: 1_000,
  /**
   * Lambda refuses a reservation that leaves the account less than this unreserved (its documented minimum,
   * or the whole quota when that is smaller: on an account with a quota of 10 every reservation fails).
   */
  unreservedMinimum: 100,
  /**
   * Concurrency the rest of formfleet needs while every worker tier runs at its maximum: the API at the
   * stage throttle (API_EDGE, 50 requests/s at about 200 ms each is 10), four schedules (one run each at a
   * time: every scheduled function's timeout fits its interval, recheck-listings' Chromium run included), the
   * Slack notifier, and the rest for bursts and cold starts. The preflight fails an account that cannot give
   * both.
   */
  othersMinimum: 20,
} as const;

/** Deploying: what the preflight expects of the target account. */
export const DEPLOY = {
  /** The quota code of Lambda's concurrent executions in Service Quotas (for the increase the preflight names). */
  lambdaConcurrencyQuotaCode: 'L-B99A9384',
  /** The concurrency to ask for when the account's quota is too small: Lambda's usual default. */
  lambdaConcurrencyToRequest: 1_000,
} as const;

/**
 * Client API keys made through the API (POST /v1/keys): the usage plans they may join (every plan but the
 * admin key's: admin rights come from ADMIN_API_KEY_IDS, never from a plan) and the one a key joins by default.
 */
export const CLIENT_KEYS = {
  plans: Object.keys(USAGE_PLANS).filter((name) => name !== 'admin'),
  defaultPlan: 'client',
  /** A key's name: letters, digits, dot, dash, underscore; 1 to 64, starting with a letter or digit. */
  namePattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$',
} as const;
