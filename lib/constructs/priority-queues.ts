/**
 * PriorityQueues: per priority tier a FIFO queue in high-throughput mode and its FIFO dead-letter queue,
 * built from the policy tier list. SQS-managed encryption and a TLS-only policy on every queue.
 */
import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { PRIORITY_TIERS, type Priority, type PriorityTier, QUEUES, tierQueueNames, WORKER } from '#policy';

export interface PriorityQueuesProps {
  /** Prefix of the physical queue names (the stage prefix). */
  readonly prefix: string;
  /**
   * Visibility timeout of the main queues.
   * @default WORKER.visibilityTimeoutSeconds (6x the worker timeout)
   */
  readonly visibilityTimeout?: Duration;
  /**
   * Receives before a message moves to the dead-letter queue.
   * @default QUEUES.maxReceiveCount
   */
  readonly maxReceiveCount?: number;
  /**
   * What happens to the queues when they leave the stack (deleted or replaced).
   * @default RemovalPolicy.RETAIN (a queue may hold jobs; only a throwaway stage destroys them)
   */
  readonly removalPolicy?: RemovalPolicy;
}

export interface TierQueues {
  readonly tier: PriorityTier;
  readonly queue: sqs.Queue;
  readonly deadLetterQueue: sqs.Queue;
}

/**
 * A FIFO queue (high-throughput mode: deduplication and throughput per message group) and its FIFO dead-letter
 * queue, SQS-managed encryption and TLS only on both: the shape of every formfleet work queue.
 */
export function fifoQueueWithDeadLetters(
  scope: Construct,
  idPrefix: string,
  props: {
    readonly names: { readonly queue: string; readonly dlq: string };
    readonly visibilityTimeout: Duration;
    readonly retentionSeconds: number;
    readonly maxReceiveCount: number;
    readonly removalPolicy: RemovalPolicy;
    /** Why the dead-letter queue has no redrive policy of its own (cdk-nag). */
    readonly deadLetterReason: string;
  },
): { queue: sqs.Queue; deadLetterQueue: sqs.Queue } {
  const deadLetterQueue = new sqs.Queue(scope, `${idPrefix}DeadLetterQueue`, {
    queueName: props.names.dlq,
    fifo: true,
    retentionPeriod: Duration.seconds(QUEUES.dlqRetentionSeconds),
    encryption: sqs.QueueEncryption.SQS_MANAGED,
    enforceSSL: true,
    removalPolicy: props.removalPolicy,
  });
  Validations.of(deadLetterQueue).acknowledge({
    id: 'Serverless-SQSRedrivePolicy',
    reason: props.deadLetterReason,
  });
  const queue = new sqs.Queue(scope, `${idPrefix}Queue`, {
    queueName: props.names.queue,
    fifo: true,
    deduplicationScope: sqs.DeduplicationScope.MESSAGE_GROUP,
    fifoThroughputLimit: sqs.FifoThroughputLimit.PER_MESSAGE_GROUP_ID,
    visibilityTimeout: props.visibilityTimeout,
    retentionPeriod: Duration.seconds(props.retentionSeconds),
    encryption: sqs.QueueEncryption.SQS_MANAGED,
    enforceSSL: true,
    deadLetterQueue: { queue: deadLetterQueue, maxReceiveCount: props.maxReceiveCount },
    removalPolicy: props.removalPolicy,
  });
  return { queue, deadLetterQueue };
}

export class PriorityQueues extends Construct {
  readonly tiers: readonly TierQueues[];
  /** Visibility timeout of every main queue (a consumer's timeout must fit in it six times). */
  readonly visibilityTimeout: Duration;

  constructor(scope: Construct, id: string, props: PriorityQueuesProps) {
    super(scope, id);
    const visibilityTimeout = props.visibilityTimeout ?? Duration.seconds(WORKER.visibilityTimeoutSeconds);
    const maxReceiveCount = props.maxReceiveCount ?? QUEUES.maxReceiveCount;
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    const problems: string[] = [];
    if (visibilityTimeout.toSeconds() < 6 * WORKER.timeoutSeconds) {
      problems.push(
        `visibilityTimeout must be at least 6x the worker timeout (${6 * WORKER.timeoutSeconds} s)`,
      );
    }
    if (maxReceiveCount < 1 || maxReceiveCount > 1000) problems.push('maxReceiveCount must be 1..1000');
    if (problems.length > 0) throw new Error(`PriorityQueues: ${problems.join('; ')}`);
    this.visibilityTimeout = visibilityTimeout;

    this.tiers = PRIORITY_TIERS.map((tier) => {
      const names = tierQueueNames(tier, props.prefix);
      const { queue, deadLetterQueue } = fifoQueueWithDeadLetters(this, tier.name, {
        names,
        visibilityTimeout,
        retentionSeconds: QUEUES.retentionSeconds,
        maxReceiveCount,
        removalPolicy,
        deadLetterReason:
          'This is the FIFO dead-letter queue of a tier queue: the end of the line, kept 14 days for a person or the DLQ redrive to handle.',
      });
      return { tier, queue, deadLetterQueue };
    });
  }

  forPriority(priority: Priority): TierQueues {
    const found = this.tiers.find((t) => t.tier.priority === priority);
    if (!found) throw new Error(`no queues for priority ${priority}`);
    return found;
  }
}
