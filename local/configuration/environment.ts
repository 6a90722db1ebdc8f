/**
 * Every environment variable formfleet reads, with who reads it and what it means: the source of
 * docs/configuration.md (`npm run docs:config`). A test builds every handler from a recording environment
 * and fails if a handler reads a variable missing here, or if an override listed here is read by nobody.
 * `npm start` passes the overrides through to the handlers it runs, so a limit can be tried locally first.
 */

export type EnvGroup = 'local' | 'handler' | 'override';

export interface EnvVar {
  /** The name; `QUEUE_URL_P1..P3` style for a family (each member is listed in `names`). */
  name: string;
  names?: readonly string[];
  group: EnvGroup;
  /** Who reads it: commands (npm start, demo, ops, tests) or functions of the manifest. */
  usedBy: string;
  meaning: string;
  /** For overrides: the policy value it replaces (a dotted path into functions/shared/policy.ts). */
  policy?: string;
  /** For overrides: the unit of the variable when it differs from the policy's (policy seconds, variable ms). */
  scale?: { factor: number; unit: string };
}

const tiers = (prefix: string) => ['P1', 'P2', 'P3'].map((t) => `${prefix}${t}`);

export const ENVIRONMENT: readonly EnvVar[] = [
  // What a person sets to run formfleet locally.
  {
    name: 'PORT',
    group: 'local',
    usedBy: 'npm start',
    meaning: 'local API gateway port (default `LOCAL.defaultPort`, 3000; `0` picks a free port)',
  },
  {
    name: 'FORMFLEET_ADMIN_KEY',
    group: 'local',
    usedBy: 'npm start, npm run ops, npm run demo',
    meaning:
      "npm start: the admin API key value (generated and printed when unset). ops and demo: the admin key to call the API with (default: the running npm start's)",
  },
  {
    name: 'FORMFLEET_CLIENT_KEY',
    group: 'local',
    usedBy: 'npm start',
    meaning: 'the client API key value (generated and printed when unset)',
  },
  {
    name: 'FORMFLEET_API_URL',
    group: 'local',
    usedBy: 'npm run ops, npm run demo',
    meaning:
      'the API to talk to: a deployed stage (`https://<id>.execute-api.<region>.amazonaws.com/<stage>`) or a local gateway (default: the running npm start, from its runtime file)',
  },
  {
    name: 'FORMFLEET_STATE_DIR',
    group: 'local',
    usedBy: 'npm start, npm run ops, npm run demo',
    meaning:
      'where npm start keeps its Postgres cluster (`pg/`) and `runtime.json` (URL, keys, pid) for demo and ops (default `.formfleet/`)',
  },
  {
    name: 'FORMFLEET_FIXTURE_LATENCY',
    group: 'local',
    usedBy: 'npm start',
    meaning:
      "how long the local fixture sites take to answer, by profile (local/fixtures/latency.ts): `none` (default) or `real` (a typical small-business site's round trip and server time on each page load and form post, from CrUX field data)",
  },
  {
    name: 'DATABASE_URL',
    group: 'local',
    usedBy: 'npm start, npm run demo, npm test, npm run db:migrate; handlers locally',
    meaning:
      'a Postgres connection string to use; when unset, npm start runs a cluster under the state directory and the tests a throwaway one (PGlite where no PostgreSQL binaries exist)',
  },
  {
    name: 'DATABASE_DIRECT_URL',
    group: 'local',
    usedBy: 'migrate locally',
    meaning:
      'the direct (session) connection migrations use when DATABASE_URL names a transaction pooler (default: DATABASE_URL)',
  },
  {
    name: 'DATABASE_CA_FILE',
    group: 'local',
    usedBy: 'every function with the database need, locally; the database check',
    meaning:
      "a PEM file with the CA(s) that sign the Postgres server's certificate (Supabase's root, a private CA, AWS's RDS bundle outside Lambda), trusted instead of Node's defaults; in AWS the stage's databaseCaSecretArn",
  },
  {
    name: 'FORMFLEET_TEST_POOLER',
    group: 'local',
    usedBy: 'npm test',
    meaning:
      "`pgbouncer`: every test database is reached through a PgBouncer in transaction pooling (Debian's `pgbouncer`), as the request path is behind Supabase's transaction port; unset: directly",
  },
  {
    name: 'PGBOUNCER_PATH',
    group: 'local',
    usedBy: 'npm test',
    meaning: 'the pgbouncer binary for FORMFLEET_TEST_POOLER (default `/usr/sbin/pgbouncer`)',
  },
  {
    name: 'SLACK_WEBHOOK_URL',
    group: 'local',
    usedBy: 'npm start; slack-notifier locally',
    meaning:
      'a real Slack incoming webhook for alerts; unset, npm start runs a local Slack sink (messages on the dashboard, in `npm run ops -- alerts` and printed)',
  },
  {
    name: 'LOG_LEVEL',
    group: 'local',
    usedBy: 'npm start, npm run demo',
    meaning:
      'handler log level locally (default `WARN`; `INFO` or `DEBUG` for more); handlers write Powertools JSON lines to stdout',
  },
  {
    name: 'CHROMIUM_PATH',
    group: 'local',
    usedBy: 'worker, recheck-listings, mail-inbound',
    meaning: "a Chromium binary to use instead of @sparticuz/chromium's",
  },
  {
    name: 'BROWSER_ALLOWED_ORIGINS',
    group: 'local',
    usedBy: 'worker, recheck-listings, mail-inbound (set by npm start and the tests)',
    meaning:
      "origins (`http://127.0.0.1:<port>`, comma-separated) the worker's browser may reach although they are loopback or private: the local fixture sites. Unset, nothing private is reachable; set in Lambda, the worker refuses to start (see BROWSER_NETWORK in policy)",
  },
  {
    name: 'LIFECYCLE_SPEED_UP',
    group: 'local',
    usedBy: 'worker, recheck-listings, mail-inbound (set by npm start --fast)',
    meaning:
      "divides the listing lifecycle's recheck ages and retry delays (`LIFECYCLE`), so listings go live in minutes: `LOCAL.fastLifecycleSpeedUp` with `--fast` (a day in 10 s). Refused in Lambda",
  },
  {
    name: 'PG_BIN_DIR',
    group: 'local',
    usedBy: 'npm start, npm test',
    meaning:
      'PostgreSQL server binaries for the local cluster (default: the newest `/usr/lib/postgresql/*/bin`)',
  },
  {
    name: 'FORMFLEET_MOTO_ENDPOINT',
    group: 'local',
    usedBy: 'npm start, npm test',
    meaning: 'use this running moto server instead of starting one',
  },
  {
    name: 'PYTHON',
    group: 'local',
    usedBy: 'npm start, npm test, npm run setup:python',
    meaning: 'the Python that creates `.venv` (default `python3`)',
  },

  // What CDK sets for each function in AWS (from its manifest needs), and the local runtime sets locally.
  {
    name: 'DATABASE_SECRET_ARN',
    group: 'handler',
    usedBy: 'every function with the database need',
    meaning:
      'Secrets Manager secret holding the Postgres connection string (a URL, JSON with `url`, or the RDS JSON shape); locally DATABASE_URL instead',
  },
  {
    name: 'DATABASE_DIRECT_SECRET_ARN',
    group: 'handler',
    usedBy: 'migrate',
    meaning:
      "Secrets Manager secret with the direct (session) connection string for migrations, when the stage's databaseDirectSecretArn names one (default: DATABASE_SECRET_ARN's)",
  },
  {
    name: 'DATABASE_CA_SECRET_ARN',
    group: 'handler',
    usedBy: 'every function with the database need',
    meaning:
      "Secrets Manager secret holding the CA certificate(s), PEM, that sign the Postgres server's certificate, when the stage's databaseCaSecretArn names one; trusted instead of Node's defaults (as libpq's sslrootcert)",
  },
  {
    name: 'DATABASE_POOL_MAX',
    group: 'handler',
    usedBy: 'every function with the database need',
    meaning:
      'Postgres connections per container, from policy `DATABASE.poolMax` by function kind (unset: the largest of them, 2)',
  },
  {
    name: 'NODE_EXTRA_CA_CERTS',
    group: 'handler',
    usedBy: 'every function with the database need (read by Node at start)',
    meaning:
      "set by CDK to `/var/runtime/ca-cert.pem`, Lambda's bundle with the Amazon RDS CAs, which Node.js 20+ runtimes load only when told to",
  },
  {
    name: 'QUEUE_URL_P1..P3',
    names: tiers('QUEUE_URL_'),
    group: 'handler',
    usedBy: 'api-jobs, api-health, api-dlq, worker, promote-jobs, stale-jobs',
    meaning: 'the tier FIFO queues',
  },
  {
    name: 'DLQ_URL_P1..P3',
    names: tiers('DLQ_URL_'),
    group: 'handler',
    usedBy: 'api-health, api-dlq, dlq-check',
    meaning: 'the tier dead-letter queues',
  },
  {
    name: 'ADMIN_API_KEY_IDS',
    group: 'handler',
    usedBy: 'api-*',
    meaning: 'comma-separated API Gateway key ids (never key values) with admin rights',
  },
  {
    name: 'USAGE_PLAN_IDS',
    group: 'handler',
    usedBy: 'api-keys',
    meaning:
      "the client usage plans client keys are made in, `name=id` comma-separated (the data stack's); locally the key table instead",
  },
  {
    name: 'API_KEY_NAME_PREFIX',
    group: 'handler',
    usedBy: 'api-keys',
    meaning: "prefix of client keys' names in API Gateway (`<stage prefix>formfleet-client-`)",
  },
  {
    name: 'IDEMPOTENCY_TABLE',
    group: 'handler',
    usedBy: 'worker, slack-notifier',
    meaning: 'the Powertools idempotency DynamoDB table (duplicate executions, delivered alerts)',
  },
  {
    name: 'RECORDS_BUCKET',
    group: 'handler',
    usedBy: 'worker, stale-jobs, api-jobs, api-submissions, mail-inbound',
    meaning:
      "the records bucket (S3; proof screenshots under `evidence/`, inbound mail under `mail/`), with each function's prefix grant; locally a bucket on moto",
  },
  {
    name: 'INBOUND_MAIL_DOMAIN',
    group: 'handler',
    usedBy: 'worker, mail-inbound',
    meaning:
      "the stage's inbound mail domain (stage option `inboundMailDomain`): the worker types `v-<alias>@` it for a definition with `emailMode: alias`, mail-inbound matches recipients on it. Unset on a stage without one (such a directory fails with that reason); locally `LOCAL.inboundMailDomain`, received by the SMTP stand-in",
  },
  {
    name: 'ALERTS_TOPIC_ARN',
    group: 'handler',
    usedBy: 'stale-jobs, dlq-check',
    meaning: 'the alerts SNS topic',
  },
  {
    name: 'SLACK_WEBHOOK_SECRET_ARN',
    group: 'handler',
    usedBy: 'slack-notifier',
    meaning:
      'Secrets Manager secret holding the Slack webhook URL (never logged); locally SLACK_WEBHOOK_URL instead',
  },
  {
    name: 'WEBHOOK_QUEUE_URL',
    group: 'handler',
    usedBy: 'webhook-dispatch',
    meaning:
      'the webhook delivery queue (SQS FIFO, one message group per endpoint slot) the dispatcher sends wakes to; locally a queue on moto',
  },
  {
    name: 'WEBHOOK_KMS_KEY_ID',
    group: 'handler',
    usedBy: 'api-webhooks (encrypt), webhook-delivery (decrypt)',
    meaning:
      "the KMS key sealing endpoints' signing secrets (data stack), used only with an `endpoint` encryption context",
  },
  {
    name: 'WEBHOOK_LOCAL_KEY',
    group: 'handler',
    usedBy: 'api-webhooks, webhook-delivery, locally only',
    meaning:
      'instead of WEBHOOK_KMS_KEY_ID, locally: 32 bytes, base64, sealing secrets with AES-256-GCM (npm start keeps it in `.formfleet/webhook-key`); refused in Lambda',
  },
  {
    name: 'WEBHOOK_ALLOW_LOOPBACK',
    group: 'handler',
    usedBy: 'api-webhooks, webhook-delivery, locally only',
    meaning:
      '`true` lets endpoint URLs be http and reach loopback (the local receiver, tests); refused in Lambda, where URLs must be https to public addresses',
  },
  {
    name: 'PAGERDUTY_ROUTING_KEY_SECRET_ARN',
    group: 'handler',
    usedBy: 'pagerduty-notifier',
    meaning:
      'Secrets Manager secret holding the PagerDuty Events API v2 routing key (the stage config `pagerDutyRoutingKeySecretArn`); locally PAGERDUTY_ROUTING_KEY instead',
  },
  {
    name: 'PAGERDUTY_ROUTING_KEY',
    group: 'handler',
    usedBy: 'pagerduty-notifier, locally',
    meaning: "the routing key itself (npm start sets its PagerDuty sink's)",
  },
  {
    name: 'PAGERDUTY_EVENTS_URL',
    group: 'handler',
    usedBy: 'pagerduty-notifier',
    meaning:
      'the Events API endpoint (default `PAGERDUTY.eventsUrl`; the EU service region, or the local PagerDuty sink)',
  },
  {
    name: 'RUNBOOK_BASE_URL',
    group: 'handler',
    usedBy: 'slack-notifier',
    meaning: "base URL that runbook paths in alerts are linked against (e.g. the repository's blob URL)",
  },
  {
    name: 'WORKER_ID',
    group: 'handler',
    usedBy: 'worker',
    meaning:
      "this worker's name in claims and the workers table (default: the log stream or host name, and the pid)",
  },
  {
    name: 'AWS_ENDPOINT_URL',
    group: 'handler',
    usedBy: 'every function',
    meaning:
      "the AWS SDK's standard endpoint override; the local runtime points it at moto (never set in AWS)",
  },
  {
    name: 'AWS_ENDPOINT_URL_S3',
    group: 'handler',
    usedBy: 'worker, stale-jobs, api-jobs, api-submissions',
    meaning:
      "the SDK's S3-only endpoint override, before AWS_ENDPOINT_URL (the S3 outage test puts a proxy there; never set in AWS)",
  },
  {
    name: 'AWS_REGION',
    names: ['AWS_REGION', 'AWS_DEFAULT_REGION'],
    group: 'handler',
    usedBy: 'every function',
    meaning: 'the region (Lambda sets it; locally `us-east-1`)',
  },
  {
    name: 'AWS_ACCESS_KEY_ID',
    names: ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY'],
    group: 'handler',
    usedBy: 'every function, locally',
    meaning: "moto's dummy credentials when AWS_ENDPOINT_URL is set; in AWS the function's role is used",
  },
  {
    name: 'MIGRATIONS_DIR',
    group: 'handler',
    usedBy: 'migrate',
    meaning:
      "where the `sql/` migrations are (default: `$LAMBDA_TASK_ROOT/sql` in Lambda, the repository's `sql/` locally)",
  },
  {
    name: 'LAMBDA_TASK_ROOT',
    group: 'handler',
    usedBy: 'migrate',
    meaning: 'set by Lambda: the bundle directory, which holds `sql/`',
  },
  {
    name: 'AWS_LAMBDA_FUNCTION_NAME',
    group: 'handler',
    usedBy: 'worker, recheck-listings, mail-inbound',
    meaning:
      'set by Lambda: the browser runs Chromium in single-process mode only there, and LIFECYCLE_SPEED_UP is refused there',
  },
  {
    name: 'AWS_LAMBDA_LOG_STREAM_NAME',
    group: 'handler',
    usedBy: 'worker, recheck-listings, mail-inbound',
    meaning:
      "set by Lambda: part of the worker's default WORKER_ID and of recheck-listings' and mail-inbound's site-lease holder",
  },

  // Tuning: each replaces one policy number for one function (tests shorten them; a stage may set them).
  ...(
    [
      ['RATE_LIMIT_CLIENT_PER_MINUTE', 'RATE_LIMITS.client.perMinute'],
      ['RATE_LIMIT_CLIENT_PER_HOUR', 'RATE_LIMITS.client.perHour'],
      ['RATE_LIMIT_ADMIN_PER_MINUTE', 'RATE_LIMITS.admin.perMinute'],
      ['RATE_LIMIT_ADMIN_PER_HOUR', 'RATE_LIMITS.admin.perHour'],
      ['RATE_LIMIT_ANONYMOUS_PER_MINUTE', 'RATE_LIMITS.anonymousPerIp.perMinute'],
    ] as const
  ).map(
    ([name, policy]): EnvVar => ({
      name,
      group: 'override',
      usedBy: 'api-*',
      policy,
      meaning:
        'the exact sliding-window limit the API enforces (the usage plans in front are set from the policy at deploy)',
    }),
  ),
  {
    name: 'MAX_JSON_BODY_BYTES',
    group: 'override',
    usedBy: 'api-*',
    policy: 'PAYLOAD_LIMITS.jsonBodyBytes',
    meaning:
      'largest JSON body, at most `PAYLOAD_LIMITS.jsonBodyCeilingBytes` (a larger value fails the cold start)',
  },
  {
    name: 'DATABASE_CONNECT_TIMEOUT_MS',
    group: 'override',
    usedBy: 'every function with the database need',
    policy: 'DATABASE.connectTimeoutMs',
    meaning: 'a Postgres connection (TCP, TLS, login) not made within this fails, at cold start or later',
  },
  {
    name: 'WEBHOOK_TIMEOUT_MS',
    group: 'override',
    usedBy: 'webhook-delivery',
    policy: 'WEBHOOKS.timeoutMs',
    meaning:
      'an attempt not answered within this has failed (and is retried); shorter than an attempt’s claim',
  },
  {
    name: 'WEBHOOK_DISPATCH_WINDOW_MS',
    group: 'override',
    usedBy: 'webhook-dispatch',
    policy: 'WEBHOOKS.dispatchWindowSeconds',
    scale: { factor: 1000, unit: 'ms' },
    meaning: 'how long each dispatcher run keeps looking for due deliveries (0: one look per run)',
  },
  {
    name: 'PAGERDUTY_TIMEOUT_MS',
    group: 'override',
    usedBy: 'pagerduty-notifier',
    policy: 'PAGERDUTY.timeoutMs',
    meaning: 'a call to the Events API slower than this is abandoned and the invocation retried',
  },
  {
    name: 'HEARTBEAT_INTERVAL_MS',
    group: 'override',
    usedBy: 'worker',
    policy: 'WORKER.heartbeatIntervalSeconds',
    scale: { factor: 1000, unit: 'ms' },
    meaning: 'heartbeat (progress write + visibility extension) period',
  },
  {
    name: 'VISIBILITY_TIMEOUT_SECONDS',
    group: 'override',
    usedBy: 'worker',
    policy: 'WORKER.visibilityTimeoutSeconds',
    meaning: 'visibility the worker extends a message to while it works',
  },
  {
    name: 'STEP_TIMEOUT_MS',
    group: 'override',
    usedBy: 'worker',
    policy: 'WORKER.stepTimeoutMs',
    meaning: 'budget of one form step',
  },
  {
    name: 'DIRECTORY_TIMEOUT_MS',
    group: 'override',
    usedBy: 'worker',
    policy: 'WORKER.directoryTimeoutMs',
    meaning: 'budget of one directory',
  },
  {
    name: 'BROWSER_RECYCLE_AFTER_PAGES',
    group: 'override',
    usedBy: 'worker, recheck-listings',
    policy: 'WORKER.browserRecycleAfterPages',
    meaning: 'relaunch Chromium after this many pages',
  },
  {
    name: 'TRANSIENT_RETRIES',
    group: 'override',
    usedBy: 'worker',
    policy: 'WORKER.transientRetries',
    meaning: 'retries of a directory after a transient failure, within one run',
  },
  {
    name: 'RETRY_BASE_DELAY_MS',
    group: 'override',
    usedBy: 'worker',
    policy: 'WORKER.retryBaseDelayMs',
    meaning: 'first backoff between transient retries',
  },
  {
    name: 'RETRY_MAX_DELAY_MS',
    group: 'override',
    usedBy: 'worker',
    policy: 'WORKER.retryMaxDelayMs',
    meaning: 'longest backoff between transient retries',
  },
  {
    name: 'SITE_MIN_GAP_MS',
    group: 'override',
    usedBy: 'worker, recheck-listings',
    policy: 'WORKER.siteMinGapMs',
    meaning: 'politeness: least time between two submissions to one site, across workers',
  },
  {
    name: 'SITE_LEASE_MS',
    group: 'override',
    usedBy: 'worker, recheck-listings',
    policy: 'WORKER.siteLeaseSeconds',
    scale: { factor: 1000, unit: 'ms' },
    meaning:
      'politeness lease on a site, renewed every third of it during a visit: the longest a crashed worker blocks its site',
  },
  {
    name: 'SITE_WAIT_MAX_MS',
    group: 'override',
    usedBy: 'worker',
    policy: 'WORKER.siteWaitMaxMs',
    meaning: 'longest wait for a busy site before the message goes back to the queue',
  },
  {
    name: 'RECORD_RETRY_BASE_SECONDS',
    group: 'override',
    usedBy: 'worker',
    policy: 'WORKER.recordRetryBaseSeconds',
    meaning: 'backoff of a failed job message (doubling per receive)',
  },
  {
    name: 'RECORD_RETRY_MAX_SECONDS',
    group: 'override',
    usedBy: 'worker',
    policy: 'WORKER.recordRetryMaxSeconds',
    meaning: 'longest backoff of a failed job message',
  },
  {
    name: 'MAIL_MAX_BYTES',
    group: 'override',
    usedBy: 'mail-inbound',
    policy: 'MAIL.maxBytes',
    meaning: "the largest mail mail-inbound reads; a bigger one is refused ('too_large') unread",
  },
  {
    name: 'MAIL_MAX_TRIES',
    group: 'override',
    usedBy: 'mail-inbound (set by npm start)',
    policy: 'ASYNC_INVOKE.mailRetryAttempts',
    meaning:
      "tries of a mail that came before its submission was recorded, before it is recorded 'early' (Lambda's first try and its retries; locally the SMTP stand-in's, `MAIL.earlyRetryMs` and one)",
  },
  {
    name: 'VERIFY_TIMEOUT_MS',
    group: 'override',
    usedBy: 'worker, recheck-listings',
    policy: 'WORKER.verifyTimeoutMs',
    meaning: 'budget of one listing lookup (an interrupted submission, a recheck) on the listing page',
  },
  {
    name: 'WORKER_DIRECTORIES_IN_FLIGHT',
    group: 'override',
    usedBy: 'worker',
    policy: 'WORKER.directoriesInFlight',
    meaning:
      "K: how many of a job's directories one worker runs at once, each in its own browser context (1 to WORKER.directoriesInFlightMax). CDK sets it from the stage's cdk.json `worker.directoriesInFlight`, npm start from `--stage` (docs/runbooks/scale-workers.md)",
  },
  {
    name: 'INVOCATION_MARGIN_MS',
    group: 'override',
    usedBy: 'worker',
    policy: 'WORKER.invocationMarginMs',
    meaning: 'no directory starts with less invocation time left than its budget plus this',
  },
  {
    name: 'EVIDENCE_UPLOAD_TIMEOUT_MS',
    group: 'override',
    usedBy: 'worker, stale-jobs',
    policy: 'EVIDENCE.uploadTimeoutMs',
    meaning: 'longest one screenshot upload may take before its bytes are kept for a later try',
  },
  {
    name: 'EVIDENCE_UPLOAD_WAIT_MS',
    group: 'override',
    usedBy: 'worker',
    policy: 'EVIDENCE.uploadWaitAtJobEndMs',
    meaning: "longest a job's run waits at its end for its screenshot uploads",
  },
  {
    name: 'EVIDENCE_PENDING_MAX_BYTES',
    group: 'override',
    usedBy: 'worker',
    policy: 'EVIDENCE.pendingMaxBytes',
    meaning:
      'the most screenshot bytes Postgres keeps waiting for S3; past it a failed upload is recorded lost',
  },
  {
    name: 'EVIDENCE_ORPHAN_AFTER_SECONDS',
    group: 'override',
    usedBy: 'stale-jobs',
    policy: 'EVIDENCE.orphanAfterSeconds',
    meaning:
      'a screenshot pending this long with no bytes kept lost its worker: looked for in S3, else recorded lost',
  },
  {
    name: 'STALE_AFTER_SECONDS',
    group: 'override',
    usedBy: 'stale-jobs',
    policy: 'RECOVERY.staleAfterSeconds',
    meaning: 'a claimed job silent this long is requeued',
  },
  {
    name: 'REQUEUE_CAP',
    group: 'override',
    usedBy: 'stale-jobs',
    policy: 'RECOVERY.requeueCap',
    meaning: 'requeues before a silent job is failed instead',
  },
  {
    name: 'STUCK_STEP_AFTER_SECONDS',
    group: 'override',
    usedBy: 'stale-jobs',
    policy: 'RECOVERY.stuckStepAfterSeconds',
    meaning: 'heartbeats arriving but the step unchanged this long: a stuck_step alert',
  },
  {
    name: 'PENDING_GRACE_SECONDS',
    group: 'override',
    usedBy: 'stale-jobs',
    policy: 'RECOVERY.pendingGraceSeconds',
    meaning: 'a job left pending this long has its message re-sent',
  },
  {
    name: 'QUEUED_LOST_AFTER_SECONDS',
    group: 'override',
    usedBy: 'stale-jobs',
    policy: 'RECOVERY.queuedLostAfterSeconds',
    meaning:
      'a job queued and unchanged this long, in a tier whose queue holds too few messages, has lost its message and is re-sent',
  },
  {
    name: 'STALE_BATCH_SIZE',
    group: 'override',
    usedBy: 'stale-jobs',
    policy: 'RECOVERY.staleBatchSize',
    meaning: 'stale jobs requeued per statement',
  },
  {
    name: 'DLQ_REMINDER_AFTER_SECONDS',
    group: 'override',
    usedBy: 'dlq-check',
    policy: 'RECOVERY.dlqReminderAfterSeconds',
    meaning: 'remind this often while a DLQ stays non-empty',
  },
  {
    name: 'DLQ_PEEK_MAX_PER_TIER',
    group: 'override',
    usedBy: 'dlq-check',
    policy: 'RECOVERY.dlqPeekMaxPerTier',
    meaning: 'messages listed per DLQ in an alert',
  },
  {
    name: 'DLQ_RECEIVE_WAIT_SECONDS',
    group: 'override',
    usedBy: 'dlq-check, api-dlq',
    meaning: 'long-poll wait of a DLQ receive that may find it empty (default 1)',
  },
  {
    name: 'SLACK_TIMEOUT_MS',
    group: 'override',
    usedBy: 'slack-notifier',
    policy: 'ALERTS.slackTimeoutMs',
    meaning: 'a webhook call slower than this is abandoned and retried',
  },
  {
    name: 'SLACK_MIN_INTERVAL_MS',
    group: 'override',
    usedBy: 'slack-notifier',
    policy: 'ALERTS.minIntervalMs',
    meaning: 'pacing between Slack messages',
  },
  {
    name: 'SLACK_RETRY_BASE_MS',
    group: 'override',
    usedBy: 'slack-notifier',
    policy: 'ALERTS.slackRetryBaseMs',
    meaning: 'first inline retry backoff',
  },
  {
    name: 'SLACK_INLINE_RETRIES',
    group: 'override',
    usedBy: 'slack-notifier',
    policy: 'ALERTS.slackInlineRetries',
    meaning: 'retries inside one invocation for 429, 5xx and timeouts',
  },
];

/** Every single variable name the catalog documents. */
export function documentedNames(group?: EnvGroup): Set<string> {
  return new Set(ENVIRONMENT.filter((v) => !group || v.group === group).flatMap((v) => v.names ?? [v.name]));
}

/** The tuning variables set in `env`, for npm start to hand to the handlers it runs. */
export function overridesFrom(env: Readonly<Record<string, string | undefined>>): Record<string, string> {
  return Object.fromEntries(
    [...documentedNames('override')].flatMap((name) => (env[name] ? [[name, env[name] as string]] : [])),
  );
}
