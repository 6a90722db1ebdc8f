/**
 * The job queue port and its SQS FIFO adapter. One FIFO queue per priority tier; MessageGroupId is the job
 * id (a group per priority would cap concurrency at three), and the deduplication id is job id + enqueue
 * token, so a retried send is deduplicated while a requeue or promotion (new token) is not.
 */
import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { PRIORITY_TIERS, type Priority, type PriorityTier, tierFor } from '#policy';
import { ConfigError, type Env } from '#shared/env';

/** The body of a job message. */
export interface JobMessage {
  jobId: string;
  /** Must equal jobs.enqueue_token when received, or the message is stale and discarded. */
  enqueueToken: number;
  priority: Priority;
  /** When this message was sent (ISO 8601), for queue-wait measurements. */
  enqueuedAt: string;
}

export interface JobQueue {
  enqueue(message: JobMessage): Promise<void>;
}

/** Environment variable holding a tier's queue URL (QUEUE_URL_P1), set by CDK and the local runtime. */
export const queueUrlEnvName = (tier: PriorityTier) => `QUEUE_URL_${tier.name}`;
/** Environment variable holding a tier's dead-letter queue URL (DLQ_URL_P1). */
export const dlqUrlEnvName = (tier: PriorityTier) => `DLQ_URL_${tier.name}`;

export type TierUrls = Readonly<Record<Priority, string>>;

function readTierUrls(env: Env, name: (tier: PriorityTier) => string): TierUrls {
  const missing = PRIORITY_TIERS.map(name).filter((n) => !env[n]);
  if (missing.length > 0)
    throw new ConfigError(`missing required environment variable(s): ${missing.join(', ')}`);
  return Object.fromEntries(
    PRIORITY_TIERS.map((t) => [t.priority, env[name(t)] as string]),
  ) as unknown as TierUrls;
}

export const queueUrlsFromEnv = (env: Env) => readTierUrls(env, queueUrlEnvName);
export const dlqUrlsFromEnv = (env: Env) => readTierUrls(env, dlqUrlEnvName);

export function parseJobMessage(body: string): JobMessage {
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    throw new TypeError('job message is not JSON');
  }
  const v = value as Partial<JobMessage> | null;
  if (
    !v ||
    typeof v.jobId !== 'string' ||
    !Number.isInteger(v.enqueueToken) ||
    typeof v.priority !== 'number' ||
    ![1, 2, 3].includes(v.priority)
  ) {
    throw new TypeError('job message must have jobId (string), enqueueToken (integer) and priority (1..3)');
  }
  return {
    jobId: v.jobId,
    enqueueToken: v.enqueueToken as number,
    priority: v.priority as Priority,
    enqueuedAt: typeof v.enqueuedAt === 'string' ? v.enqueuedAt : new Date(0).toISOString(),
  };
}

export class SqsJobQueue implements JobQueue {
  constructor(
    private readonly sqs: SQSClient,
    private readonly urls: TierUrls,
  ) {}

  async enqueue(message: JobMessage): Promise<void> {
    tierFor(message.priority);
    await this.sqs.send(
      new SendMessageCommand({
        QueueUrl: this.urls[message.priority],
        MessageBody: JSON.stringify(message),
        MessageGroupId: message.jobId,
        MessageDeduplicationId: `${message.jobId}:${message.enqueueToken}`,
      }),
    );
  }
}
