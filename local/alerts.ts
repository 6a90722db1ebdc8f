/**
 * The alert path on one machine, shaped like AWS's: an SNS topic on moto fanning out to an SQS subscription
 * queue, drained into the notifier handler as SNS events (Lambda's asynchronous invocation of a subscriber).
 * A failed invocation leaves the message to reappear after a delay (Lambda's async retries), and after
 * 1 + ALERTS.deliveryRetryAttempts attempts moto moves it to the on-failure queue (the on-failure
 * destination). The notifier posts to the local Slack sink, or to a real webhook when one is given.
 */
import { randomUUID } from 'node:crypto';
import { CreateTopicCommand, type SNSClient, SubscribeCommand } from '@aws-sdk/client-sns';
import { CreateQueueCommand, GetQueueAttributesCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { Context, SNSEvent, SNSMessageAttributes, SQSBatchResponse } from 'aws-lambda';
import type { NotifierHandler } from '#functions/alerts/notifier';
import { ALERTS, QUEUES } from '#policy';
import { type SlackSink, type SlackSinkMessage, startSlackSink } from './slack-sink.ts';
import { type Poller, startPoller } from './sqs-poller.ts';

export interface LocalAlertsOptions {
  sqs: SQSClient;
  sns: SNSClient;
  /** The Powertools idempotency table (created by the caller, shared with the worker as in AWS). */
  idempotencyTable: string;
  /** Name prefix separating runs and tests on one moto server. */
  prefix: string;
  /** Post to this (real) webhook instead of starting the local sink. */
  slackWebhookUrl?: string;
  /** Delay before a failed delivery is retried. @default ALERTS.localRetryDelaySeconds */
  retryDelaySeconds?: number;
  /** Called with every message the local sink accepts (npm start prints them). */
  onSlackMessage?: (message: SlackSinkMessage) => void;
}

export interface LocalAlerts {
  readonly topicArn: string;
  /** The notifier's subscription queue (SNS → SQS → notifier). */
  readonly queueUrl: string;
  /** Where an alert goes after its retries are exhausted (the on-failure destination). */
  readonly failedQueueUrl: string;
  readonly idempotencyTable: string;
  /** The local Slack, unless a real webhook was given. */
  readonly sink: SlackSink | null;
  /** ALERTS_TOPIC_ARN, for every handler that publishes alerts. */
  readonly env: Readonly<Record<string, string>>;
  /** The notifier's own variables: SLACK_WEBHOOK_URL and IDEMPOTENCY_TABLE. */
  readonly notifierEnv: Readonly<Record<string, string>>;
  /** Starts draining the subscription queue into `handler`, one invocation at a time (reserved concurrency 1). */
  startNotifier(handler: NotifierHandler): Poller;
  /**
   * Another subscriber of the topic (the PagerDuty notifier): its own subscription queue and on-failure queue,
   * retried and parked like the notifier's.
   */
  subscribe(name: string, handler: SubscriberHandler): Promise<{ queueUrl: string; failedQueueUrl: string }>;
  stop(): Promise<void>;
}

/** An SNS subscriber Lambda's handler: it throws for a failure (async invocation retries it). */
export type SubscriberHandler = (event: SNSEvent, context: Context) => Promise<unknown>;

interface SnsEnvelope {
  Type?: string;
  MessageId: string;
  TopicArn: string;
  Subject?: string;
  Message: string;
  Timestamp: string;
  SignatureVersion?: string;
  Signature?: string;
  SigningCertURL?: string;
  UnsubscribeURL?: string;
  MessageAttributes?: Record<string, { Type: string; Value: string }>;
}

/** The SNS event Lambda would pass the subscriber, from the envelope SNS delivered to the SQS queue. */
export function snsEventFromEnvelope(body: string, subscriptionArn: string): SNSEvent {
  const e = JSON.parse(body) as SnsEnvelope;
  return {
    Records: [
      {
        EventSource: 'aws:sns',
        EventVersion: '1.0',
        EventSubscriptionArn: subscriptionArn,
        Sns: {
          Type: e.Type ?? 'Notification',
          MessageId: e.MessageId,
          TopicArn: e.TopicArn,
          Subject: e.Subject ?? '',
          Message: e.Message,
          Timestamp: e.Timestamp,
          SignatureVersion: e.SignatureVersion ?? '1',
          Signature: e.Signature ?? '',
          SigningCertUrl: e.SigningCertURL ?? '',
          UnsubscribeUrl: e.UnsubscribeURL ?? '',
          MessageAttributes: (e.MessageAttributes ?? {}) as SNSMessageAttributes,
        },
      },
    ],
  };
}

async function queueArn(sqs: SQSClient, url: string): Promise<string> {
  const res = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['QueueArn'] }));
  return res.Attributes?.QueueArn as string;
}

export async function startLocalAlerts(options: LocalAlertsOptions): Promise<LocalAlerts> {
  const { sqs, sns, prefix } = options;
  const stops: Array<() => Promise<void>> = [];
  const pollers: Poller[] = [];
  const stop = async () => {
    for (const s of stops.reverse()) await s().catch(() => {});
    stops.length = 0;
  };
  try {
    const topic = await sns.send(new CreateTopicCommand({ Name: `${prefix}formfleet-alerts` }));
    const topicArn = topic.TopicArn as string;
    const retryDelaySeconds = options.retryDelaySeconds ?? ALERTS.localRetryDelaySeconds;

    /** A subscription queue with its on-failure queue, subscribed to the topic. */
    async function subscription(queueName: string, failedName: string) {
      const failed = await sqs.send(
        new CreateQueueCommand({
          QueueName: failedName,
          Attributes: { MessageRetentionPeriod: String(QUEUES.dlqRetentionSeconds) },
        }),
      );
      const failedQueueUrl = failed.QueueUrl as string;
      const queue = await sqs.send(
        new CreateQueueCommand({
          QueueName: queueName,
          Attributes: {
            VisibilityTimeout: String(retryDelaySeconds),
            RedrivePolicy: JSON.stringify({
              deadLetterTargetArn: await queueArn(sqs, failedQueueUrl),
              maxReceiveCount: 1 + ALERTS.deliveryRetryAttempts,
            }),
          },
        }),
      );
      const queueUrl = queue.QueueUrl as string;
      const arn = await queueArn(sqs, queueUrl);
      const subscribed = await sns.send(
        new SubscribeCommand({ TopicArn: topicArn, Protocol: 'sqs', Endpoint: arn }),
      );
      return {
        queueUrl,
        failedQueueUrl,
        arn,
        subscriptionArn: subscribed.SubscriptionArn ?? `${topicArn}:${randomUUID()}`,
      };
    }

    /** Drains a subscription queue into a subscriber, one invocation at a time, as Lambda's async invocation. */
    function drain(
      name: string,
      sub: Awaited<ReturnType<typeof subscription>>,
      handler: SubscriberHandler,
    ): Poller {
      const poller = startPoller({
        sqs,
        queueUrl: sub.queueUrl,
        queueArn: sub.arn,
        batchSize: 1,
        maxConcurrency: 1,
        functionName: `formfleet-local-${name}`,
        handler: async (event, context): Promise<SQSBatchResponse> => {
          const failures: SQSBatchResponse['batchItemFailures'] = [];
          for (const record of event.Records) {
            try {
              await handler(snsEventFromEnvelope(record.body, sub.subscriptionArn), context);
            } catch {
              // As Lambda's async invocation: the event comes back after the retry delay.
              failures.push({ itemIdentifier: record.messageId });
            }
          }
          return { batchItemFailures: failures };
        },
      });
      pollers.push(poller);
      return poller;
    }

    const notifier = await subscription(
      `${prefix}formfleet-alerts-notifier`,
      `${prefix}formfleet-alerts-failed`,
    );
    const { queueUrl, failedQueueUrl } = notifier;

    const idempotencyTable = options.idempotencyTable;

    const sink = options.slackWebhookUrl
      ? null
      : await startSlackSink(options.onSlackMessage ? { onMessage: options.onSlackMessage } : {});
    if (sink) stops.push(() => sink.stop());
    const webhookUrl = options.slackWebhookUrl ?? (sink as SlackSink).url;

    stops.push(async () => {
      await Promise.all(pollers.map((p) => p.stop(10_000)));
    });

    return {
      topicArn,
      queueUrl,
      failedQueueUrl,
      idempotencyTable,
      sink,
      env: { ALERTS_TOPIC_ARN: topicArn },
      notifierEnv: { SLACK_WEBHOOK_URL: webhookUrl, IDEMPOTENCY_TABLE: idempotencyTable },
      startNotifier: (handler) => drain('slack-notifier', notifier, handler),
      async subscribe(name, handler) {
        const sub = await subscription(
          `${prefix}formfleet-alerts-${name}`,
          `${prefix}formfleet-alerts-${name}-failed`,
        );
        drain(name, sub, handler);
        return { queueUrl: sub.queueUrl, failedQueueUrl: sub.failedQueueUrl };
      },
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
