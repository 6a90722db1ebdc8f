/**
 * A small manifest and route table with what the real ones do not hold yet (scheduled functions, an SNS
 * subscriber, DLQ readers and redrivers, the idempotency table, a cached route), shaped like the functions
 * the other issues add. Entries point at existing files: Template tests do not bundle.
 */
import type { ApiFunction, RouteSpec } from '#functions/api/routes';
import type { FunctionSpec } from '#functions/manifest';
import { SCHEDULES } from '#policy';

const as = (name: string) => name as ApiFunction;

export const TEST_FUNCTIONS: readonly FunctionSpec[] = [
  {
    name: 'api-health',
    entry: 'functions/api-health.ts',
    description: 'health',
    kind: 'api',
    apiFunction: 'health',
    needs: { database: true, jobQueues: ['read'], deadLetterQueues: 'count' },
  },
  {
    name: 'api-directories',
    entry: 'functions/api-health.ts',
    description: 'directories',
    kind: 'api',
    apiFunction: as('directories'),
    needs: { database: true },
  },
  {
    name: 'api-dlq',
    entry: 'functions/api-health.ts',
    description: 'DLQ inspection and redrive',
    kind: 'api',
    apiFunction: as('dlq'),
    needs: { database: true, deadLetterQueues: 'redrive' },
  },
  {
    name: 'worker',
    entry: 'functions/worker.ts',
    description: 'worker',
    kind: 'worker',
    browser: true,
    needs: { database: true, jobQueues: ['consume', 'send'], idempotencyTable: true },
  },
  {
    name: 'stale-jobs',
    entry: 'functions/api-health.ts',
    description: 'stale jobs',
    kind: 'scheduled',
    schedule: SCHEDULES.staleJobs,
    needs: { database: true, jobQueues: ['send'], alertsTopic: true },
  },
  {
    name: 'dlq-check',
    entry: 'functions/api-health.ts',
    description: 'DLQ check',
    kind: 'scheduled',
    schedule: SCHEDULES.dlqCheck,
    needs: { database: true, deadLetterQueues: 'read', alertsTopic: true },
  },
  {
    name: 'slack-notifier',
    entry: 'functions/api-health.ts',
    description: 'Slack notifier',
    kind: 'subscriber',
    subscribesTo: 'alerts',
    needs: { slackWebhookSecret: true },
  },
];

export const TEST_ROUTES: readonly RouteSpec[] = [
  { method: 'GET', path: '/health', fn: 'health', auth: 'none' },
  { method: 'GET', path: '/v1/directories', fn: as('directories'), auth: 'client' },
  { method: 'PUT', path: '/v1/directories/{id}', fn: as('directories'), auth: 'admin' },
  { method: 'GET', path: '/v1/dlq', fn: as('dlq'), auth: 'admin' },
  { method: 'POST', path: '/v1/dlq/redrive', fn: as('dlq'), auth: 'admin' },
];

/** The test manifest's stage reserves one notifier, as a stage pacing Slack strictly would. */
export const TEST_CONCURRENCY = { reserved: { 'slack-notifier': 1 } };
