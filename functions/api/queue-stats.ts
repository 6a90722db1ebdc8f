/**
 * Queue figures for health: per tier, the queue's visible and in-flight message counts and its dead-letter
 * queue's depth, from SQS GetQueueAttributes (ApproximateNumberOfMessages / ...NotVisible; SQS documents
 * both as approximate).
 */
import type { SQSClient } from '@aws-sdk/client-sqs';
import { PRIORITY_TIERS } from '#policy';
import { queueCounts, type TierUrls } from '#shared/job-queue';

export interface TierQueueStats {
  tier: 'P1' | 'P2' | 'P3';
  depth: number;
  inFlight: number;
  dlqDepth: number;
}

export interface QueueStats {
  tiers(): Promise<TierQueueStats[]>;
}

export class SqsQueueStats implements QueueStats {
  constructor(
    private readonly sqs: SQSClient,
    private readonly queueUrls: TierUrls,
    private readonly dlqUrls: TierUrls,
  ) {}

  tiers(): Promise<TierQueueStats[]> {
    return Promise.all(
      PRIORITY_TIERS.map(async (tier) => {
        const [main, dlq] = await Promise.all([
          queueCounts(this.sqs, this.queueUrls[tier.priority]),
          queueCounts(this.sqs, this.dlqUrls[tier.priority]),
        ]);
        return {
          tier: tier.name,
          depth: main.visible,
          inFlight: main.notVisible,
          dlqDepth: dlq.visible + dlq.notVisible,
        };
      }),
    );
  }
}
