/**
^ * Worker pollers started on demand, exactly as the local runtime starts them (one per tier queue, the
 * tier's batch size and concurrency, one shared worker handler), so a benchmark can fill the queues first
 * and then let the workers loose; and the queue depth, as SQS reports it.
 */
import type { SQSClient } from '@aws-sdk/client-sqs';
import { makeWorkerHandler } from '#functions/worker/handler';
import type { LocalSystem } from '#local/runtime';
import { type Poller, startPoller } from '#local/sqs-poller';
import { PRIORITY_TIERS } from '#policy';
import { queueCounts } from '#shared/job-queue';

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

/** Messages on one queue: waiting plus in flight. */
export async function messagesOn(sqs: SQSClient, url: string): Promise<number> {
  const { visible, notVisible } = await queueCounts(sqs, url);
  return visible + notVisible;
}

/** Messages waiting plus in flight, per tier and in all. */
export async function queueDepth(system: LocalSystem): Promise<{ total: number; byTier: number[] }> {
  const byTier = await Promise.all(system.queues.map((q) => messagesOn(system.sqs, q.url)));
  return { total: byTier.reduce((a, b) => a + b, 0), byTier };
}
