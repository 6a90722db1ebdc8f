/**
 * Creates the tier queues on moto exactly as the data stack declares them in AWS: per tier a FIFO queue
 * and a FIFO dead-letter queue, wired by a redrive policy, all numbers from the policy module.
 */
import { CreateQueueCommand, GetQueueAttributesCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { PRIORITY_TIERS, type Priority, QUEUES, tierQueueNames, WORKER } from '#policy';
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

export async function createTierQueues(
  sqs: SQSClient,
  options: CreateTierQueuesOptions = {},
): Promise<TierQueue[]> {
  const out: TierQueue[] = [];
  for (const tier of PRIORITY_TIERS) {
    const names = tierQueueNames(tier, options.prefix);
    const dlq = await sqs.send(
      new CreateQueueCommand({
        QueueName: names.dlq,
        Attributes: {
          FifoQueue: 'true',
          MessageRetentionPeriod: String(QUEUES.dlqRetentionSeconds),
        },
      }),
    );
    const dlqUrl = dlq.QueueUrl as string;
    const dlqArn = await queueArn(sqs, dlqUrl);
    const main = await sqs.send(
      new CreateQueueCommand({
        QueueName: names.queue,
        Attributes: {
          FifoQueue: 'true',
          // High-throughput FIFO: deduplication and throughput limits per message group.
          DeduplicationScope: 'messageGroup',
          FifoThroughputLimit: 'perMessageGroupId',
          VisibilityTimeout: String(options.visibilityTimeoutSeconds ?? WORKER.visibilityTimeoutSeconds),
          MessageRetentionPeriod: String(QUEUES.retentionSeconds),
          RedrivePolicy: JSON.stringify({
            deadLetterTargetArn: dlqArn,
            maxReceiveCount: QUEUES.maxReceiveCount,
          }),
        },
      }),
    );
    const url = main.QueueUrl as string;
    out.push({
      priority: tier.priority,
      name: names.queue,
      url,
      arn: await queueArn(sqs, url),
      dlqUrl,
      dlqArn,
    });
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
