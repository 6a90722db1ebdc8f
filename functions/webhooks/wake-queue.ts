/**
 * The delivery queue (SQS FIFO): the dispatcher puts a wake on it for each (endpoint, slot) with due work, and
 * the webhook-delivery function, invoked per wake by its event source mapping, sends that endpoint's due
 * deliveries. The message group is the (endpoint, slot): FIFO hands one group to one invocation at a time, so
 * an endpoint never has more than WEBHOOKS.perEndpointConcurrency attempts in flight, and a hanging receiver
 * holds only its own groups. The deliveries themselves live in Postgres (the outbox); a wake carries none.
 */
import { SendMessageBatchCommand, type SQSClient } from '@aws-sdk/client-sqs';

export interface Wake {
  endpointId: string;
  slot: number;
  /** When the dispatcher recorded it (ISO 8601): the wake's identity. */
  sentAt: string;
}

export interface WakeQueue {
  /** Sends the wakes; resolves with those the queue did not take (never rejects for a partial failure). */
  send(wakes: readonly Wake[]): Promise<Wake[]>;
}

export const wakeGroup = (w: Pick<Wake, 'endpointId' | 'slot'>) => `${w.endpointId}.${w.slot}`;

/** A wake from a message body, or undefined when the body is not one. */
export function parseWake(body: string): Wake | undefined {
  try {
    const v = JSON.parse(body) as Partial<Wake>;
    if (
      typeof v.endpointId === 'string' &&
      /^[0-9a-f-]{36}$/i.test(v.endpointId) &&
      Number.isInteger(v.slot) &&
      typeof v.sentAt === 'string' &&
      !Number.isNaN(Date.parse(v.sentAt))
    ) {
      return { endpointId: v.endpointId, slot: v.slot as number, sentAt: v.sentAt };
    }
  } catch {
    // not JSON: not a wake
  }
  return undefined;
}

/** SQS allows ten messages per SendMessageBatch. */
const BATCH = 10;

export class SqsWakeQueue implements WakeQueue {
  constructor(
    private readonly sqs: SQSClient,
    private readonly url: string,
  ) {}

  async send(wakes: readonly Wake[]): Promise<Wake[]> {
    const unsent: Wake[] = [];
    for (let i = 0; i < wakes.length; i += BATCH) {
      const chunk = wakes.slice(i, i + BATCH);
      try {
        const res = await this.sqs.send(
          new SendMessageBatchCommand({
            QueueUrl: this.url,
            Entries: chunk.map((w, j) => ({
              Id: String(j),
              MessageBody: JSON.stringify(w),
              MessageGroupId: wakeGroup(w),
              MessageDeduplicationId: `${wakeGroup(w)}.${Date.parse(w.sentAt)}`,
            })),
          }),
        );
        for (const failed of res.Failed ?? []) {
          const wake = chunk[Number(failed.Id)];
          if (wake) unsent.push(wake);
        }
      } catch {
        unsent.push(...chunk);
      }
    }
    return unsent;
  }
}
