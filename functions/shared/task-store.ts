/**
 * The people's side of the ledger (issue 14, sql/105_tasks.sql): a row the robot must not finish (a captcha,
 * a login wall, an `unknown` nobody could decide) is a task. The ledger's trigger makes and withdraws tasks;
 * this store lists them, leases them to a person and resolves them.
 *
 *   open ──claim──▶ open, leased to a person until lease_expires_at (claim_token + 1)
 *        ──release (the claim's token)──▶ open, unleased
 *        ──resolve──▶ resolved: the ledger row moves from_status → submitted | failed | skipped
 *        ──(the row moved on by itself: a retry, a resubmission)──▶ withdrawn (the trigger)
 *
 * Resolving is fenced like the worker's writes: one transaction locks the job, the ledger row and the task
 * (in that order, the order every ledger writer takes them), moves the task only if still open and not
 * leased to someone else, and the row only if still in the state the task was made for, with its
 * 'task.resolved' job event and the job's counts. Of two people resolving one task the second finds it
 * resolved: one success, one refusal. A row resolved 'submitted' enters the once-per-business index (another
 * row holding the business and directory refuses it) and the listing lifecycle, like a worker's.
 */
import { cursorAtSql, keysetPage } from '#functions/api/cursor';
import { PgListingLifecycle } from '#functions/lifecycle/listing-lifecycle';
import { LIFECYCLE, TASKS } from '#policy';
import type { Sql } from '#shared/db';
import { countByStatus, MAX_ERROR_LENGTH, type SubmissionStatus } from '#shared/submission-ledger';

export const TASK_KINDS = ['captcha', 'login', 'unknown'] as const;
export type TaskKind = (typeof TASK_KINDS)[number];
/** What a task is in: `claimed` is an open task whose lease has not expired. */
export const TASK_STATES = ['open', 'claimed', 'resolved', 'withdrawn'] as const;
export type TaskState = (typeof TASK_STATES)[number];
export const TASK_OUTCOMES = ['submitted', 'failed', 'skipped'] as const;
export type TaskOutcome = (typeof TASK_OUTCOMES)[number];

export interface TaskClaim {
  by: string;
  /** Name it in release and resolve: a claim taken over after its lease expired has another token. */
  token: number;
  expiresAt: string;
}

export interface Task {
  id: string;
  kind: TaskKind;
  status: TaskState;
  jobId: string;
  customerId: string;
  directoryId: string;
  directoryName: string;
  /** Where a person submits by hand: the directory's "add your business" page. */
  submissionUrl: string;
  /** The ledger state the task was made for, and the row's state now. */
  fromStatus: SubmissionStatus;
  ledgerStatus: SubmissionStatus;
  reason: string | null;
  claim: TaskClaim | null;
  outcome: TaskOutcome | null;
  resolvedBy: string | null;
  resolvedAt: string | null;
  note: string | null;
  listingUrl: string | null;
  withdrawnReason: string | null;
  createdAt: string;
  updatedAt: string;
  /** The ledger row (its proofs are looked up by it; the API does not show it). */
  submissionId: number;
}

export interface TaskListFilter {
  status?: TaskState;
  kind?: TaskKind;
  directoryId?: string;
  jobId?: string;
  limit: number;
  /** Keyset: [createdAt as printed by cursorAtSql, id] of the last task of the previous page. */
  after?: string[];
}

export interface Resolution {
  outcome: TaskOutcome;
  /** Who resolved it (the claimant's name when the claim is named). */
  by: string;
  /** The token of the caller's claim; without it the task must not be leased to anyone. */
  claimToken?: number;
  listingUrl?: string;
  note?: string;
}

/** Why a claim, release or resolve was refused, in words a person can act on. */
export type TaskRefusal = { kind: 'missing' } | { kind: 'conflict'; message: string; task: Task };

export type TaskResult = { kind: 'ok'; task: Task } | TaskRefusal;

export interface TaskStore {
  list(filter: TaskListFilter): Promise<{ tasks: Task[]; next: string[] | null }>;
  get(id: string): Promise<Task | undefined>;
  /** Leases an open task to `by` for TASKS.leaseSeconds, unless someone else holds a live lease. */
  claim(id: string, by: string): Promise<TaskResult>;
  /** Gives a claimed task back (the claim's token). */
  release(id: string, claimToken: number): Promise<TaskResult>;
  /** Resolves the task and moves its ledger row, once (see the module comment). */
  resolve(id: string, resolution: Resolution): Promise<TaskResult>;
}

interface TaskRow {
  id: string;
  kind: TaskKind;
  status: 'open' | 'resolved' | 'withdrawn';
  leased: boolean;
  job_id: string;
  customer_id: string;
  directory_id: string;
  directory_name: string;
  submission_url: string;
  from_status: SubmissionStatus;
  ledger_status: SubmissionStatus;
  reason: string | null;
  claimed_by: string | null;
  claim_token: number;
  lease_expires_at: Date | null;
  outcome: TaskOutcome | null;
  resolved_by: string | null;
  resolved_at: Date | null;
  note: string | null;
  listing_url: string | null;
  withdrawn_reason: string | null;
  created_at: Date;
  updated_at: Date;
  submission_id: string;
  cursor_at: string;
}

const TASK_SELECT = `SELECT t.id, t.kind, t.status, t.lease_expires_at > now() AS leased, t.job_id, t.customer_id,
       t.directory_id, d.name AS directory_name, d.submission_url, t.from_status, s.status AS ledger_status,
       t.reason, t.claimed_by, t.claim_token, t.lease_expires_at, t.outcome, t.resolved_by, t.resolved_at,
       t.note, t.listing_url, t.withdrawn_reason, t.created_at, t.updated_at, t.submission_id,
       ${cursorAtSql('t.created_at')} AS cursor_at
  FROM tasks t JOIN directories d ON d.id = t.directory_id JOIN submissions s ON s.id = t.submission_id`;

/** The SQL condition of a task state (on `t`). */
const STATE_SQL: Record<TaskState, string> = {
  open: `t.status = 'open' AND (t.lease_expires_at IS NULL OR t.lease_expires_at <= now())`,
  claimed: `t.status = 'open' AND t.lease_expires_at > now()`,
  resolved: `t.status = 'resolved'`,
  withdrawn: `t.status = 'withdrawn'`,
};

function toTask(r: TaskRow): Task {
  const leased = r.status === 'open' && r.leased;
  return {
    id: r.id,
    kind: r.kind,
    status: r.status === 'open' ? (leased ? 'claimed' : 'open') : r.status,
    jobId: r.job_id,
    customerId: r.customer_id,
    directoryId: r.directory_id,
    directoryName: r.directory_name,
    submissionUrl: r.submission_url,
    fromStatus: r.from_status,
    ledgerStatus: r.ledger_status,
    reason: r.reason,
    claim:
      leased && r.claimed_by && r.lease_expires_at
        ? { by: r.claimed_by, token: r.claim_token, expiresAt: r.lease_expires_at.toISOString() }
        : null,
    outcome: r.outcome,
    resolvedBy: r.resolved_by,
    resolvedAt: r.resolved_at?.toISOString() ?? null,
    note: r.note,
    listingUrl: r.listing_url,
    withdrawnReason: r.withdrawn_reason,
    createdAt: r.created_at.toISOString(),
    updatedAt: r.updated_at.toISOString(),
    submissionId: Number(r.submission_id),
  };
}

/** The refusal of a task that is no longer open. */
function ended(task: Task): TaskRefusal {
  return {
    kind: 'conflict',
    task,
    message:
      task.status === 'resolved'
        ? `the task was already resolved (${task.outcome}) by ${task.resolvedBy} at ${task.resolvedAt}`
        : `the task was withdrawn: ${task.withdrawnReason ?? 'its ledger row moved on'}`,
  };
}

const heldBy = (task: Task, claim: TaskClaim): TaskRefusal => ({
  kind: 'conflict',
  task,
  message: `the task is claimed by ${claim.by} until ${claim.expiresAt}`,
});

/** Whether a database error is the once-per-business index refusing a second holder. */
const isHeldViolation = (err: unknown) =>
  (err as { code?: string })?.code === '23505' &&
  (err as { constraint?: string }).constraint === 'submissions_once_idx';

/** Thrown inside the resolve transaction to roll it back with a refusal. */
class Refused extends Error {
  constructor(readonly refusal: TaskRefusal) {
    super('refused');
  }
}

export class PgTaskStore implements TaskStore {
  constructor(
    private readonly sql: Sql,
    private readonly options: { leaseSeconds: number } = { leaseSeconds: TASKS.leaseSeconds },
  ) {}

  async list(filter: TaskListFilter): Promise<{ tasks: Task[]; next: string[] | null }> {
    const { rows } = await this.sql.query<TaskRow>(
      `${TASK_SELECT}
       WHERE ${filter.status ? STATE_SQL[filter.status] : 'true'}
         AND ($1::text IS NULL OR t.kind = $1)
         AND ($2::text IS NULL OR t.directory_id = $2)
         AND ($3::uuid IS NULL OR t.job_id = $3)
         AND ($4::timestamptz IS NULL OR (t.created_at, t.id) > ($4::timestamptz, $5::uuid))
       ORDER BY t.created_at, t.id
       LIMIT $6`,
      [
        filter.kind ?? null,
        filter.directoryId ?? null,
        filter.jobId ?? null,
        filter.after?.[0] ?? null,
        filter.after?.[1] ?? null,
        filter.limit + 1,
      ],
    );
    const { page, next } = keysetPage(rows, filter.limit, (r) => [r.cursor_at, r.id]);
    return { tasks: page.map(toTask), next };
  }

  async get(id: string, sql: Pick<Sql, 'query'> = this.sql): Promise<Task | undefined> {
    const { rows } = await sql.query<TaskRow>(`${TASK_SELECT} WHERE t.id = $1`, [id]);
    return rows[0] ? toTask(rows[0]) : undefined;
  }

  async claim(id: string, by: string): Promise<TaskResult> {
    const { rowCount } = await this.sql.query(
      `UPDATE tasks SET claimed_by = $2, lease_expires_at = now() + make_interval(secs => $3::float8),
              claim_token = claim_token + 1
        WHERE id = $1 AND status = 'open'
          AND (lease_expires_at IS NULL OR lease_expires_at <= now() OR claimed_by = $2)`,
      [id, by.slice(0, TASKS.claimantMaxLength), this.options.leaseSeconds],
    );
    const task = await this.get(id);
    if (!task) return { kind: 'missing' };
    if (rowCount === 1) return { kind: 'ok', task };
    if (task.status === 'resolved' || task.status === 'withdrawn') return ended(task);
    return task.claim ? heldBy(task, task.claim) : { kind: 'conflict', task, message: 'try again' };
  }

  async release(id: string, claimToken: number): Promise<TaskResult> {
    const { rowCount } = await this.sql.query(
      `UPDATE tasks SET claimed_by = NULL, lease_expires_at = NULL
        WHERE id = $1 AND status = 'open' AND claim_token = $2 AND claimed_by IS NOT NULL`,
      [id, claimToken],
    );
    const task = await this.get(id);
    if (!task) return { kind: 'missing' };
    if (rowCount === 1) return { kind: 'ok', task };
    if (task.status === 'resolved' || task.status === 'withdrawn') return ended(task);
    if (task.claim) return heldBy(task, task.claim);
    return { kind: 'conflict', task, message: 'the task is not claimed under this token' };
  }

  async resolve(id: string, resolution: Resolution): Promise<TaskResult> {
    try {
      return await this.sql.transaction((tx) => this.resolveIn(tx, id, resolution));
    } catch (err) {
      if (err instanceof Refused) return err.refusal;
      if (isHeldViolation(err)) {
        const task = await this.get(id);
        if (!task) return { kind: 'missing' };
        return {
          kind: 'conflict',
          task,
          message:
            'another ledger row already holds this customer and directory (submitted or in doubt); ' +
            'it cannot be submitted twice',
        };
      }
      throw err;
    }
  }

  private async resolveIn(tx: Sql, id: string, r: Resolution): Promise<TaskResult> {
    // Job, ledger row, task: the order every ledger writer locks them in (no deadlock with a retry).
    const { rows: refs } = await tx.query<{ job_id: string; submission_id: string }>(
      'SELECT job_id, submission_id FROM tasks WHERE id = $1',
      [id],
    );
    const ref = refs[0];
    if (!ref) return { kind: 'missing' };
    await tx.query('SELECT 1 FROM jobs WHERE id = $1 FOR NO KEY UPDATE', [ref.job_id]);
    await tx.query('SELECT 1 FROM submissions WHERE id = $1 FOR UPDATE', [ref.submission_id]);
    await tx.query('SELECT 1 FROM tasks WHERE id = $1 FOR UPDATE', [id]);
    const task = (await this.get(id, tx)) as Task;
    if (task.status === 'resolved' || task.status === 'withdrawn') return ended(task);
    if (task.claim && task.claim.token !== r.claimToken) return heldBy(task, task.claim);
    if (!task.claim && r.claimToken !== undefined) {
      const { rows } = await tx.query<{ claim_token: number }>(
        'SELECT claim_token FROM tasks WHERE id = $1',
        [id],
      );
      if (rows[0]?.claim_token !== r.claimToken) {
        return {
          kind: 'conflict',
          task,
          message: 'your claim expired and the task was claimed again since; claim it again first',
        };
      }
    }
    const by = (task.claim?.by ?? r.by).slice(0, TASKS.claimantMaxLength);
    const note = r.note?.slice(0, TASKS.noteMaxLength) ?? null;
    // The task first: the ledger trigger withdraws open tasks of a row that leaves their state.
    const moved = await tx.query(
      `UPDATE tasks SET status = 'resolved', outcome = $2, resolved_by = $3, resolved_at = now(), note = $4,
              listing_url = $5, claimed_by = NULL, lease_expires_at = NULL
        WHERE id = $1 AND status = 'open'`,
      [id, r.outcome, by, note, r.listingUrl ?? null],
    );
    if (moved.rowCount !== 1) throw new Error(`task ${id} changed under its row lock`);
    const error =
      r.outcome === 'submitted' ? null : `${r.outcome} by ${by}, by hand${note ? `: ${note}` : ''}`;
    const { rowCount } = await tx.query(
      `UPDATE submissions s SET status = $2, error = $3, error_class = $4, finished_at = now(),
              listing_url = COALESCE($5, s.listing_url),
              evidence = s.evidence || $6::jsonb
        WHERE s.id = $1 AND s.status = $7 AND s.superseded_by IS NULL`,
      [
        task.submissionId,
        r.outcome,
        error?.slice(0, MAX_ERROR_LENGTH) ?? null,
        r.outcome === 'failed' ? 'validation_error' : null,
        r.outcome === 'submitted' ? (r.listingUrl ?? null) : null,
        {
          task: { id, kind: task.kind, by, outcome: r.outcome, note },
          ...(r.outcome === 'skipped' ? { skip: 'person' } : {}),
        },
        task.fromStatus,
      ],
    );
    if (rowCount !== 1) {
      throw new Refused({
        kind: 'conflict',
        task,
        message: `the ledger row is ${task.ledgerStatus}, no longer ${task.fromStatus}: this task is out of date`,
      });
    }
    await tx.query(`INSERT INTO job_events (job_id, type, detail) VALUES ($1, 'task.resolved', $2)`, [
      task.jobId,
      {
        taskId: id,
        submissionId: task.submissionId,
        directoryId: task.directoryId,
        kind: task.kind,
        from: task.fromStatus,
        to: r.outcome,
        by,
        note,
        listingUrl: r.listingUrl ?? null,
      },
    ]);
    // The job's counts follow its ledger (the worker writes them the same way when it finishes).
    const { rows: statuses } = await tx.query<{ status: SubmissionStatus }>(
      'SELECT status FROM submissions WHERE job_id = $1',
      [task.jobId],
    );
    await tx.query(
      `UPDATE jobs SET progress = jsonb_set(progress, '{counts}', $2::jsonb) WHERE id = $1 AND status <> 'in_progress'`,
      [task.jobId, countByStatus(statuses)],
    );
    if (r.outcome === 'submitted') {
      // Into the listing lifecycle like a worker's submission (the next recheck run would otherwise).
      await new PgListingLifecycle(tx, { agesSeconds: LIFECYCLE.recheckAgesSeconds }).enter(
        task.jobId,
        task.directoryId,
      );
    }
    return { kind: 'ok', task: (await this.get(id, tx)) as Task };
  }
}
