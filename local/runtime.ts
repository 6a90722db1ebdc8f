/**
 * The whole of formfleet on one machine: Postgres, moto (SQS, SNS, DynamoDB, S3), migrations, the fixture
 * directory sites and the demo seed, the local API gateway in front of the API handlers (and the dashboard),
 * SQS pollers feeding the worker handler as Lambda's event source mappings would (batch size, maxConcurrency
 * per tier, partial batch failures, visibility), the scheduler firing the manifest's scheduled functions, and
 * the alerts path (SNS → subscription queue → notifier → Slack sink). The handlers are the Lambda handlers,
 * built by the same `*DepsFromEnv` wiring from an environment that names local services.
 *
 * `npm start` (bin/local.ts) runs one; tests start their own, sharing one Postgres server and moto.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SNSClient } from '@aws-sdk/client-sns';
import { SQSClient } from '@aws-sdk/client-sqs';
import type { NotifierHandler } from '#functions/alerts/notifier';
import type { RecheckDeps } from '#functions/lifecycle/recheck';
import { CONSUMED_QUEUES, FUNCTIONS } from '#functions/manifest';
import { staleJobsDepsFromEnv } from '#functions/recovery/deps';
import type { DlqService } from '#functions/recovery/dlq';
import type { DlqCheckHandler } from '#functions/recovery/dlq-check';
import { makeStaleJobsHandler, type StaleJobsHandler } from '#functions/recovery/stale-jobs';
import type { Dispatcher } from '#functions/webhooks/dispatch';
import { generateLocalKey } from '#functions/webhooks/secrets';
import type { WorkerDeps } from '#functions/worker/handler';
import { defaultCapacity, type StageCapacity } from '#lib/stage-config';
import { LOCAL, MAIL, PRIORITY_TIERS, usagePlanFor } from '#policy';
import { awsClientConfig } from '#shared/aws';
import { createDatabase, type Database } from '#shared/db';
import { migrate } from '#shared/migrate';
import { recordsStoreFromEnv } from '#shared/object-store';
import { describeError, registerSecret } from '#shared/telemetry';
import { type LocalAlerts, startLocalAlerts } from './alerts.ts';
import { ADMIN_KEY_ID, type ApiKeyLookup, CLIENT_KEY_ID, generateKey, LocalKeyTable } from './api-keys.ts';
import { directoryHealthPanel } from './dashboard/panels/directory-health.ts';
import { DASHBOARD_PATH, dashboardRoutes } from './dashboard/routes.ts';
import { dashboardSnapshot } from './dashboard/snapshot.ts';
import { verifyingSite } from './fixtures/mail-sites.ts';
import {
  DEFAULT_VARIANTS,
  type FixtureSites,
  type FixtureVariant,
  type LatencyProfileName,
  startFixtureSites,
} from './fixtures/sites.ts';
import { type Gateway, startGateway } from './gateway.ts';
import { buildLocalHandlers } from './handlers.ts';
import type { MetricCounters } from './metrics-tap.ts';
import { type Scheduler, startScheduler } from './scheduler.ts';
import { type SeedReport, seedDemoData } from './seed.ts';
import { createIdempotencyTable } from './services/idempotency-table.ts';
import { motoEnv, startMoto } from './services/moto.ts';
import { startPostgres } from './services/postgres.ts';
import {
  createTierQueues,
  createWebhookQueue,
  type TierQueue,
  tierQueueEnv,
  type WebhookQueue,
} from './services/queues.ts';
import { type SmtpInbound, startSmtpInbound } from './services/smtp-inbound.ts';
import { type Poller, startPoller } from './sqs-poller.ts';
import { LOCAL_STAND_INS, type StartedStandIns, startStandIns } from './stand-ins.ts';

export interface LocalSystemOptions {
  /** Gateway port; 0 picks a free one. */
  port?: number;
  /** An existing Postgres (its database is migrated); otherwise a throwaway server is started. */
  databaseUrl?: string;
  /** Keep the throwaway server's data here across runs. */
  dataDir?: string;
  /** An already running moto server; otherwise one is started. */
  motoEndpoint?: string;
  /** Prefix for queue names, so several systems can share one moto server. */
  queuePrefix?: string;
  adminKey?: string;
  clientKey?: string;
  /** More client keys (value → key id), for tests of ownership. */
  extraClientKeys?: Record<string, string>;
  /** Where client keys made through the API are kept across restarts. @default in memory only */
  keyTableFile?: string;
  /**
   * Fixture directory sites to serve and register as directories (with the demo customers, local/seed.ts);
   * a function is given the SMTP stand-in, for sites that send mail (local/fixtures/mail-sites.ts).
   * @default every variant, and the directory that verifies by e-mail
   */
  fixtures?: readonly FixtureVariant[] | ((local: { smtp: SmtpInbound }) => readonly FixtureVariant[]);
  /**
   * How long the fixture sites take to answer, by profile (local/fixtures/latency.ts): 'real' answers as a
   * typical small-business site does. @default 'none'
   */
  fixtureLatency?: LatencyProfileName;
  /** Start the worker pollers (default true). */
  workers?: boolean;
  /**
   * The tiers' maximum concurrency (the pollers') and the worker's memory and K (WORKER_DIRECTORIES_IN_FLIGHT),
   * as a stage's cdk.json entry gives them to CDK (`npm start -- --stage <name>`). @default policy's
   */
  capacity?: StageCapacity;
  /** Variables layered over the handlers' environment (HEARTBEAT_INTERVAL_MS, CHROMIUM_PATH, ...). */
  env?: Record<string, string>;
  /** Queue visibility timeout override (tests that need quick redelivery). */
  visibilityTimeoutSeconds?: number;
  /**
   * Scheduled handlers (stale-jobs, dlq-check) fire every policy interval divided by `speedUp`; with
   * `timers: false` they run only through `scheduler.runNow` (tests). @default { speedUp: 1 }
   */
  schedules?: { speedUp?: number; timers?: boolean };
  /** Alert delivery: a real Slack webhook instead of the local sink; the delay before a failed delivery is retried. */
  alerts?: { slackWebhookUrl?: string; retryDelaySeconds?: number };
  /**
   * The key sealing webhook signing secrets (base64, 32 bytes), kept by npm start so its endpoints outlive a
   * restart. @default a new key per system
   */
  webhookKey?: string;
  log?: (line: string) => void;
}

export interface LocalSystem {
  /** The local API gateway. */
  readonly url: string;
  /** The live dashboard page on the gateway. */
  readonly dashboardUrl: string;
  readonly startedAt: string;
  readonly keys: { admin: string; client: string };
  /** Key id (as handlers see it) for each key value: the built-in keys and those made through the API. */
  readonly apiKeys: ApiKeyLookup;
  readonly databaseUrl: string;
  /** Where the local database keeps its data across runs (undefined for DATABASE_URL's or a throwaway one). */
  readonly databaseDir: string | undefined;
  readonly motoEndpoint: string;
  /** The tiers' concurrency and the worker's memory and K this system runs with. */
  readonly capacity: StageCapacity;
  /** The environment the handlers were built from. */
  readonly env: Readonly<Record<string, string>>;
  readonly db: Database;
  readonly sqs: SQSClient;
  readonly queues: readonly TierQueue[];
  readonly fixtures: FixtureSites;
  /** What the seed wrote (directories for the fixture sites, demo customers). */
  readonly seed: SeedReport;
  readonly worker: WorkerDeps;
  /** recheck-listings' ports (the worker's browser pool, politeness): tests build it with their own clock. */
  readonly recheck: RecheckDeps;
  /** The inbound mail domain's SMTP stand-in (SES receiving), delivering to mail-inbound. */
  readonly smtp: SmtpInbound;
  /** One per tier, in PRIORITY_TIERS order. */
  readonly pollers: readonly Poller[];
  /** Every metric the handlers recorded, as `<function>.<metric>` (the local stand-in for CloudWatch). */
  readonly metrics: MetricCounters;
  /** SNS topic → subscription queue → notifier → Slack sink (or a real webhook), with the on-failure queue. */
  readonly alerts: LocalAlerts;
  /** Fires the manifest's scheduled functions; `runNow('stale-jobs')` runs one on demand. */
  readonly scheduler: Scheduler;
  /** Webhooks: the delivery queue, the dispatcher (scheduled) and the delivery poller (its consumer). */
  readonly webhooks: { queue: WebhookQueue; dispatcher: Dispatcher; delivery: Poller };
  /** The local stand-ins' variables and dashboard panels (the webhook receiver, the PagerDuty sink). */
  readonly standIns: StartedStandIns;
  /** The recovery handlers and the DLQ service, as the scheduler and the admin API use them. */
  readonly recovery: {
    staleJobs: StaleJobsHandler;
    dlqCheck: DlqCheckHandler;
    notifier: NotifierHandler;
    dlq: DlqService;
  };
  stop(): Promise<void>;
}

export { ADMIN_KEY_ID, CLIENT_KEY_ID, generateKey };

/**
 * The stale-jobs run, at once, with no wait for a message to count as lost: every queued job's message went
 * with the previous moto, so the lost-message rule (its queue holds fewer messages than its jobs need)
 * re-sends them all now instead of after RECOVERY.queuedLostAfterSeconds; pending ones likewise.
 */
async function resendAfterRestart(env: Record<string, string>, db: Database, log: (line: string) => void) {
  const deps = await staleJobsDepsFromEnv(env, db);
  const run = makeStaleJobsHandler({
    ...deps,
    options: { ...deps.options, queuedLostAfterSeconds: 0, pendingGraceSeconds: 0 },
  });
  const report = await run();
  const resent = report.lostResent + report.resent;
  if (resent > 0)
    log(`re-sent ${resent} job(s) left waiting by an earlier run (their messages went with its queues)`);
}

export async function startLocalSystem(options: LocalSystemOptions = {}): Promise<LocalSystem> {
  const log = options.log ?? (() => {});
  const capacity = options.capacity ?? defaultCapacity();
  const startedAt = new Date().toISOString();
  const stops: Array<() => Promise<void>> = [];
  const stopAll = async () => {
    for (const stop of stops.reverse()) await stop().catch(() => {});
    stops.length = 0;
  };
  try {
    const postgres = await startPostgres({
      databaseUrl: options.databaseUrl,
      ...(options.dataDir ? { dataDir: options.dataDir } : {}),
      log,
    });
    stops.push(() => postgres.stop());
    const moto = await startMoto({
      ...(options.motoEndpoint ? { endpoint: options.motoEndpoint } : {}),
      log,
    });
    stops.push(() => moto.stop());

    const db = createDatabase({
      connectionString: postgres.url,
      max: 20,
      applicationName: 'formfleet-local',
    });
    stops.push(() => db.end());
    const client = await db.pool.connect();
    try {
      const report = await migrate(client, { log });
      log(`migrations: ${report.applied.length} applied, ${report.skipped.length} already applied`);
    } finally {
      client.release();
    }

    const awsEnv = motoEnv(moto.endpoint);
    const sqs = new SQSClient(awsClientConfig(awsEnv));
    stops.push(async () => sqs.destroy());
    const sns = new SNSClient(awsClientConfig(awsEnv));
    stops.push(async () => sns.destroy());
    const dynamo = new DynamoDBClient(awsClientConfig(awsEnv));
    stops.push(async () => dynamo.destroy());
    // One Powertools idempotency table, as the data stack declares it: the worker's duplicate-execution
    // records and the notifier's delivered alerts share it (keys are prefixed by function).
    const idempotencyTable = await createIdempotencyTable(
      dynamo,
      `${options.queuePrefix ?? 'local-'}formfleet-idempotency`,
    );
    const alerts = await startLocalAlerts({
      sqs,
      sns,
      idempotencyTable,
      prefix: options.queuePrefix ?? 'local-',
      ...options.alerts,
      // npm start shows each alert the local "Slack" receives.
      ...(options.log ? { onSlackMessage: (m) => log(`slack: ${m.text ?? '(blocks only)'}`) } : {}),
    });
    stops.push(() => alerts.stop());
    // The records bucket, the webhook receiver, the PagerDuty sink: each with the variables its handlers need.
    const standIns = await startStandIns(
      LOCAL_STAND_INS,
      { awsEnv, prefix: options.queuePrefix ?? 'local-', log },
      stops,
    );
    const webhookQueue = await createWebhookQueue(sqs, options.queuePrefix ?? 'local-');
    const queues = await createTierQueues(sqs, {
      prefix: options.queuePrefix ?? 'local-',
      ...(options.visibilityTimeoutSeconds
        ? { visibilityTimeoutSeconds: options.visibilityTimeoutSeconds }
        : {}),
    });

    // SES receiving's stand-in: SMTP on loopback for the inbound mail domain, storing mail in the records
    // bucket, then handing it to mail-inbound (built below with the other handlers).
    const mailObjects = recordsStoreFromEnv({ ...awsEnv, ...standIns.env });
    const smtp = await startSmtpInbound({ domain: LOCAL.inboundMailDomain, objects: mailObjects, log });
    stops.push(async () => {
      await smtp.stop();
      mailObjects.destroy();
    });
    // npm start's sites: every default variant and the directory that verifies by e-mail through it.
    const chosen = typeof options.fixtures === 'function' ? options.fixtures({ smtp }) : options.fixtures;
    const fixtures = await startFixtureSites(chosen ?? [...DEFAULT_VARIANTS, verifyingSite({ smtp })], {
      latency: options.fixtureLatency ?? 'none',
    });
    stops.push(() => fixtures.stop());
    const seed = await seedDemoData(db, fixtures);
    log(`seed: ${seed.directories} directories, ${seed.customersAdded} demo customer(s) added`);

    const keys = {
      admin: options.adminKey ?? generateKey('ffadmin'),
      client: options.clientKey ?? generateKey('ffclient'),
    };
    const builtIn = new Map<string, string>([
      [keys.admin, ADMIN_KEY_ID],
      [keys.client, CLIENT_KEY_ID],
      ...Object.entries(options.extraClientKeys ?? {}),
    ]);
    for (const key of builtIn.keys()) registerSecret(key);
    const apiKeys = await LocalKeyTable.open({
      builtIn,
      ...(options.keyTableFile ? { file: options.keyTableFile } : {}),
    });

    const env: Record<string, string> = {
      ...awsEnv,
      DATABASE_URL: postgres.url,
      ADMIN_API_KEY_IDS: ADMIN_KEY_ID,
      ...tierQueueEnv(queues),
      ...alerts.env,
      IDEMPOTENCY_TABLE: idempotencyTable,
      ...standIns.env,
      INBOUND_MAIL_DOMAIN: smtp.domain,
      // The SMTP stand-in retries a mail that came early on MAIL.earlyRetryMs (Lambda retries SES's twice).
      MAIL_MAX_TRIES: String(MAIL.earlyRetryMs.length + 1),
      // The fixture sites live on loopback, which the worker's browser may otherwise never reach.
      BROWSER_ALLOWED_ORIGINS: fixtures.origins().join(','),
      ...(process.env.CHROMIUM_PATH ? { CHROMIUM_PATH: process.env.CHROMIUM_PATH } : {}),
      // Webhooks: the delivery queue, the local sealing key, and loopback receivers (the sink, tests) allowed.
      WEBHOOK_QUEUE_URL: webhookQueue.url,
      WEBHOOK_LOCAL_KEY: options.webhookKey ?? generateLocalKey(),
      WEBHOOK_ALLOW_LOOPBACK: 'true',
      // K, as CDK sets it on the worker from the same stage entry (a test's env may still override it).
      WORKER_DIRECTORIES_IN_FLIGHT: String(capacity.worker.directoriesInFlight),
      ...options.env,
    };

    const handlers = await buildLocalHandlers(env, alerts.notifierEnv, db, apiKeys);
    stops.push(() => handlers.workerDeps.browser.close());
    // Aborted when the system stops (Ctrl-C, SIGTERM): see the pollers' and the scheduler's stops below.
    const shutdown = new AbortController();
    handlers.workerDeps.shutdown = shutdown.signal;
    handlers.recheckDeps.shutdown = shutdown.signal;
    handlers.directoryHealthDeps.shutdown = shutdown.signal;
    smtp.deliverTo(handlers.mailInbound);

    // The dashboard reads these once they exist (the gateway starts before the pollers and the scheduler).
    const pollers: Poller[] = [];
    let scheduler: Scheduler | undefined;
    const scheduledNames: string[] = [];
    const snapshot = () =>
      dashboardSnapshot({
        sql: db,
        queues: handlers.queueStats,
        // Every tier, with its poller's running invocations (none when started without workers).
        pollers: PRIORITY_TIERS.map((tier, i) => ({
          tier: tier.name,
          maxConcurrency: capacity.concurrency.tiers[tier.name],
          batchSize: tier.batchSize,
          inFlight: () => pollers[i]?.inFlight() ?? 0,
        })),
        counters: handlers.metrics,
        slack: alerts.sink
          ? { mode: 'local-sink', messages: () => alerts.sink?.messages ?? [] }
          : { mode: 'webhook', messages: () => [] },
        schedules: {
          names: scheduledNames,
          intervalMs: (name) => scheduler?.intervalMs(name) ?? Number.NaN,
          runs: (name) => scheduler?.runs(name) ?? 0,
        },
        startedAt,
        panels: [...standIns.panels, directoryHealthPanel(db)],
      });

    const gateway: Gateway = await startGateway({
      port: options.port ?? LOCAL.defaultPort,
      apiKeys,
      // API Gateway's usage plans, from the same policy numbers as the exact limiter (looser, by design).
      throttle: (keyId) => {
        const { adminKeyIds, limits } = handlers.apiLimits;
        return usagePlanFor(adminKeyIds.has(keyId) ? limits.rates.admin : limits.rates.client);
      },
      handlers: handlers.api,
      extra: await dashboardRoutes(snapshot, standIns.panels),
    });
    stops.push(() => gateway.stop());

    if (options.workers !== false) {
      for (const tier of PRIORITY_TIERS) {
        const queue = queues.find((q) => q.priority === tier.priority) as TierQueue;
        pollers.push(
          startPoller({
            sqs,
            queueUrl: queue.url,
            queueArn: queue.arn,
            handler: handlers.worker,
            batchSize: tier.batchSize,
            maxConcurrency: capacity.concurrency.tiers[tier.name],
            memoryMb: capacity.worker.memoryMb,
            functionName: `formfleet-local-worker-${tier.name.toLowerCase()}`,
          }),
        );
      }
      // Pollers stop before the browser and database they use. Graceful: the worker is told first, so a running
      // job starts no new directory; the one in flight gets the grace to finish, and the job continues in a
      // fresh message (what it leaves is 'prepared', or in doubt and looked up by the next run).
      stops.push(async () => {
        shutdown.abort();
        await Promise.all(pollers.map((p) => p.stop(LOCAL.pollerStopGraceMs)));
      });
    }

    const recovery = {
      staleJobs: handlers.staleJobs,
      dlqCheck: handlers.dlqCheck,
      notifier: handlers.notifier,
      dlq: handlers.dlq,
    };
    alerts.startNotifier(recovery.notifier);
    await alerts.subscribe('pagerduty-notifier', handlers.pagerDuty);
    // Webhook delivery, as its event source mapping: one wake per invocation, a bounded number at once.
    const delivery = startPoller({
      sqs,
      queueUrl: webhookQueue.url,
      queueArn: webhookQueue.arn,
      handler: handlers.webhookDelivery,
      ...CONSUMED_QUEUES.webhooks,
      functionName: 'formfleet-local-webhook-delivery',
    });
    stops.push(() => delivery.stop(LOCAL.pollerStopGraceMs));
    // A moto started here is empty: jobs an earlier run left queued or pending lost their messages with it.
    if (!(options.motoEndpoint ?? process.env.FORMFLEET_MOTO_ENDPOINT))
      await resendAfterRestart(env, db, log);
    // Every scheduled function in the manifest that has a local handler fires on its schedule.
    const scheduled: Record<string, (event: unknown) => Promise<unknown>> = {
      'stale-jobs': recovery.staleJobs,
      'dlq-check': recovery.dlqCheck,
      'promote-jobs': handlers.promoteJobs,
      'webhook-dispatch': handlers.webhookDispatch.run,
      'recheck-listings': handlers.recheckListings,
      'directory-health': handlers.directoryHealth,
      retention: handlers.retention,
    };
    const tasks = FUNCTIONS.flatMap((f) => {
      const run = scheduled[f.name];
      return f.kind === 'scheduled' && f.schedule && run
        ? [{ name: f.name, everySeconds: f.schedule.everySeconds, run }]
        : [];
    });
    scheduledNames.push(...tasks.map((t) => t.name));
    scheduler = startScheduler({
      tasks,
      speedUp: options.schedules?.speedUp ?? 1,
      timers: options.schedules?.timers ?? true,
      onRun: (run) => {
        if (run.error) log(`${run.name} failed: ${describeError(run.error).message}`);
      },
    });
    // The scheduler stops first: no run starts against a closing database or queue, and a recheck run in
    // progress starts no further lookup (its claimed rows are given back, due at once).
    const running = scheduler;
    stops.push(async () => {
      shutdown.abort();
      await running.stop();
    });

    return {
      url: gateway.url,
      dashboardUrl: `${gateway.url}${DASHBOARD_PATH}`,
      startedAt,
      keys,
      apiKeys,
      databaseUrl: postgres.url,
      databaseDir: postgres.dataDir,
      motoEndpoint: moto.endpoint,
      // As the worker runs it: an override of K (WORKER_DIRECTORIES_IN_FLIGHT) wins over the stage's.
      capacity: {
        ...capacity,
        worker: { ...capacity.worker, directoriesInFlight: handlers.workerDeps.options.directoriesInFlight },
      },
      env,
      db,
      sqs,
      queues,
      fixtures,
      seed,
      worker: handlers.workerDeps,
      recheck: handlers.recheckDeps,
      smtp,
      pollers,
      metrics: handlers.metrics,
      alerts,
      webhooks: { queue: webhookQueue, dispatcher: handlers.webhookDispatch, delivery },
      standIns,
      scheduler: running,
      recovery,
      stop: stopAll,
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}
