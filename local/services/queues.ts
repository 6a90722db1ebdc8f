/**
 * Creates the tier queues on moto exactly as the data stack declares them in AWS: per tier a FIFO queue
 * and a FIFO dead-letter queue, wired by a redrive policy, all numbers from the policy module.
 */
import { CreateQueueCommand, GetQueueAttributesCommand, type SQSClient } from '@aws-sdk/client-sqs';
import {
  PRIORITY_TIERS,
  type Priority,
  QUEUES,
  tierQueueNames,
  WEBHOOKS,
  WORKER,
  webhookQueueNames,
} from '#policy';
import { dlqUrlEnvName, queueUrlEnvName } from '#shared/job-queue';

export interface TierQueue {
  priority: Priority;
  name: string;
  url: string;
  arn: string;
  dlqUrl: string;
  dlqArn: string;
}

export interface CreateTierQueuesOptions {
  /** Name prefix separating runs and tests on one moto server. */
  prefix?: string;
  /** Overrides the policy visibility timeout (tests that need a fast redelivery). */
  visibilityTimeoutSeconds?: number;
}

/**
 * A high-throughput FIFO queue (deduplication and throughput per message group) with its FIFO dead-letter
 * queue, wired by a redrive policy: the shape of every queue the data stack declares.
 */
async function createFifoPair(
  sqs: SQSClient,
  names: { queue: string; dlq: string },
  settings: { visibilityTimeoutSeconds: number; retentionSeconds: number; maxReceiveCount: number },
): Promise<{ url: string; arn: string; dlqUrl: string; dlqArn: string }> {
  const dlq = await sqs.send(
    new CreateQueueCommand({
      QueueName: names.dlq,
      Attributes: { FifoQueue: 'true', MessageRetentionPeriod: String(QUEUES.dlqRetentionSeconds) },
    }),
  );
  const dlqUrl = dlq.QueueUrl as string;
  const dlqArn = await queueArn(sqs, dlqUrl);
  const main = await sqs.send(
    new CreateQueueCommand({
      QueueName: names.queue,
      Attributes: {
        FifoQueue: 'true',
        DeduplicationScope: 'messageGroup',
        FifoThroughputLimit: 'perMessageGroupId',
        VisibilityTimeout: String(settings.visibilityTimeoutSeconds),
        MessageRetentionPeriod: String(settings.retentionSeconds),
        RedrivePolicy: JSON.stringify({
          deadLetterTargetArn: dlqArn,
          maxReceiveCount: settings.maxReceiveCount,
        }),
      },
    }),
  );
  const url = main.QueueUrl as string;
  return { url, arn: await queueArn(sqs, url), dlqUrl, dlqArn };
}

export async function createTierQueues(
  sqs: SQSClient,
  options: CreateTierQueuesOptions = {},
): Promise<TierQueue[]> {
  const out: TierQueue[] = [];
  for (const tier of PRIORITY_TIERS) {
    const names = tierQueueNames(tier, options.prefix);
    const pair = await createFifoPair(sqs, names, {
      visibilityTimeoutSeconds: options.visibilityTimeoutSeconds ?? WORKER.visibilityTimeoutSeconds,
      retentionSeconds: QUEUES.retentionSeconds,
      maxReceiveCount: QUEUES.maxReceiveCount,
    });
    out.push({ priority: tier.priority, name: names.queue, ...pair });
  }
  return out;
}

async function queueArn(sqs: SQSClient, url: string): Promise<string> {
  const res = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['QueueArn'] }));
  const arn = res.Attributes?.QueueArn;
  if (!arn) throw new Error(`queue ${url} has no ARN`);
  return arn;
}

/** QUEUE_URL_Pn and DLQ_URL_Pn for handlers, the same variables CDK sets in AWS. */
export function tierQueueEnv(queues: readonly TierQueue[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const q of queues) {
    const tier = PRIORITY_TIERS.find((t) => t.priority === q.priority);
    if (!tier) continue;
    env[queueUrlEnvName(tier)] = q.url;
    env[dlqUrlEnvName(tier)] = q.dlqUrl;
  }
  return env;
}

export interface WebhookQueue {
  url: string;
  arn: string;
  dlqUrl: string;
}

/**
 * The webhook delivery queue on moto, as the data stack declares it: FIFO (a message group per endpoint slot
 * bounds each endpoint's attempts in flight), visibility six times the delivery function's timeout, and a FIFO
 * dead-letter queue for a wake whose drain keeps failing (the deliveries themselves stay in Postgres).
 */
export async function createWebhookQueue(sqs: SQSClient, prefix = ''): Promise<WebhookQueue> {
  const { url, arn, dlqUrl } = await createFifoPair(sqs, webhookQueueNames(prefix), {
    visibilityTimeoutSeconds: 6 * WEBHOOKS.deliveryTimeoutSeconds,
    retentionSeconds: WEBHOOKS.queueRetentionSeconds,
    maxReceiveCount: WEBHOOKS.maxReceiveCount,
  });
  return { url, arn, dlqUrl };
}
