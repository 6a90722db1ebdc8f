/**
 * Queue figures for health: per tier, the queue's visible and in-flight message counts and its dead-letter
 * queue's depth, from SQS GetQueueAttributes (ApproximateNumberOfMessages / ...NotVisible; SQS documents
 * both as approximate).
 */
import { GetQueueAttributesCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { PRIORITY_TIERS } from '#policy';
import type { TierUrls } from '#shared/job-queue';

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

  private async counts(url: string): Promise<{ visible: number; notVisible: number }> {
    const res = await this.sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl: url,
        AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
      }),
    );
    return {
      visible: Number(res.Attributes?.ApproximateNumberOfMessages ?? 0),
      notVisible: Number(res.Attributes?.ApproximateNumberOfMessagesNotVisible ?? 0),
    };
  }

  tiers(): Promise<TierQueueStats[]> {
    return Promise.all(
      PRIORITY_TIERS.map(async (tier) => {
        const [main, dlq] = await Promise.all([
          this.counts(this.queueUrls[tier.priority]),
          this.counts(this.dlqUrls[tier.priority]),
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
