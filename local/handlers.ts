/**
 * Every Lambda handler of the manifest, built for the local runtime by the same `*DepsFromEnv` wiring the
 * Lambda entries use, from one environment that names local services, over one shared database pool. Each
 * function's metrics are counted under its manifest name (the local stand-in for CloudWatch, read by the
 * dashboard and the demo).
 */
import { notifierDepsFromEnv, pagerDutyNotifierDepsFromEnv } from '#functions/alerts/deps';
import { makeSlackNotifierHandler, type NotifierHandler } from '#functions/alerts/notifier';
import {
  makePagerDutyNotifierHandler,
  type PagerDutyNotifierHandler,
} from '#functions/alerts/pagerduty-notifier';
import { makeCustomersApi } from '#functions/api/customers';
import {
  customersApiDepsFromEnv,
  directoriesApiDepsFromEnv,
  dlqApiDepsFromEnv,
  healthApiDepsFromEnv,
  jobsApiDepsFromEnv,
  keysApiDepsFromEnv,
  probesApiDepsFromEnv,
  submissionsApiDepsFromEnv,
  webhooksApiDepsFromEnv,
} from '#functions/api/deps';
import { makeDirectoriesApi } from '#functions/api/directories';
import { makeDlqApi } from '#functions/api/dlq';
import { makeHealthApi } from '#functions/api/health';
import { type JobsApiDeps, makeJobsApi } from '#functions/api/jobs';
import { type ClientKeyStore, makeKeysApi } from '#functions/api/keys';
import { makeProbesApi } from '#functions/api/probes';
import type { QueueStats } from '#functions/api/queue-stats';
import type { ApiHandler } from '#functions/api/router';
import type { ApiFunction } from '#functions/api/routes';
import { makeSubmissionsApi } from '#functions/api/submissions';
import { makeWebhooksApi } from '#functions/api/webhooks';
import {
  type HealthDeps,
  type HealthHandler,
  makeDirectoryHealthHandler,
} from '#functions/directories/health';
import { healthDepsFromEnv } from '#functions/directories/health-deps';
import { recheckDepsFromEnv } from '#functions/lifecycle/deps';
import {
  makeRecheckListingsHandler,
  type RecheckDeps,
  type RecheckHandler,
} from '#functions/lifecycle/recheck';
import { mailInboundDepsFromEnv } from '#functions/mail/deps';
import {
  type MailInboundDeps,
  type MailInboundHandler,
  makeMailInboundHandler,
} from '#functions/mail/inbound';
import { dlqCheckDepsFromEnv, staleJobsDepsFromEnv } from '#functions/recovery/deps';
import type { DlqService } from '#functions/recovery/dlq';
import { type DlqCheckHandler, makeDlqCheckHandler } from '#functions/recovery/dlq-check';
import { makeStaleJobsHandler, type StaleJobsHandler } from '#functions/recovery/stale-jobs';
import { retentionDepsFromEnv } from '#functions/retention/deps';
import { makeRetentionHandler } from '#functions/retention/retention';
import { makeDeliveryHandler } from '#functions/webhooks/delivery';
import { webhookDeliveryDepsFromEnv, webhookDispatchDepsFromEnv } from '#functions/webhooks/deps';
import { type Dispatcher, makeDispatcher } from '#functions/webhooks/dispatch';
import { workerDepsFromEnv } from '#functions/worker/deps';
import { makeWorkerHandler, type WorkerDeps, type WorkerHandler } from '#functions/worker/handler';
import { makePromoteJobsHandler } from '#functions/worker/promotion';
import { promoteJobsDepsFromEnv } from '#functions/worker/promotion-deps';
import type { Database } from '#shared/db';
import type { Metrics } from '#shared/telemetry';
import { MetricCounters, tapMetrics } from './metrics-tap.ts';

export interface LocalHandlers {
  /** The API handlers by route-table function, as the gateway calls them. */
  api: Readonly<Record<ApiFunction, ApiHandler>>;
  /** What the gateway's usage-plan buckets need: admin key ids and the rate presets. */
  apiLimits: Pick<JobsApiDeps, 'adminKeyIds' | 'limits'>;
  /** Queue depths, as GET /v1/health reads them (the dashboard reads the same). */
  queueStats: QueueStats;
  worker: WorkerHandler;
  workerDeps: WorkerDeps;
  staleJobs: StaleJobsHandler;
  dlqCheck: DlqCheckHandler;
  promoteJobs: (event: unknown) => Promise<unknown>;
  /** Listing rechecks, visiting through the worker's browser pool (one Chromium, as in one process). */
  recheckListings: RecheckHandler;
  recheckDeps: RecheckDeps;
  /** Daily directory health, dry-running through the worker's browser pool (as recheck-listings). */
  directoryHealth: HealthHandler;
  directoryHealthDeps: HealthDeps;
  /** Retention: archives rows past their period to the records bucket, then deletes them. */
  retention: () => Promise<unknown>;
  /** mail-inbound, as the SMTP stand-in invokes it (through the worker's browser pool, as recheck-listings). */
  mailInbound: MailInboundHandler;
  mailDeps: MailInboundDeps;
  notifier: NotifierHandler;
  /** Critical alerts to PagerDuty (the local sink), beside Slack. */
  pagerDuty: PagerDutyNotifierHandler;
  /** webhook-dispatch (scheduled) and webhook-delivery (the delivery queue's consumer). */
  webhookDispatch: Dispatcher;
  webhookDelivery: ReturnType<typeof makeDeliveryHandler>;
  dlq: DlqService;
  /** Every metric recorded, as `<function>.<metric>`. */
  metrics: MetricCounters;
}

/** Counts what a handler's metrics record, under its function name. */
function counted<D extends { metrics: Metrics }>(deps: D, fn: string, counters: MetricCounters): D {
  tapMetrics(deps.metrics, counters, `${fn}.`);
  return deps;
}

/**
 * @param env  the handlers' environment (queue URLs, topic, table, overrides)
 * @param notifierEnv  the notifier's own variables on top (SLACK_WEBHOOK_URL of the sink or a real webhook)
 * @param keyStore  the local gateway's key table, which the keys API manages (API Gateway's keys in AWS)
 */
export async function buildLocalHandlers(
  env: Readonly<Record<string, string>>,
  notifierEnv: Readonly<Record<string, string>>,
  db: Database,
  keyStore: ClientKeyStore,
): Promise<LocalHandlers> {
  const metrics = new MetricCounters();
  const [
    jobs,
    customers,
    health,
    directories,
    submissions,
    dlq,
    worker,
    stale,
    dlqCheck,
    notifier,
    promote,
    keys,
    webhooks,
    dispatch,
    delivery,
    pagerDuty,
  ] = await Promise.all([
    jobsApiDepsFromEnv(env, db),
    customersApiDepsFromEnv(env, db),
    healthApiDepsFromEnv(env, db),
    directoriesApiDepsFromEnv(env, db),
    submissionsApiDepsFromEnv(env, db),
    dlqApiDepsFromEnv(env, db),
    workerDepsFromEnv(env, db),
    staleJobsDepsFromEnv(env, db),
    dlqCheckDepsFromEnv(env, db),
    notifierDepsFromEnv({ ...env, ...notifierEnv }),
    promoteJobsDepsFromEnv(env, db),
    keysApiDepsFromEnv(env, db, keyStore),
    webhooksApiDepsFromEnv(env, db),
    webhookDispatchDepsFromEnv(env, db),
    webhookDeliveryDepsFromEnv(env, db),
    pagerDutyNotifierDepsFromEnv({ ...env, ...notifierEnv }),
  ]);
  // Built after the worker: it visits sites through the worker's browser pool.
  const recheck = await recheckDepsFromEnv(env, db, { browser: worker.browser });
  const retention = await retentionDepsFromEnv(env, db);
  const probes = await probesApiDepsFromEnv(env, db, { browser: worker.browser });
  const directoryHealth = await healthDepsFromEnv(env, db, { browser: worker.browser });
  const mail = await mailInboundDepsFromEnv(env, db, { browser: worker.browser });
  return {
    api: {
      jobs: makeJobsApi(counted(jobs, 'api-jobs', metrics)),
      customers: makeCustomersApi(counted(customers, 'api-customers', metrics)),
      health: makeHealthApi(counted(health, 'api-health', metrics)),
      directories: makeDirectoriesApi(counted(directories, 'api-directories', metrics)),
      probes: makeProbesApi(counted(probes, 'api-probes', metrics)),
      submissions: makeSubmissionsApi(counted(submissions, 'api-submissions', metrics)),
      dlq: makeDlqApi(counted(dlq, 'api-dlq', metrics)),
      keys: makeKeysApi(counted(keys, 'api-keys', metrics)),
      webhooks: makeWebhooksApi(counted(webhooks, 'api-webhooks', metrics)),
    },
    apiLimits: { adminKeyIds: jobs.adminKeyIds, limits: jobs.limits },
    queueStats: health.queues,
    worker: makeWorkerHandler(counted(worker, 'worker', metrics)),
    workerDeps: worker,
    staleJobs: makeStaleJobsHandler(counted(stale, 'stale-jobs', metrics)),
    dlqCheck: makeDlqCheckHandler(counted(dlqCheck, 'dlq-check', metrics)),
    promoteJobs: makePromoteJobsHandler(counted(promote, 'promote-jobs', metrics)),
    recheckListings: makeRecheckListingsHandler(counted(recheck, 'recheck-listings', metrics)),
    recheckDeps: recheck,
    directoryHealth: makeDirectoryHealthHandler(counted(directoryHealth, 'directory-health', metrics)),
    directoryHealthDeps: directoryHealth,
    retention: makeRetentionHandler(retention),
    mailInbound: makeMailInboundHandler(counted(mail, 'mail-inbound', metrics)),
    mailDeps: mail,
    notifier: makeSlackNotifierHandler(counted(notifier, 'slack-notifier', metrics)),
    pagerDuty: makePagerDutyNotifierHandler(counted(pagerDuty, 'pagerduty-notifier', metrics)),
    webhookDispatch: makeDispatcher(counted(dispatch, 'webhook-dispatch', metrics)),
    webhookDelivery: makeDeliveryHandler(counted(delivery, 'webhook-delivery', metrics)),
    dlq: dlq.dlq,
    metrics,
  };
}
