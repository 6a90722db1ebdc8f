/**
 * The dead-letter queues: what is in them and moving chosen messages back. The DLQ check, the admin API
 * (GET /v1/dlq, POST /v1/dlq/redrive) and the ops CLI all use this port.
 *
 * A DLQ message's body is the job message; its customer and error class come from the jobs row (the worker
 * records jobs.error and jobs.error_class when a record fails). A body that is not a job message (poison),
 * or one naming a job that does not exist, counts as class 'internal'.
 *
 * Redrive is receive → send with a new deduplication id → delete, by hand, because moto lacks
 * StartMessageMoveTask and because a job message must change on the way: the job gets a new enqueue token
 * (and fencing token) and the resent message carries it, so the job is claimable again and any older copy
 * of its message is recognised as stale.
 */
import { randomUUID } from 'node:crypto';
import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageCommand,
  type Message,
  ReceiveMessageCommand,
  SendMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { PRIORITY_TIERS, type Priority, type PriorityTier, RECOVERY } from '#policy';
import { awsClientConfig } from '#shared/aws';
import { isUuid } from '#shared/customer-store';
import { databaseFromEnv } from '#shared/database-config';
import type { Database, Sql } from '#shared/db';
import { type Env, intEnv } from '#shared/env';
import {
  dlqUrlsFromEnv,
  type JobMessage,
  parseJobMessage,
  queueCounts,
  queueUrlsFromEnv,
  SqsJobQueue,
  type TierUrls,
} from '#shared/job-queue';
import { PgJobStore } from '#shared/job-store';
import { ERROR_CLASSES, type ErrorClass } from '#shared/submission-ledger';

export interface DlqMessageSummary {
  messageId: string;
  tier: 'P1' | 'P2' | 'P3';
  jobId: string | null;
  customerId: string | null;
  errorClass: ErrorClass | null;
  error: string | null;
  /** SQS's ApproximateReceiveCount: deliveries from the source queue plus any DLQ peeks. */
  receiveCount: number;
  sentAt: string;
}

export interface DlqTierSummary {
  tier: 'P1' | 'P2' | 'P3';
  depth: number;
  messages: DlqMessageSummary[];
}

export interface RedriveReport {
  moved: number;
  skipped: number;
  byClass: Record<string, number>;
  byTier: Record<string, number>;
}

export interface DlqService {
  /** Depth of every tier's DLQ and a peek at its messages, without consuming them. */
  inspect(options?: { maxPerTier?: number }): Promise<DlqTierSummary[]>;
  /** Moves messages whose job's error class is chosen back to their source queue (receive → send with a
   *  new deduplication id → delete); others stay. At most RECOVERY.dlqRedriveMaxPerCall per call. */
  redrive(options: {
    errorClasses: readonly ErrorClass[] | 'all';
    tiers?: readonly Priority[];
    limit?: number;
  }): Promise<RedriveReport>;
}

/** A redrive request that cannot be carried out as asked (the API answers 400 with this message). */
export class InvalidRedriveRequest extends Error {
  override readonly name = 'InvalidRedriveRequest';
}

export interface DlqServiceOptions {
  sqs: SQSClient;
  /** Tier DLQ URLs. */
  dlqUrls: TierUrls;
  /** Tier source queue URLs; needed only to redrive. */
  queueUrls?: TierUrls;
  sql: Sql;
  /** @default RECOVERY.dlqPeekHoldSeconds */
  peekHoldSeconds?: number;
  /** @default RECOVERY.dlqRedriveHoldSeconds */
  redriveHoldSeconds?: number;
  /** @default RECOVERY.dlqRedriveMaxPerCall */
  redriveMaxPerCall?: number;
  /** Long-poll wait of a receive that may find the queue empty. @default 1 */
  receiveWaitSeconds?: number;
}

/** Key in RedriveReport.byClass for a job message whose job records no error class. */
export const UNCLASSIFIED = 'unclassified';

interface JobRow {
  id: string;
  customer_id: string;
  status: string;
  error: string | null;
  error_class: string | null;
}

interface Received {
  tier: PriorityTier;
  message: Message;
  job: JobMessage | null;
  row: JobRow | undefined;
  summary: DlqMessageSummary;
}

const SQS_BATCH = 10;

function classify(
  job: JobMessage | null,
  row: JobRow | undefined,
): Pick<DlqMessageSummary, 'errorClass' | 'error'> {
  if (!job) return { errorClass: 'internal', error: 'message body is not a job message' };
  if (!row) return { errorClass: 'internal', error: `job ${job.jobId} does not exist` };
  const known = ERROR_CLASSES.includes(row.error_class as ErrorClass);
  return {
    // A class outside the list (written by something newer or older) is still a failure of ours.
    errorClass: known ? (row.error_class as ErrorClass) : row.error_class ? 'internal' : null,
    error: row.error,
  };
}

function parseBody(body: string | undefined): JobMessage | null {
  try {
    return parseJobMessage(body ?? '');
  } catch {
    return null;
  }
}

export class SqsDlqService implements DlqService {
  private readonly peekHoldSeconds: number;
  private readonly redriveHoldSeconds: number;
  private readonly maxPerCall: number;
  private readonly waitSeconds: number;
  private readonly jobs: PgJobStore;

  constructor(private readonly o: DlqServiceOptions) {
    this.peekHoldSeconds = o.peekHoldSeconds ?? RECOVERY.dlqPeekHoldSeconds;
    this.redriveHoldSeconds = o.redriveHoldSeconds ?? RECOVERY.dlqRedriveHoldSeconds;
    this.maxPerCall = o.redriveMaxPerCall ?? RECOVERY.dlqRedriveMaxPerCall;
    this.waitSeconds = o.receiveWaitSeconds ?? 1;
    this.jobs = new PgJobStore(o.sql);
  }

  async inspect(options: { maxPerTier?: number } = {}): Promise<DlqTierSummary[]> {
    const max = options.maxPerTier ?? RECOVERY.dlqPeekMaxPerTier;
    if (!Number.isInteger(max) || max < 0) throw new RangeError('maxPerTier must be a non-negative integer');
    return Promise.all(
      PRIORITY_TIERS.map(async (tier): Promise<DlqTierSummary> => {
        const url = this.o.dlqUrls[tier.priority];
        const depth = await this.depth(url);
        if (depth === 0 || max === 0) return { tier: tier.name, depth, messages: [] };
        const peeked: Message[] = [];
        const seen = new Set<string>();
        try {
          // Stop once every message is seen (depth is approximate, so also on an empty receive).
          for (let i = 0; peeked.length < Math.min(max, depth) && i < Math.ceil(max / SQS_BATCH) + 2; i++) {
            const batch = await this.receive(
              url,
              Math.min(SQS_BATCH, max - peeked.length),
              this.peekHoldSeconds,
            );
            if (batch.length === 0) break;
            for (const m of batch) {
              if (m.MessageId && !seen.has(m.MessageId)) {
                seen.add(m.MessageId);
                peeked.push(m);
              }
            }
          }
        } finally {
          await this.release(url, peeked);
        }
        const received = await this.enrich(tier, peeked);
        return {
          tier: tier.name,
          depth: Math.max(depth, peeked.length),
          messages: received.map((r) => r.summary).sort((a, b) => a.sentAt.localeCompare(b.sentAt)),
        };
      }),
    );
  }

  async redrive(options: {
    errorClasses: readonly ErrorClass[] | 'all';
    tiers?: readonly Priority[];
    limit?: number;
  }): Promise<RedriveReport> {
    const { classes, tiers, limit } = this.validate(options);
    const report: RedriveReport = { moved: 0, skipped: 0, byClass: {}, byTier: {} };
    for (const tier of tiers) {
      if (report.moved >= limit) break;
      const url = this.o.dlqUrls[tier.priority];
      const depth = await this.depth(url);
      const held: Message[] = [];
      let seen = 0;
      try {
        while (report.moved < limit && seen < depth) {
          const batch = await this.enrich(tier, await this.receive(url, SQS_BATCH, this.redriveHoldSeconds));
          if (batch.length === 0) break;
          seen += batch.length;
          for (const r of batch) {
            const chosen =
              classes === 'all' || (r.summary.errorClass !== null && classes.has(r.summary.errorClass));
            if (!chosen || report.moved >= limit || !(await this.move(r))) {
              held.push(r.message);
              report.skipped += 1;
              continue;
            }
            const key = r.summary.errorClass ?? UNCLASSIFIED;
            report.moved += 1;
            report.byClass[key] = (report.byClass[key] ?? 0) + 1;
            report.byTier[tier.name] = (report.byTier[tier.name] ?? 0) + 1;
          }
        }
      } finally {
        // Messages not moved go straight back, visible to the next peek or redrive.
        await this.release(url, held);
      }
    }
    return report;
  }

  private validate(options: {
    errorClasses: readonly ErrorClass[] | 'all';
    tiers?: readonly Priority[];
    limit?: number;
  }): { classes: ReadonlySet<ErrorClass> | 'all'; tiers: PriorityTier[]; limit: number } {
    const problems: string[] = [];
    const { errorClasses } = options;
    if (errorClasses !== 'all') {
      if (!Array.isArray(errorClasses) || errorClasses.length === 0) {
        problems.push(`errorClasses must be 'all' or a non-empty list of: ${ERROR_CLASSES.join(', ')}`);
      } else {
        const unknown = errorClasses.filter((c) => !ERROR_CLASSES.includes(c));
        if (unknown.length > 0) problems.push(`unknown error class(es): ${unknown.join(', ')}`);
      }
    }
    const tiers = options.tiers ?? PRIORITY_TIERS.map((t) => t.priority);
    const badTiers = tiers.filter((p) => !PRIORITY_TIERS.some((t) => t.priority === p));
    if (!Array.isArray(tiers) || tiers.length === 0 || badTiers.length > 0) {
      problems.push('tiers must be a non-empty list of priorities 1, 2, 3');
    }
    const asked = options.limit ?? this.maxPerCall;
    if (!Number.isInteger(asked) || asked < 1) problems.push('limit must be a positive integer');
    // One call moves at most maxPerCall (it must finish well within API Gateway's 29 s); the report says how
    // many moved, and the caller calls again for the rest.
    const limit = Math.min(asked, this.maxPerCall);
    if (problems.length > 0) throw new InvalidRedriveRequest(problems.join('; '));
    if (!this.o.queueUrls) throw new Error('redrive needs the source queue URLs (QUEUE_URL_P1..P3)');
    return {
      classes: errorClasses === 'all' ? 'all' : new Set(errorClasses),
      tiers: PRIORITY_TIERS.filter((t) => tiers.includes(t.priority)),
      limit,
    };
  }

  /** Sends one DLQ message back and deletes it; false when it must stay (its job has ended). */
  private async move(r: Received): Promise<boolean> {
    const queueUrls = this.o.queueUrls as TierUrls;
    if (r.job && r.row) {
      const { rows } = await this.o.sql.query<{ enqueue_token: number; priority: number }>(
        `WITH revived AS (
           UPDATE jobs SET enqueue_token = enqueue_token + 1, fencing_token = fencing_token + 1,
                  status = 'pending', attempts = 0, error = NULL, error_class = NULL, finished_at = NULL
           WHERE id = $1 AND status NOT IN ('completed', 'cancelled')
           RETURNING id, enqueue_token, priority
         ), event AS (
           INSERT INTO job_events (job_id, type, detail)
           SELECT id, 'redriven', jsonb_build_object('fromTier', $2::text, 'messageId', $3::text,
                  'errorClass', $4::text, 'error', $5::text, 'enqueueToken', enqueue_token)
           FROM revived
         )
         SELECT enqueue_token, priority FROM revived`,
        [r.job.jobId, r.tier.name, r.message.MessageId, r.summary.errorClass, r.summary.error],
      );
      const revived = rows[0];
      // A completed or cancelled job needs nothing: its message stays for a person to look at or purge.
      if (!revived) return false;
      // If this send fails, the job is 'pending' and the stale-job run's sweep sends it; the DLQ message
      // stays (it is not deleted), and a later redrive simply raises the token again.
      const message: JobMessage = {
        jobId: r.job.jobId,
        enqueueToken: revived.enqueue_token,
        priority: revived.priority as Priority,
        enqueuedAt: new Date().toISOString(),
      };
      await new SqsJobQueue(this.o.sqs, queueUrls).enqueue(message);
      await this.jobs.markQueued(message.jobId, message.enqueueToken);
    } else {
      // Poison: back as it was, to the queue it died on, under a new deduplication id.
      await this.o.sqs.send(
        new SendMessageCommand({
          QueueUrl: queueUrls[r.tier.priority],
          MessageBody: r.message.Body ?? '',
          MessageGroupId: r.message.Attributes?.MessageGroupId ?? r.message.MessageId ?? randomUUID(),
          MessageDeduplicationId: randomUUID(),
        }),
      );
    }
    await this.o.sqs.send(
      new DeleteMessageCommand({
        QueueUrl: this.o.dlqUrls[r.tier.priority],
        ReceiptHandle: r.message.ReceiptHandle,
      }),
    );
    return true;
  }

  private async depth(url: string): Promise<number> {
    const { visible, notVisible } = await queueCounts(this.o.sqs, url);
    return visible + notVisible;
  }

  private async receive(url: string, max: number, holdSeconds: number): Promise<Message[]> {
    const res = await this.o.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: url,
        MaxNumberOfMessages: max,
        VisibilityTimeout: holdSeconds,
        WaitTimeSeconds: this.waitSeconds,
        MessageSystemAttributeNames: ['All'],
      }),
    );
    return res.Messages ?? [];
  }

  /** Makes messages visible again at once; if this fails they return anyway when their hold ends. */
  private async release(url: string, messages: readonly Message[]): Promise<void> {
    for (let i = 0; i < messages.length; i += SQS_BATCH) {
      await this.o.sqs
        .send(
          new ChangeMessageVisibilityBatchCommand({
            QueueUrl: url,
            Entries: messages.slice(i, i + SQS_BATCH).map((m, j) => ({
              Id: String(j),
              ReceiptHandle: m.ReceiptHandle,
              VisibilityTimeout: 0,
            })),
          }),
        )
        .catch(() => {});
    }
  }

  private async enrich(tier: PriorityTier, messages: readonly Message[]): Promise<Received[]> {
    const parsed = messages.map((m) => ({ message: m, job: parseBody(m.Body) }));
    const ids = [...new Set(parsed.flatMap((p) => (p.job && isUuid(p.job.jobId) ? [p.job.jobId] : [])))];
    const rows = new Map<string, JobRow>();
    if (ids.length > 0) {
      const res = await this.o.sql.query<JobRow>(
        'SELECT id, customer_id, status, error, error_class FROM jobs WHERE id = ANY($1::uuid[])',
        [ids],
      );
      for (const row of res.rows) rows.set(row.id, row);
    }
    return parsed.map(({ message, job }) => {
      const row = job ? rows.get(job.jobId) : undefined;
      const sent = Number(message.Attributes?.SentTimestamp);
      return {
        tier,
        message,
        job,
        row,
        summary: {
          messageId: message.MessageId ?? '',
          tier: tier.name,
          jobId: job?.jobId ?? null,
          customerId: row?.customer_id ?? null,
          ...classify(job, row),
          receiveCount: Number(message.Attributes?.ApproximateReceiveCount ?? 0),
          sentAt: new Date(Number.isFinite(sent) ? sent : 0).toISOString(),
        },
      };
    });
  }
}

/** The real DLQ service over SQS and Postgres. */
export function createDlqService(options: DlqServiceOptions): DlqService {
  return new SqsDlqService(options);
}

/**
 * From a handler's environment: DLQ_URL_P1..P3 always; QUEUE_URL_P1..P3 too in 'redrive' mode (the API's
 * redrive route, the ops CLI), since moving a message back sends it to its source queue.
 */
export async function dlqServiceFromEnv(
  env: Env,
  db?: Database,
  mode: 'read' | 'redrive' = 'read',
): Promise<DlqService> {
  const dlqUrls = dlqUrlsFromEnv(env);
  const queueUrls = mode === 'redrive' ? queueUrlsFromEnv(env) : undefined;
  return createDlqService({
    sqs: new SQSClient(awsClientConfig(env)),
    dlqUrls,
    ...(queueUrls ? { queueUrls } : {}),
    sql: db ?? (await databaseFromEnv(env, 'formfleet-dlq')),
    receiveWaitSeconds: intEnv(env, 'DLQ_RECEIVE_WAIT_SECONDS', 1),
  });
}
