/**
 * The dashboard's listings panel (issue 13): what became of the submitted listings after the click. Counts
 * by lifecycle state (the rows that hold their business and directory, not those a resubmission took
 * over), how many rechecks are due now and when the next is, and the newest changes of state from the
 * job_events log (listing.<state>); the newest proofs of submit clicks (issue 13: what the page answered,
 * which indicator decided, where each screenshot is), and what the verification mail came to
 * (inbound_mail, by outcome). Ids, states and times only: no profile data, no listing URL, no screenshot
 * link (the URL may carry the business's name; `npm run ops -- jobs show <job>` prints the links).
 */
import { LOCAL } from '#policy';
import type { Sql } from '#shared/db';
import { LISTING_STATES, type ListingState } from '#shared/submission-ledger';

export interface LifecycleFigures {
  byState: Record<ListingState, number>;
  /** Submitted rows not entered yet (the next recheck run enters them). */
  entering: number;
  /** Rechecks due now, and the next one due later. */
  dueNow: number;
  nextCheckAt: string | null;
  recent: { jobId: string; directoryId: string; from: ListingState | null; to: ListingState; at: string }[];
  /** The newest proofs, newest first: each screenshot's state (pending, stored, lost, not taken). */
  proofs: {
    jobId: string;
    directoryId: string;
    attempt: number;
    capturedAt: string;
    httpStatus: number | null;
    matched: string | null;
    form: string;
    result: string;
  }[];
  /** Verification mail received, by outcome (refused ones by reason as `refused:<reason>`). */
  mail: Record<string, number>;
}

export async function lifecycleFigures(sql: Pick<Sql, 'query'>): Promise<LifecycleFigures> {
  const [counts, due, recent, proofs, mail] = await Promise.all([
    sql.query<{ lifecycle: ListingState | null; n: number }>(
      `SELECT lifecycle, count(*)::int AS n FROM submissions
        WHERE status = 'submitted' AND superseded_by IS NULL GROUP BY lifecycle`,
    ),
    sql.query<{ due_now: number; next_at: Date | null }>(
      `SELECT count(*) FILTER (WHERE next_check_at <= now())::int AS due_now,
              min(next_check_at) FILTER (WHERE next_check_at > now()) AS next_at
         FROM submissions WHERE next_check_at IS NOT NULL AND superseded_by IS NULL`,
    ),
    sql.query<{
      job_id: string;
      detail: { directoryId?: string; from?: ListingState | null; to?: ListingState };
      created_at: Date;
    }>(
      `SELECT job_id, detail, created_at FROM job_events WHERE type LIKE 'listing.%' ORDER BY id DESC LIMIT $1`,
      [LOCAL.dashboardRecent],
    ),
    sql.query<{
      job_id: string;
      directory_id: string;
      attempt: number;
      captured_at: Date;
      http_status: number | null;
      matched_kind: string | null;
      matched_index: number | null;
      form: string | null;
      result: string | null;
    }>(
      `SELECT s.job_id, s.directory_id, p.attempt, p.captured_at, p.http_status, p.matched_kind, p.matched_index,
              (SELECT o.state FROM evidence_objects o
                WHERE o.submission_id = p.submission_id AND o.attempt = p.attempt AND o.kind = 'form') AS form,
              (SELECT o.state FROM evidence_objects o
                WHERE o.submission_id = p.submission_id AND o.attempt = p.attempt AND o.kind = 'result') AS result
         FROM submission_proofs p JOIN submissions s ON s.id = p.submission_id
        ORDER BY p.captured_at DESC LIMIT $1`,
      [LOCAL.dashboardRecent],
    ),
    sql.query<{ outcome: string; n: number }>(
      `SELECT CASE WHEN outcome = 'refused' THEN 'refused:' || reason ELSE outcome END AS outcome,
              count(*)::int AS n
         FROM inbound_mail GROUP BY 1 ORDER BY 1`,
    ),
  ]);
  const byState = Object.fromEntries(LISTING_STATES.map((s) => [s, 0])) as Record<ListingState, number>;
  let entering = 0;
  for (const row of counts.rows) {
    if (row.lifecycle) byState[row.lifecycle] = row.n;
    else entering = row.n;
  }
  return {
    byState,
    entering,
    dueNow: due.rows[0]?.due_now ?? 0,
    nextCheckAt: due.rows[0]?.next_at?.toISOString() ?? null,
    recent: recent.rows.flatMap((e) =>
      e.detail.to
        ? [
            {
              jobId: e.job_id,
              directoryId: e.detail.directoryId ?? '?',
              from: e.detail.from ?? null,
              to: e.detail.to,
              at: e.created_at.toISOString(),
            },
          ]
        : [],
    ),
    proofs: proofs.rows.map((p) => ({
      jobId: p.job_id,
      directoryId: p.directory_id,
      attempt: p.attempt,
      capturedAt: p.captured_at.toISOString(),
      httpStatus: p.http_status,
      matched: p.matched_kind
        ? `${p.matched_kind}${p.matched_index === null ? '' : `[${p.matched_index}]`}`
        : null,
      form: p.form ?? 'not taken',
      result: p.result ?? 'not taken',
    })),
    mail: Object.fromEntries(mail.rows.map((m) => [m.outcome, m.n])),
  };
}

const tile = (name: string, label: string) =>
  `<div class="tile"><span class="value" data-figure="${name}">–</span><span class="label">${label}</span></div>`;

/** The panel's markup; client/lifecycle.ts fills its `data-figure` elements. */
export function lifecyclePanelHtml(): string {
  return `<section class="listings">
      <h2>Listings after the click</h2>
      <div class="tiles">
        ${LISTING_STATES.map((s) => tile(`listings.${s}`, s.replace('_', ' '))).join('\n        ')}
      </div>
      <p class="note">rechecks due now: <b data-figure="listings.dueNow">–</b> · next: <b data-figure="listings.next">–</b>
        · entering: <b data-figure="listings.entering">–</b></p>
      <table class="list"><thead><tr><th>job</th><th>directory</th><th>change</th><th>when</th></tr></thead>
        <tbody data-figure="listings.recent"></tbody></table>
      <p class="note">verification mail: <b data-figure="listings.mail">–</b></p>
      <h3>Recent proofs</h3>
      <table class="list"><thead><tr><th>job</th><th>directory</th><th>click</th><th>page</th><th>form</th><th>result</th><th>when</th></tr></thead>
        <tbody data-figure="listings.proofs"></tbody></table>
    </section>`;
}
