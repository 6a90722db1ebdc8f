/**
 * The job queue port and its SQS FIFO adapter. One FIFO queue per priority tier; MessageGroupId is the job
 * id (a group per priority would cap concurrency at three), and the deduplication id is job id + enqueue
 * token, so a retried send is deduplicated while a requeue, promotion or continuation (new token) is not.
 */
import {
  GetQueueAttributesCommand,
  SendMessageBatchCommand,
  SendMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
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
  /**
   * Sends many messages in as few calls as the queue allows; resolves with the messages that were NOT
   * sent and why (never rejects for a partial failure). Optional: enqueueAll falls back to one enqueue each.
   */
  enqueueMany?(messages: readonly JobMessage[]): Promise<UnsentMessage[]>;
}

/** A message the queue did not take, and the reason it gave. */
export interface UnsentMessage {
  message: JobMessage;
  error: string;
}

const reason = (err: unknown) => (err instanceof Error ? err.message : String(err));

/**
 * Puts a stored job's current message on its tier queue, then marks the job 'queued': the API after
 * creating or retrying a job, the worker after a continuation. Never rejects: when the send (or the mark)
 * fails the job stays 'pending' and the stale-jobs run sends it after RECOVERY.pendingGraceSeconds, so
 * nothing is lost and the caller only reports the error.
 */
export async function sendStoredJob(
  queue: JobQueue,
  jobs: { markQueued(jobId: string, enqueueToken: number): Promise<boolean> },
  job: { jobId: string; enqueueToken: number; priority: Priority },
): Promise<{ status: 'queued' } | { status: 'pending'; error: unknown }> {
  try {
    await queue.enqueue({
      jobId: job.jobId,
      enqueueToken: job.enqueueToken,
      priority: job.priority,
      enqueuedAt: new Date().toISOString(),
    });
    await jobs.markQueued(job.jobId, job.enqueueToken);
    return { status: 'queued' };
  } catch (error) {
    return { status: 'pending', error };
  }
}

/**
 * A queue's approximate message counts (SQS GetQueueAttributes; SQS documents both as approximate): waiting
 * to be received, and received but not yet deleted or back.
 */
export async function queueCounts(
  sqs: SQSClient,
  url: string,
): Promise<{ visible: number; notVisible: number }> {
  const res = await sqs.send(
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

/** How many messages each tier's queue holds: waiting, in backoff or in flight (approximate, as SQS counts). */
export interface QueueDepths {
  messages(priority: Priority): Promise<number>;
}

export class SqsQueueDepths implements QueueDepths {
  constructor(
    private readonly sqs: SQSClient,
    private readonly urls: TierUrls,
  ) {}

  async messages(priority: Priority): Promise<number> {
    const { visible, notVisible } = await queueCounts(this.sqs, this.urls[priority]);
    return visible + notVisible;
  }
}

/** SQS's most entries per SendMessageBatch. */
const SQS_BATCH_MAX = 10;

/**
 * Sends every message, `concurrency` calls at a time, through enqueueMany when the queue has it (one call
 * per 10 messages on SQS) or one enqueue per message; resolves with the messages that were not sent.
 * Batching is what lets a recovery run re-send thousands of jobs in seconds (bench/stale.ts).
 */
export async function enqueueAll(
  queue: JobQueue,
  messages: readonly JobMessage[],
  concurrency = 10,
): Promise<UnsentMessage[]> {
  const failed: UnsentMessage[] = [];
  const chunks: JobMessage[][] = [];
  const size = queue.enqueueMany ? SQS_BATCH_MAX : 1;
  for (let i = 0; i < messages.length; i += size) chunks.push(messages.slice(i, i + size));
  let next = 0;
  const lane = async () => {
    while (next < chunks.length) {
      const chunk = chunks[next++] as JobMessage[];
      if (queue.enqueueMany) {
        failed.push(...(await queue.enqueueMany(chunk)));
        continue;
      }
      const message = chunk[0] as JobMessage;
      await queue.enqueue(message).catch((err: unknown) => failed.push({ message, error: reason(err) }));
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, chunks.length) }, lane));
  return failed;
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

/** A job message as an SQS FIFO entry: group per job, deduplicated per (job, enqueue token). */
function entry(message: JobMessage) {
  return {
    MessageBody: JSON.stringify(message),
    MessageGroupId: message.jobId,
    MessageDeduplicationId: `${message.jobId}:${message.enqueueToken}`,
  };
}

export class SqsJobQueue implements JobQueue {
  constructor(
    private readonly sqs: SQSClient,
    private readonly urls: TierUrls,
  ) {}

  async enqueue(message: JobMessage): Promise<void> {
    tierFor(message.priority);
    await this.sqs.send(new SendMessageCommand({ QueueUrl: this.urls[message.priority], ...entry(message) }));
  }

  /** SendMessageBatch per tier, 10 entries a call; entries SQS refuses, or calls that fail, are returned. */
  async enqueueMany(messages: readonly JobMessage[]): Promise<UnsentMessage[]> {
    const failed: UnsentMessage[] = [];
    for (const tier of PRIORITY_TIERS) {
      const mine = messages.filter((m) => m.priority === tier.priority);
      for (let i = 0; i < mine.length; i += SQS_BATCH_MAX) {
        const chunk = mine.slice(i, i + SQS_BATCH_MAX);
        try {
          const res = await this.sqs.send(
            new SendMessageBatchCommand({
              QueueUrl: this.urls[tier.priority],
              Entries: chunk.map((m, n) => ({ Id: String(n), ...entry(m) })),
            }),
          );
          for (const f of res.Failed ?? []) {
            failed.push({
              message: chunk[Number(f.Id)] as JobMessage,
              error: `${f.Code}: ${f.Message ?? ''}`,
            });
          }
        } catch (err) {
          failed.push(...chunk.map((message) => ({ message, error: reason(err) })));
        }
      }
    }
    return failed;
  }
}
