/**
^ * Worker pollers started on demand, exactly as the local runtime starts them (one per tier queue, the
 * tier's batch size and concurrency, one shared worker handler), so a benchmark can fill the queues first
 * and then let the workers loose; and the queue depth, as SQS reports it.
 */
import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { makeWorkerHandler } from '#functions/worker/handler';
import type { LocalSystem } from '#local/runtime';
import { type Poller, startPoller } from '#local/sqs-poller';
import { PRIORITY_TIERS } from '#policy';

export function startWorkers(system: LocalSystem): Poller[] {
  const handler = makeWorkerHandler(system.worker);
  return PRIORITY_TIERS.map((tier) => {
    const queue = system.queues.find((q) => q.priority === tier.priority);
    if (!queue) throw new Error(`no queue for ${tier.name}`);
    return startPoller({
      sqs: system.sqs,
      queueUrl: queue.url,
      queueArn: queue.arn,
      handler,
      batchSize: tier.batchSize,
      maxConcurrency: tier.maxConcurrency,
      functionName: `formfleet-bench-worker-${tier.name.toLowerCase()}`,
    });
  });
}

/** Messages waiting plus in flight, per tier and in all. */
export async function queueDepth(system: LocalSystem): Promise<{ total: number; byTier: number[] }> {
  const byTier = await Promise.all(
    system.queues.map(async (q) => {
      const res = await system.sqs.send(
        new GetQueueAttributesCommand({
          QueueUrl: q.url,
          AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
        }),
      );
      return (
        Number(res.Attributes?.ApproximateNumberOfMessages ?? 0) +
        Number(res.Attributes?.ApproximateNumberOfMessagesNotVisible ?? 0)
      );
    }),
  );
  return { total: byTier.reduce((a, b) => a + b, 0), byTier };
}
