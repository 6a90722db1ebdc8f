/**
 * webhook-dispatch (scheduled every minute): keeps looking, for most of its minute, for endpoints with due
 * deliveries and puts a wake for each on the delivery queue (one per slot, at most one outstanding per slot),
 * so a first attempt starts about a second after the change it reports; retries become due by their schedule
 * and are woken the same way. A stage with no endpoint ends each run at once. Each run also prunes events
 * past WEBHOOKS.retentionDays and publishes what waits in the alert outbox (an endpoint disabled).
 */
import type { Context } from 'aws-lambda';
import { type AlertOutbox, type FlushReport, publishWaiting } from '#functions/alerts/alert-outbox';
import type { Alerts } from '#functions/alerts/alerts';
import { WEBHOOKS } from '#policy';
import { describeError, type Logger, type Metrics, MetricUnit } from '#shared/telemetry';
import type { PgWebhookStore } from './store.ts';
import type { WakeQueue } from './wake-queue.ts';

export interface DispatchOptions {
  /** How long one run keeps looking (0: one look). */
  windowMs: number;
  pollMs: number;
  slotsPerEndpoint: number;
  /** A wake not finished within this is sent again (its message or its drain was lost). */
  wakeLeaseSeconds: number;
  wakesPerPoll: number;
  retentionDays: number;
  pruneBatch: number;
}

export const DEFAULT_DISPATCH_OPTIONS: DispatchOptions = {
  windowMs: WEBHOOKS.dispatchWindowSeconds * 1000,
  pollMs: WEBHOOKS.dispatchPollMs,
  slotsPerEndpoint: WEBHOOKS.perEndpointConcurrency,
  // As long as SQS keeps a received wake from the next receiver (the delivery queue's visibility timeout).
  wakeLeaseSeconds: 6 * WEBHOOKS.deliveryTimeoutSeconds,
  wakesPerPoll: WEBHOOKS.wakesPerPoll,
  retentionDays: WEBHOOKS.retentionDays,
  pruneBatch: WEBHOOKS.pruneBatch,
};

export interface DispatchDeps {
  store: Pick<PgWebhookStore, 'anyEndpoint' | 'takeWakes' | 'dropWakes' | 'prune'>;
  queue: WakeQueue;
  outbox: Pick<AlertOutbox, 'flush'>;
  alerts: Alerts;
  logger: Logger;
  metrics: Metrics;
  options: DispatchOptions;
  /** The time due deliveries are judged by (a test moves it). @default the system clock */
  clock?: () => Date;
  sleep?: (ms: number) => Promise<void>;
}

export interface DispatchReport {
  looks: number;
  wakes: number;
  unsent: number;
  pruned: number;
  alerts: FlushReport;
}

export interface Dispatcher {
  /** One look: wakes every (endpoint, slot) with due work and none outstanding; resolves with how many. */
  look(): Promise<{ woken: number; unsent: number }>;
  /** The scheduled run: looks every pollMs for windowMs (less what the invocation has left). */
  run(event?: unknown, context?: Pick<Context, 'getRemainingTimeInMillis'>): Promise<DispatchReport>;
}

const realSleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export function makeDispatcher(deps: DispatchDeps): Dispatcher {
  const { logger, metrics, options } = deps;
  const clock = deps.clock ?? (() => new Date());
  const sleep = deps.sleep ?? realSleep;

  async function look() {
    const wakes = await deps.store.takeWakes(
      clock(),
      options.slotsPerEndpoint,
      options.wakeLeaseSeconds,
      options.wakesPerPoll,
    );
    if (wakes.length === 0) return { woken: 0, unsent: 0 };
    const unsent = await deps.queue.send(wakes);
    if (unsent.length > 0) {
      // Forgotten, so the next look sends them again.
      await deps.store.dropWakes(unsent);
      logger.warn('wakes not sent; the next look sends them', { unsent: unsent.length });
    }
    return { woken: wakes.length - unsent.length, unsent: unsent.length };
  }

  async function run(_event?: unknown, context?: Pick<Context, 'getRemainingTimeInMillis'>) {
    const report: DispatchReport = {
      looks: 0,
      wakes: 0,
      unsent: 0,
      pruned: 0,
      alerts: { published: 0, pending: 0 },
    };
    const started = Date.now();
    // Stop looking with a poll's time to spare before the invocation ends.
    const window = Math.min(
      options.windowMs,
      context ? context.getRemainingTimeInMillis() - 2 * options.pollMs : options.windowMs,
    );
    try {
      if (await deps.store.anyEndpoint()) {
        report.pruned = await deps.store.prune(clock(), options.retentionDays, options.pruneBatch);
        for (;;) {
          const { woken, unsent } = await look();
          report.looks += 1;
          report.wakes += woken;
          report.unsent += unsent;
          if (Date.now() - started + options.pollMs > window) break;
          await sleep(options.pollMs);
        }
      }
      report.alerts = await publishWaiting(deps.outbox, deps.alerts, logger);
      return report;
    } catch (err) {
      logger.error('webhook dispatch failed', { error: describeError(err) });
      throw err;
    } finally {
      metrics.addMetric('WebhookWakes', MetricUnit.Count, report.wakes);
      metrics.addMetric('WebhookEventsPruned', MetricUnit.Count, report.pruned);
      metrics.publishStoredMetrics();
    }
  }

  return { look, run };
}
