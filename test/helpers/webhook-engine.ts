/**
 * The webhook delivery path with a clock the test moves: a migrated database, the delivery queue on moto
 * (FIFO, as the data stack declares it), the real dispatcher and delivery handler built by their own
 * `*DepsFromEnv` wiring, and a poller feeding the handler as Lambda's event source mapping would (one wake
 * per invocation, bounded concurrency). Events come from real job events through the database triggers.
 */
import { randomUUID } from 'node:crypto';
import { SQSClient } from '@aws-sdk/client-sqs';
import { PgAlertOutbox } from '#functions/alerts/alert-outbox';
import { CONSUMED_QUEUES } from '#functions/manifest';
import { makeDeliveryHandler } from '#functions/webhooks/delivery';
import { webhookDeliveryDepsFromEnv, webhookDispatchDepsFromEnv } from '#functions/webhooks/deps';
import { type Dispatcher, makeDispatcher } from '#functions/webhooks/dispatch';
import { generateLocalKey, LocalSecretSealer } from '#functions/webhooks/secrets';
import { generateSigningSecret } from '#functions/webhooks/signature';
import { type EndpointScope, PgWebhookStore } from '#functions/webhooks/store';
import { motoEnv } from '#local/services/moto';
import { createWebhookQueue } from '#local/services/queues';
import { type Poller, startPoller } from '#local/sqs-poller';
import { WEBHOOKS } from '#policy';
import { awsClientConfig } from '#shared/aws';
import { eventually, motoEndpoint, type TestDatabase, testDatabase, uniqueName } from './services.ts';

export class TestClock {
  private offsetMs = 0;
  now(): Date {
    return new Date(Date.now() + this.offsetMs);
  }
  /** Moves the clock forward to `at` (never back). */
  advanceTo(at: Date): void {
    this.offsetMs = Math.max(this.offsetMs, at.getTime() - Date.now());
  }
}

export interface EngineOptions {
  timeoutMs?: number;
  slotsPerEndpoint?: number;
  maxConcurrency?: number;
}

export interface WebhookEngine {
  t: TestDatabase;
  store: PgWebhookStore;
  dispatcher: Dispatcher;
  poller: Poller;
  /** The time schedules are judged by: the real time, moved on by the test. */
  clock: TestClock;
  /** An endpoint of `owner` posting to `url`, with a real sealed secret (returned for the receiver). */
  endpoint(
    owner: string,
    url: string,
    events?: string[],
    scope?: EndpointScope,
  ): Promise<{ id: string; secret: string }>;
  /** `count` jobs of `owner`, each completed (a job.completed event each, through the trigger); their ids. */
  completeJobs(owner: string, count: number): Promise<string[]>;
  /** One dispatcher look, then waits until every wake it sent was drained. */
  round(timeoutMs?: number): Promise<void>;
  /** Deliveries by status. */
  statuses(): Promise<Record<string, number>>;
  stop(): Promise<void>;
}

export async function startWebhookEngine(label: string, options: EngineOptions = {}): Promise<WebhookEngine> {
  const t = await testDatabase(label);
  const sqs = new SQSClient(awsClientConfig(motoEnv(motoEndpoint())));
  const queue = await createWebhookQueue(sqs, `${uniqueName(label)}-`);
  const key = generateLocalKey();
  const env = {
    ...motoEnv(motoEndpoint()),
    DATABASE_URL: t.url,
    WEBHOOK_QUEUE_URL: queue.url,
    WEBHOOK_LOCAL_KEY: key,
    WEBHOOK_ALLOW_LOOPBACK: 'true',
    ALERTS_TOPIC_ARN: 'arn:aws:sns:us-east-1:000000000000:unused',
    ...(options.timeoutMs ? { WEBHOOK_TIMEOUT_MS: String(options.timeoutMs) } : {}),
  };
  const clock = new TestClock();
  const dispatchDeps = await webhookDispatchDepsFromEnv(env, t.db);
  const dispatcher = makeDispatcher({
    ...dispatchDeps,
    clock: () => clock.now(),
    options: {
      ...dispatchDeps.options,
      windowMs: 0,
      slotsPerEndpoint: options.slotsPerEndpoint ?? WEBHOOKS.perEndpointConcurrency,
    },
  });
  const delivery = makeDeliveryHandler({
    ...(await webhookDeliveryDepsFromEnv(env, t.db)),
    clock: () => clock.now(),
  });
  const poller = startPoller({
    sqs,
    queueUrl: queue.url,
    queueArn: queue.arn,
    handler: delivery,
    ...CONSUMED_QUEUES.webhooks,
    ...(options.maxConcurrency ? { maxConcurrency: options.maxConcurrency } : {}),
    functionName: 'test-webhook-delivery',
  });
  const store = new PgWebhookStore(t.db, new PgAlertOutbox(t.db));
  const sealer = new LocalSecretSealer(Buffer.from(key, 'base64'));
  await t.db.query(
    `INSERT INTO directories (id, name, site, submission_url, category, tier, domain_authority, definition)
     VALUES ('alpha', 'alpha', 'http://127.0.0.1', 'http://127.0.0.1/add', 'general', 1, 50, '{}')`,
  );

  return {
    t,
    store,
    dispatcher,
    poller,
    clock,
    async endpoint(owner, url, events = ['job.completed'], scope = 'own') {
      const id = randomUUID();
      const secret = generateSigningSecret();
      await store.createEndpoint(
        {
          id,
          ownerKeyId: owner,
          scope,
          url,
          events,
          description: null,
          secretSealed: await sealer.seal(secret, id),
        },
        1_000,
      );
      return { id, secret };
    },
    async completeJobs(owner, count) {
      const { rows } = await t.db.query<{ id: string }>(
        `WITH c AS (
           INSERT INTO customers (owner_key_id, name, email) VALUES ($1, 'Burst Co', 'burst@co.test') RETURNING id
         ), j AS (
           INSERT INTO jobs (customer_id, owner_key_id, priority, requested_priority, status, finished_at)
           SELECT c.id, $1, 2, 2, 'completed', now() FROM c, generate_series(1, $2)
           RETURNING id
         ), e AS (
           INSERT INTO job_events (job_id, type, detail) SELECT id, 'completed', '{}'::jsonb FROM j
         )
         SELECT id FROM j`,
        [owner, count],
      );
      return rows.map((r) => r.id);
    },
    async round(timeoutMs = 30_000) {
      await dispatcher.look();
      await eventually(
        'the wakes drained',
        async () => {
          const { rows } = await t.db.query('SELECT 1 FROM webhook_wakes LIMIT 1');
          return rows.length === 0 && poller.inFlight() === 0 ? true : undefined;
        },
        { timeoutMs, intervalMs: 50 },
      );
    },
    async statuses() {
      const { rows } = await t.db.query<{ status: string; n: number }>(
        'SELECT status, count(*)::int AS n FROM webhook_deliveries GROUP BY status',
      );
      return Object.fromEntries(rows.map((r) => [r.status, r.n]));
    },
    async stop() {
      await poller.stop(5_000);
      sqs.destroy();
      await t.close();
    },
  };
}
