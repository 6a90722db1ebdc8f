/**
 * The listing lifecycle's decisions (functions/lifecycle/lifecycle-rules.ts), driven by fast-check through
 * any sequence of lookup answers, each at any delay after it was due (a run that was down): the listing
 * settles within a bound, only the answer that justifies it settles it, and nothing is looked up before
 * its time. Plus the timing the functions read from their environment.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  afterLookup,
  firstCheckAt,
  type LifecycleTiming,
  type LookupAnswer,
  SETTLED_LISTING_STATES,
  type WaitingListing,
} from '#functions/lifecycle/lifecycle-rules';
import { lifecycleTimingFromEnv } from '#functions/lifecycle/timing';
import { LIFECYCLE } from '#policy';
import type { ListingState } from '#shared/submission-ledger';

const DAY = 86_400;
const timing: LifecycleTiming = lifecycleTimingFromEnv({});

const answer = fc.oneof(
  fc.constant<LookupAnswer>({ result: 'found', listingUrl: 'https://d.test/l/1' }),
  fc.constant<LookupAnswer>({ result: 'rejected' }),
  fc.constant<LookupAnswer>({ result: 'not_found' }),
  fc.constant<LookupAnswer>({ result: 'mismatch', error: 'another business' }),
  fc.constant<LookupAnswer>({ result: 'inconclusive', error: 'lookup answered HTTP 503' }),
  fc.constant<LookupAnswer>({ result: 'no_lookup', error: 'the directory offers no lookup' }),
);

interface Trace {
  to: ListingState;
  answer: LookupAnswer;
  at: number;
}

/** Runs the rules from the submission until settled (or out of answers); each lookup `delay` late. */
function follow(submittedAt: number, answers: readonly LookupAnswer[], delays: readonly number[]) {
  let row: WaitingListing = {
    lifecycle: 'under_review',
    inconclusiveChecks: 0,
    submittedAt: new Date(submittedAt),
  };
  let due = firstCheckAt(row.submittedAt, timing).getTime();
  const trace: Trace[] = [];
  for (const [i, a] of answers.entries()) {
    const at = due + (delays[i] ?? 0) * 1000;
    const step = afterLookup(row, a, new Date(at), timing);
    trace.push({ to: step.to, answer: a, at });
    if (SETTLED_LISTING_STATES.includes(step.to)) {
      expect(step.nextCheckAt).toBeNull();
      return { trace, settled: step };
    }
    // Waiting: looked up again strictly later, never more inconclusive lookups in a row than the bound.
    expect(step.nextCheckAt?.getTime()).toBeGreaterThan(at);
    expect(step.inconclusiveChecks).toBeLessThan(timing.maxInconclusiveInARow);
    row = {
      ...row,
      lifecycle: step.to as WaitingListing['lifecycle'],
      inconclusiveChecks: step.inconclusiveChecks,
    };
    due = step.nextCheckAt?.getTime() as number;
  }
  return { trace, settled: undefined };
}

const lastAgeMs = (timing.agesSeconds.at(-1) as number) * 1000;

describe('the listing lifecycle rules', () => {
  it('settle a listing only on the answer that justifies it, and within ages x inconclusive bound lookups', () => {
    const bound = timing.agesSeconds.length * timing.maxInconclusiveInARow;
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 2 ** 40 }),
        fc.array(answer, { minLength: bound, maxLength: bound }),
        fc.array(fc.integer({ min: 0, max: 40 * DAY }), { minLength: bound, maxLength: bound }),
        (submittedAt, answers, delays) => {
          const { trace, settled } = follow(submittedAt, answers, delays);
          expect(settled, 'settled within the bound').toBeDefined();
          const last = trace.at(-1) as Trace;
          if (last.to === 'live') expect(last.answer.result).toBe('found');
          if (last.to === 'rejected') expect(last.answer.result).toBe('rejected');
          if (last.to === 'not_found') {
            // Only once the last age has come, and never on a lookup that found or declined it.
            expect(last.at).toBeGreaterThanOrEqual(submittedAt + lastAgeMs);
            expect(['found', 'rejected']).not.toContain(last.answer.result);
          }
          // Before the end every lookup left it waiting.
          for (const t of trace.slice(0, -1)) expect(['under_review']).toContain(t.to);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('looks up on time at +1, +7 and +28 days when nothing is certain, and says not_found only after the last', () => {
    const submittedAt = Date.UTC(2030, 0, 1);
    const { trace, settled } = follow(
      submittedAt,
      [{ result: 'not_found' }, { result: 'not_found' }, { result: 'not_found' }],
      [0, 0, 0],
    );
    expect(trace.map((t) => (t.at - submittedAt) / 1000 / DAY)).toEqual([1, 7, 28]);
    expect(settled).toMatchObject({ to: 'not_found', nextCheckAt: null });
    expect(settled?.reason).toBe('the directory says it is not listed; that was the last recheck');
  });

  it('retries an inconclusive lookup after the retry delay, and lets the age pass after the bound', () => {
    const submittedAt = Date.UTC(2030, 0, 1);
    const inconclusive: LookupAnswer = { result: 'inconclusive', error: 'lookup answered HTTP 503' };
    const { trace } = follow(submittedAt, Array(timing.maxInconclusiveInARow + 1).fill(inconclusive), []);
    const hours = trace.map((t) => (t.at - submittedAt) / 3_600_000);
    const retry = LIFECYCLE.inconclusiveRetrySeconds / 3600;
    expect(hours).toEqual([24, 24 + retry, 24 + 2 * retry, 7 * 24]);
  });

  it('skips the ages a run missed: the next lookup is at the first age still to come', () => {
    const row: WaitingListing = {
      lifecycle: 'under_review',
      inconclusiveChecks: 0,
      submittedAt: new Date(0),
    };
    const step = afterLookup(row, { result: 'not_found' }, new Date(10 * DAY * 1000), timing);
    expect(step.nextCheckAt?.getTime()).toBe(28 * DAY * 1000);
    const late = afterLookup(row, { result: 'mismatch' }, new Date(30 * DAY * 1000), timing);
    expect(late).toMatchObject({ to: 'not_found', nextCheckAt: null });
  });

  it('shortens every age and delay by LIFECYCLE_SPEED_UP locally, and refuses it in Lambda', () => {
    expect(lifecycleTimingFromEnv({ LIFECYCLE_SPEED_UP: '8640' }).agesSeconds).toEqual([10, 70, 280]);
    expect(() => lifecycleTimingFromEnv({ LIFECYCLE_SPEED_UP: '0' })).toThrow(/at least 1/);
    expect(() =>
      lifecycleTimingFromEnv({
        LIFECYCLE_SPEED_UP: '10',
        AWS_LAMBDA_FUNCTION_NAME: 'formfleet-prod-recheck-listings',
      }),
    ).toThrow(/local runtime/);
    expect(lifecycleTimingFromEnv({ AWS_LAMBDA_FUNCTION_NAME: 'x' }).agesSeconds).toEqual(
      LIFECYCLE.recheckAgesSeconds,
    );
  });
});
