/**
 * webhook-delivery (SQS, the delivery queue): each wake names an endpoint and a slot; the invocation sends that
 * endpoint's due deliveries one after another (claimed in Postgres, so two slots never take the same one):
 * render the event once, check the URL and pin its address, sign, post with a timeout, record the outcome.
 * A 2xx is delivered. Anything else is retried on the schedule (policy WEBHOOKS), and the endpoint is left
 * alone for a while, so the drain stops at the first failure; a 410 disables the endpoint at once, and one
 * failing for WEBHOOKS.disableAfterFailingDays is disabled with an alert. The drain also stops when its
 * invocation has less than an attempt's time left, or after WEBHOOKS.deliveriesPerInvocation; the dispatcher
 * wakes the endpoint again for the rest.
 */
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { WEBHOOKS } from '#policy';
import { describeError, type Logger, type Metrics, MetricUnit } from '#shared/telemetry';
import { admitUrl, type UrlPolicy, urlFormProblem } from './destination.ts';
import { renderEvent } from './render.ts';
import { afterFailure, DEFAULT_RETRY_POLICY, type RetryPolicy } from './retry.ts';
import type { SecretCache } from './secrets.ts';
import { type AttemptResult, delivered, type PostOptions, postSigned } from './sender.ts';
import { signatureHeaders } from './signature.ts';
import type { ClaimedDelivery, PgWebhookStore } from './store.ts';
import { parseWake, type Wake } from './wake-queue.ts';

export interface DeliveryOptions {
  timeoutMs: number;
  perInvocation: number;
  leaseSeconds: number;
  retry: RetryPolicy;
}

export const DEFAULT_DELIVERY_OPTIONS: DeliveryOptions = {
  timeoutMs: WEBHOOKS.timeoutMs,
  perInvocation: WEBHOOKS.deliveriesPerInvocation,
  leaseSeconds: WEBHOOKS.attemptLeaseSeconds,
  retry: DEFAULT_RETRY_POLICY,
};

export interface DeliveryDeps {
  store: Pick<PgWebhookStore, 'claimNext' | 'keepBody' | 'recordDelivered' | 'recordFailed' | 'finishWake'>;
  secrets: Pick<SecretCache, 'open'>;
  urls: UrlPolicy;
  logger: Logger;
  metrics: Metrics;
  options: DeliveryOptions;
  /** Posts one attempt. @default postSigned (node:http(s), pinned address) */
  post?: (options: PostOptions) => Promise<AttemptResult>;
  /** The time schedules are judged by (a test moves it); signatures carry the real time. @default now */
  clock?: () => Date;
  random?: () => number;
}

export type DeliveryHandler = (event: SQSEvent, context: Context) => Promise<SQSBatchResponse>;

/** What one drain did. */
export interface DrainReport {
  delivered: number;
  failed: number;
  disabled: number;
  /** Why it stopped. */
  stopped: 'no due delivery' | 'a failure' | 'the invocation limit' | 'time';
}

export function makeDeliveryHandler(deps: DeliveryDeps): DeliveryHandler & {
  drain(wake: Wake, remainingMs?: () => number): Promise<DrainReport>;
} {
  const { logger, metrics, options } = deps;
  const clock = deps.clock ?? (() => new Date());
  const post = deps.post ?? postSigned;

  async function send(claim: ClaimedDelivery, body: string): Promise<AttemptResult> {
    const url = new URL(claim.endpoint.url);
    const form = urlFormProblem(claim.endpoint.url, deps.urls);
    if (form) return { status: null, response: '', durationMs: 0, error: `the URL ${form}` };
    const admission = await admitUrl(url, deps.urls);
    if ('refused' in admission) {
      metrics.addMetric('WebhookDestinationRefused', MetricUnit.Count, 1);
      return {
        status: null,
        response: '',
        durationMs: 0,
        error: `refused: not a public address (${admission.refused})`,
      };
    }
    if ('failed' in admission) return { status: null, response: '', durationMs: 0, error: admission.failed };
    const secret = await deps.secrets.open(claim.endpoint.secretSealed, claim.endpoint.id);
    return post({
      url,
      address: admission.address,
      // The real time: a receiver judges the timestamp by its own clock.
      headers: signatureHeaders(secret, claim.event.id, body, new Date()),
      body,
      timeoutMs: options.timeoutMs,
    });
  }

  /** One attempt of a claimed delivery, recorded; true when it was delivered. */
  async function attempt(claim: ClaimedDelivery): Promise<{ ok: boolean; disabled: boolean }> {
    const startedAt = clock();
    const log = {
      endpointId: claim.endpoint.id,
      deliveryId: claim.deliveryId,
      eventId: claim.event.id,
      eventType: claim.event.type,
      attempt: claim.attempt,
    };
    let body: string;
    try {
      body = claim.event.body ?? (await deps.store.keepBody(claim.event.id, renderEvent(claim.event)));
    } catch (err) {
      logger.error('could not render the event', { ...log, error: describeError(err) });
      body = '';
    }
    const result: AttemptResult = body
      ? await send(claim, body)
      : {
          status: null,
          response: '',
          durationMs: 0,
          error: 'formfleet could not render the event (not the receiver’s fault)',
        };
    if (delivered(result)) {
      await deps.store.recordDelivered(claim, result, startedAt);
      metrics.addMetric('WebhookDelivered', MetricUnit.Count, 1);
      logger.info('webhook delivered', { ...log, status: result.status, ms: result.durationMs });
      return { ok: true, disabled: false };
    }
    const decision = afterFailure(
      {
        attempts: claim.attempt,
        endpointFailures: claim.endpoint.consecutiveFailures + 1,
        failingSince: claim.endpoint.failingSince ?? startedAt,
        gone: result.status === 410,
        now: startedAt,
      },
      options.retry,
      deps.random,
    );
    await deps.store.recordFailed(claim, result, startedAt, decision);
    metrics.addMetric('WebhookAttemptsFailed', MetricUnit.Count, 1);
    if ('giveUp' in decision.delivery) metrics.addMetric('WebhookDeliveriesGivenUp', MetricUnit.Count, 1);
    if (decision.disable) {
      metrics.addMetric('WebhookEndpointsDisabled', MetricUnit.Count, 1);
      logger.warn('webhook endpoint disabled', { ...log, reason: decision.disable, error: result.error });
    } else {
      logger.info('webhook attempt failed; retried later', {
        ...log,
        status: result.status,
        error: result.error,
        next: 'giveUp' in decision.delivery ? 'given up' : decision.delivery.retryAt.toISOString(),
      });
    }
    return { ok: false, disabled: decision.disable !== undefined };
  }

  async function drain(
    wake: Wake,
    remainingMs: () => number = () => Number.POSITIVE_INFINITY,
  ): Promise<DrainReport> {
    const report: DrainReport = { delivered: 0, failed: 0, disabled: 0, stopped: 'no due delivery' };
    for (let n = 0; ; n++) {
      if (n >= options.perInvocation) {
        report.stopped = 'the invocation limit';
        break;
      }
      // An attempt may take the whole timeout, and its outcome must still be recorded.
      if (remainingMs() < options.timeoutMs + 5_000) {
        report.stopped = 'time';
        break;
      }
      const claim = await deps.store.claimNext(wake.endpointId, clock(), options.leaseSeconds);
      if (!claim) break;
      const outcome = await attempt(claim);
      if (outcome.ok) report.delivered += 1;
      else {
        report.failed += 1;
        if (outcome.disabled) report.disabled += 1;
        report.stopped = 'a failure';
        break;
      }
    }
    await deps.store.finishWake(wake);
    return report;
  }

  const handler = async function webhookDelivery(
    event: SQSEvent,
    context: Context,
  ): Promise<SQSBatchResponse> {
    logger.addContext(context);
    const failures: SQSBatchResponse['batchItemFailures'] = [];
    try {
      for (const record of event.Records ?? []) {
        const wake = parseWake(record.body);
        if (!wake) {
          // Not a wake: nothing to retry it for.
          logger.error('message on the delivery queue is not a wake; dropped', {
            messageId: record.messageId,
          });
          continue;
        }
        try {
          await drain(wake, () => context.getRemainingTimeInMillis());
        } catch (err) {
          // The database or KMS failed: the wake comes back after its visibility timeout (claims lapse too).
          logger.error('drain failed; the wake is retried', {
            endpointId: wake.endpointId,
            error: describeError(err),
          });
          failures.push({ itemIdentifier: record.messageId });
        }
      }
      return { batchItemFailures: failures };
    } finally {
      metrics.publishStoredMetrics();
    }
  };
  return Object.assign(handler, { drain });
}
