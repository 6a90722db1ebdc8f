/**
 * WebhookResources: what webhook delivery keeps between deploys (data stack): the delivery queue, a FIFO
 * queue whose message groups are endpoint slots (so FIFO's one-group-at-a-time bounds each endpoint's attempts
 * in flight) with its FIFO dead-letter queue, and the KMS key that seals endpoints' signing secrets (retained:
 * a new key could not open the secrets sealed by the old one).
 */
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as kms from 'aws-cdk-lib/aws-kms';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { WEBHOOKS, webhookQueueNames } from '#policy';
import { fifoQueueWithDeadLetters } from './priority-queues.ts';

export interface WebhookResourcesProps {
  /** Prefix of the physical queue names (the stage prefix). */
  readonly prefix: string;
  /** @default RemovalPolicy.RETAIN */
  readonly removalPolicy?: RemovalPolicy;
}

export class WebhookResources extends Construct {
  readonly queue: sqs.Queue;
  readonly deadLetterQueue: sqs.Queue;
  /** Seals signing secrets: the API encrypts with it, delivery decrypts, both only with an endpoint context. */
  readonly secretsKey: kms.Key;

  constructor(scope: Construct, id: string, props: WebhookResourcesProps) {
    super(scope, id);
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    // No id prefix: the queues are this construct's 'Queue' and 'DeadLetterQueue'.
    const { queue, deadLetterQueue } = fifoQueueWithDeadLetters(this, '', {
      names: webhookQueueNames(props.prefix),
      // AWS asks for six times the consumer's timeout on an event source mapping.
      visibilityTimeout: Duration.seconds(6 * WEBHOOKS.deliveryTimeoutSeconds),
      retentionSeconds: WEBHOOKS.queueRetentionSeconds,
      maxReceiveCount: WEBHOOKS.maxReceiveCount,
      removalPolicy,
      deadLetterReason:
        'The dead-letter queue of the webhook delivery queue: a wake whose drain kept failing ends here (its deliveries stay in Postgres, and the dispatcher wakes the endpoint again).',
    });
    this.queue = queue;
    this.deadLetterQueue = deadLetterQueue;
    this.secretsKey = new kms.Key(this, 'SecretsKey', {
      description: `Seals the signing secrets of ${props.prefix}formfleet webhook endpoints`,
      enableKeyRotation: true,
      removalPolicy,
    });
  }
}
