/**
 * A local stand-in for Lambda's SQS event source mapping: long-polls one queue, invokes the handler with
 * batches of at most `batchSize` records and at most `maxConcurrency` invocations at a time, deletes the
 * records the handler did not report in batchItemFailures, and leaves the rest to reappear after their
 * visibility timeout (and, past maxReceiveCount, to move to the dead-letter queue), as AWS does.
 */
import { randomUUID } from 'node:crypto';
import {
  DeleteMessageBatchCommand,
  type Message,
  ReceiveMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';

export type SqsHandler = (event: SQSEvent, context: Context) => Promise<SQSBatchResponse | undefined>;

export interface PollerOptions {
  sqs: SQSClient;
  queueUrl: string;
  queueArn: string;
  handler: SqsHandler;
  batchSize: number;
  maxConcurrency: number;
  /** Function name for the invocation context. */
  functionName: string;
  /** The function's memory, as the invocation context reports it. @default 2048 */
  memoryMb?: number;
  /** Long-poll wait per receive (seconds). */
  waitTimeSeconds?: number;
  onInvoke?: (info: { records: number; failures: number; error?: unknown; ms: number }) => void;
}

export interface Poller {
  /** The most invocations it runs at once (its mapping's maximum concurrency). */
  readonly maxConcurrency: number;
  /** Invocations running now. */
  inFlight(): number;
  /** Stops receiving, then waits up to `graceMs` for running invocations (their messages return otherwise). */
  stop(graceMs?: number): Promise<void>;
}

export function toSqsRecord(m: Message, queueArn: string, region: string): SQSRecord {
  const a = m.Attributes ?? {};
  return {
    messageId: m.MessageId ?? randomUUID(),
    receiptHandle: m.ReceiptHandle ?? '',
    body: m.Body ?? '',
    attributes: {
      ApproximateReceiveCount: a.ApproximateReceiveCount ?? '1',
      SentTimestamp: a.SentTimestamp ?? String(Date.now()),
      SenderId: a.SenderId ?? 'local',
      ApproximateFirstReceiveTimestamp: a.ApproximateFirstReceiveTimestamp ?? String(Date.now()),
      ...(a.SequenceNumber ? { SequenceNumber: a.SequenceNumber } : {}),
      ...(a.MessageGroupId ? { MessageGroupId: a.MessageGroupId } : {}),
      ...(a.MessageDeduplicationId ? { MessageDeduplicationId: a.MessageDeduplicationId } : {}),
    },
    messageAttributes: {},
    md5OfBody: m.MD5OfBody ?? '',
    eventSource: 'aws:sqs',
    eventSourceARN: queueArn,
    awsRegion: region,
  };
}

function invocationContext(functionName: string, timeoutMs: number, memoryMb: number): Context {
  const deadline = Date.now() + timeoutMs;
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:us-east-1:000000000000:function:${functionName}`,
    memoryLimitInMB: String(memoryMb),
    awsRequestId: randomUUID(),
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: 'local',
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => {},
    fail: () => {},
    succeed: () => {},
  };
}

export function startPoller(options: PollerOptions): Poller {
  const region = options.queueArn.split(':')[3] ?? 'us-east-1';
  let running = true;
  let inFlight = 0;
  const invocations = new Set<Promise<void>>();
  let wake: (() => void) | undefined;

  async function invoke(messages: Message[]): Promise<void> {
    const started = Date.now();
    const records = messages.map((m) => toSqsRecord(m, options.queueArn, region));
    let failed = new Set<string>();
    let error: unknown;
    try {
      const response = await options.handler(
        { Records: records },
        invocationContext(options.functionName, 900_000, options.memoryMb ?? 2048),
      );
      failed = new Set((response?.batchItemFailures ?? []).map((f) => f.itemIdentifier));
    } catch (err) {
      // A thrown handler fails the whole batch: every message returns after its visibility timeout.
      error = err;
      failed = new Set(records.map((r) => r.messageId));
    }
    const done = records.filter((r) => !failed.has(r.messageId));
    if (done.length > 0) {
      await options.sqs
        .send(
          new DeleteMessageBatchCommand({
            QueueUrl: options.queueUrl,
            Entries: done.map((r, i) => ({ Id: String(i), ReceiptHandle: r.receiptHandle })),
          }),
        )
        .catch(() => {});
    }
    options.onInvoke?.({ records: records.length, failures: failed.size, error, ms: Date.now() - started });
  }

  async function loop(): Promise<void> {
    while (running) {
      if (inFlight >= options.maxConcurrency) {
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
        continue;
      }
      let messages: Message[] = [];
      try {
        const res = await options.sqs.send(
          new ReceiveMessageCommand({
            QueueUrl: options.queueUrl,
            MaxNumberOfMessages: options.batchSize,
            WaitTimeSeconds: options.waitTimeSeconds ?? 1,
            MessageSystemAttributeNames: ['All'],
            MessageAttributeNames: ['All'],
          }),
        );
        messages = res.Messages ?? [];
      } catch {
        if (!running) break;
        await new Promise((r) => setTimeout(r, 500));
        continue;
      }
      if (!running) break;
      if (messages.length === 0) continue;
      inFlight += 1;
      const p = invoke(messages).finally(() => {
        inFlight -= 1;
        invocations.delete(p);
        wake?.();
        wake = undefined;
      });
      invocations.add(p);
    }
  }

  const looping = loop();
  return {
    maxConcurrency: options.maxConcurrency,
    inFlight: () => inFlight,
    async stop(graceMs = 30_000) {
      running = false;
      wake?.();
      await looping;
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.allSettled([...invocations]),
        new Promise((r) => {
          timer = setTimeout(r, graceMs);
        }),
      ]);
      clearTimeout(timer);
    },
  };
}
