/**
 * The dead-letter port the DLQ routes program against. The recovery engineer implements it in
 * functions/recovery/dlq.ts (SQS + the jobs table); the types are declared here identically so the two meet
 * at merge. Until the real service is wired, `unwiredDlqService` answers 503 with a clear message instead of
 * failing obscurely.
 */
import type { Priority } from '#policy';
import type { ErrorClass } from '#shared/submission-ledger';
import { HttpError } from './http.ts';

export interface DlqMessageSummary {
  messageId: string;
  tier: 'P1' | 'P2' | 'P3';
  jobId: string | null;
  customerId: string | null;
  errorClass: ErrorClass | null;
  error: string | null;
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
  /** Moves messages whose job's error class is chosen back to their source queue; others stay. */
  redrive(options: {
    errorClasses: readonly ErrorClass[] | 'all';
    tiers?: readonly Priority[];
    limit?: number;
  }): Promise<RedriveReport>;
}

const unavailable = () =>
  new HttpError(503, 'unavailable', 'the dead-letter service is not wired into this build', undefined, {
    'retry-after': '300',
  });

export const unwiredDlqService: DlqService = {
  inspect: async () => {
    throw unavailable();
  },
  redrive: async () => {
    throw unavailable();
  },
};
