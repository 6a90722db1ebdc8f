/**
 * The listing lifecycle's decisions, as pure functions of a row, a lookup's answer and the time (no I/O, so
 * they are property-tested): what a lookup moves a listing to, and when it is looked up next.
 *
 *   (submitted) ──enter──▶ under_review ─┬─ found ─────────────────────▶ live (with its URL)
 *                                        ├─ rejected indicator ────────▶ rejected
 *                                        ├─ not there, an age to come ─▶ (stays; next age)
 *                                        ├─ not there at the last age ─▶ not_found
 *                                        └─ inconclusive ──────────────▶ (stays; retried, at most
 *                                                                          maxInconclusiveInARow in a row)
 *   pending_verification behaves the same (a lookup may find the listing before any mail link is visited).
 *
 * Ages are counted from the submission (its finished_at), not from the previous lookup, so a run that was
 * down for a while does not push every later age back: the next lookup is at the first age still to come.
 */
import type { VerificationResult } from '#functions/worker/form-engine';
import type { ListingState } from '#shared/submission-ledger';

export interface LifecycleTiming {
  /** Recheck ages after the submission, ascending (policy LIFECYCLE.recheckAgesSeconds). */
  agesSeconds: readonly number[];
  inconclusiveRetrySeconds: number;
  maxInconclusiveInARow: number;
}

/** A listing waiting for the directory, as a lookup of it read it. */
export interface WaitingListing {
  lifecycle: 'pending_verification' | 'under_review';
  /** Inconclusive lookups in a row so far. */
  inconclusiveChecks: number;
  /** When it was submitted: the ages count from here. */
  submittedAt: Date;
}

/**
 * What a lookup came to: a lookup's own result (verifyListing), or 'no_lookup' when the directory cannot be
 * looked up at all (its definition has no `verify`, or the directory or customer is gone): no site is
 * visited, and the age passes.
 */
export interface LookupAnswer {
  result: VerificationResult | 'no_lookup';
  /** Why, when it is not a clear answer (the lookup's error, or why there was no lookup). */
  error?: string | undefined;
  /** Where the found listing lives. */
  listingUrl?: string | undefined;
}

/** The lifecycle write a lookup asks for. */
export interface LifecycleStep {
  to: ListingState;
  /** NULL once the listing is settled (live, not_found, rejected). */
  nextCheckAt: Date | null;
  inconclusiveChecks: number;
  listingUrl: string | null;
  /** What the lookup said, in words, for the row and the event (never profile data). */
  reason: string;
}

export const SETTLED_LISTING_STATES: readonly ListingState[] = ['live', 'not_found', 'rejected'];

/** The first recheck of a listing submitted at `submittedAt`. */
export function firstCheckAt(submittedAt: Date, timing: LifecycleTiming): Date {
  return at(submittedAt, timing.agesSeconds[0] ?? 0);
}

/** The first recheck age of `submittedAt` still to come after `now`; undefined once every age has passed. */
export function nextAgeAfter(submittedAt: Date, now: Date, timing: LifecycleTiming): Date | undefined {
  for (const age of timing.agesSeconds) {
    const when = at(submittedAt, age);
    if (when.getTime() > now.getTime()) return when;
  }
  return undefined;
}

/** What one lookup (at `now`) does to a waiting listing. */
export function afterLookup(
  row: WaitingListing,
  answer: LookupAnswer,
  now: Date,
  timing: LifecycleTiming,
): LifecycleStep {
  const settle = (to: ListingState, reason: string, listingUrl: string | null = null): LifecycleStep => ({
    to,
    nextCheckAt: null,
    inconclusiveChecks: 0,
    listingUrl,
    reason,
  });
  /** This age passed without the listing: the next age, or not_found after the last. */
  const agePassed = (reason: string): LifecycleStep => {
    const next = nextAgeAfter(row.submittedAt, now, timing);
    if (!next) return settle('not_found', `${reason}; that was the last recheck`);
    return { to: row.lifecycle, nextCheckAt: next, inconclusiveChecks: 0, listingUrl: null, reason };
  };
  switch (answer.result) {
    case 'found':
      return settle('live', 'the lookup found the listing', answer.listingUrl ?? null);
    case 'rejected':
      return settle('rejected', answer.error ?? 'the directory declined the listing');
    case 'not_found':
      return agePassed('the directory says it is not listed');
    case 'mismatch':
      return agePassed(answer.error ?? 'a listing by this name belongs to another business');
    case 'no_lookup':
      return agePassed(`not looked up: ${answer.error ?? 'the directory offers no lookup'}`);
    case 'inconclusive': {
      const inARow = row.inconclusiveChecks + 1;
      const why = `the lookup was inconclusive${answer.error ? ` (${answer.error})` : ''}`;
      if (inARow >= timing.maxInconclusiveInARow) {
        return agePassed(`${why}, ${inARow} times in a row`);
      }
      return {
        to: row.lifecycle,
        nextCheckAt: at(now, timing.inconclusiveRetrySeconds),
        inconclusiveChecks: inARow,
        listingUrl: null,
        reason: why,
      };
    }
  }
}

const at = (from: Date, seconds: number) => new Date(from.getTime() + seconds * 1000);
