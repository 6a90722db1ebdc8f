/**
 * The ledger's decisions that need no database: what a retry does with each row (retryPlan), how many of a
 * tier's quiet jobs have lost their message (lostMessages), whether a listing's details are the
 * business's (sameDetail), and the definition's verify.match.
 */
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type RetryRow, retryPlan } from '#functions/api/job-queries';
import { lostMessages } from '#functions/recovery/recovery-store';
import { parseFormDefinition } from '#functions/worker/form-definition';
import { sameDetail } from '#functions/worker/form-engine';
import { PROJECT_ROOT } from '#local/services/python';
import {
  HOLDING_STATUSES,
  IN_DOUBT_STATUSES,
  SUBMISSION_STATUSES,
  type SubmissionStatus,
} from '#shared/submission-ledger';

const row = (over: Partial<RetryRow>): RetryRow => ({
  directoryId: 'd',
  status: 'failed',
  skip: null,
  errorClass: null,
  supersededBy: null,
  directoryActive: true,
  canVerify: true,
  holder: null,
  ...over,
});

const arbitraryRow: fc.Arbitrary<RetryRow> = fc.record({
  directoryId: fc.constantFrom('a', 'b', 'c'),
  status: fc.constantFrom(...SUBMISSION_STATUSES),
  skip: fc.constantFrom(null, 'held', 'inactive', 'cancelled', 'login'),
  errorClass: fc.constantFrom(null, 'login_required', 'timeout'),
  supersededBy: fc.constantFrom(null, 7),
  directoryActive: fc.constantFrom(true, false, null),
  canVerify: fc.boolean(),
  holder: fc.constantFrom(null, { jobId: 'j', status: 'submitted' as SubmissionStatus }),
});

describe('retryPlan', () => {
  it('never sends blindly what may have been sent, nor what is held, submitted or superseded', () => {
    fc.assert(
      fc.property(fc.array(arbitraryRow, { maxLength: 8 }), (rows) => {
        const plan = retryPlan(rows);
        expect(plan).toHaveLength(rows.length);
        for (const [i, decision] of plan.entries()) {
          const r = rows[i] as RetryRow;
          expect(decision.from).toBe(r.status);
          if (decision.action === 'none') expect(decision.to).toBe(r.status);
          // What may have been sent is looked up first, never put back to 'prepared'.
          if ([...IN_DOUBT_STATUSES, 'unknown'].includes(r.status)) expect(decision.to).not.toBe('prepared');
          if (decision.action === 'verify') {
            expect(decision.to).toBe('unverified');
            expect(r.canVerify && r.directoryActive).toBe(true);
          }
          // Settled without sending: only what the job left open, and only into a state with a reason.
          if (decision.action === 'settle') {
            expect(['prepared', 'submitting', 'unverified']).toContain(r.status);
            expect(['skipped', 'unknown']).toContain(decision.to);
          }
          if (decision.action === 'send') {
            expect(decision.to).toBe('prepared');
            expect(r.directoryActive).toBe(true);
            expect(r.holder).toBeNull();
            expect(['submitted', 'needs_manual', ...HOLDING_STATUSES]).not.toContain(r.status);
          }
          if (r.supersededBy !== null || r.status === 'submitted') expect(decision.action).toBe('none');
          expect(decision.reason.length).toBeGreaterThan(0);
        }
      }),
    );
  });

  it('undoes the skips whose reason has passed, and says why for the rest', () => {
    const plan = retryPlan([
      row({ directoryId: 'cancelled', status: 'skipped', skip: 'cancelled' }),
      row({ directoryId: 'back', status: 'skipped', skip: 'inactive' }),
      row({ directoryId: 'still-off', status: 'skipped', skip: 'inactive', directoryActive: false }),
      row({ directoryId: 'freed', status: 'skipped', skip: 'held' }),
      row({
        directoryId: 'held',
        status: 'skipped',
        skip: 'held',
        holder: { jobId: 'j9', status: 'submitted' },
      }),
      row({ directoryId: 'login', status: 'skipped', skip: 'login', errorClass: 'login_required' }),
      row({ directoryId: 'doubt', status: 'submitting' }),
      row({ directoryId: 'captcha', status: 'needs_manual' }),
      row({ directoryId: 'taken', status: 'prepared', holder: { jobId: 'j8', status: 'submitted' } }),
      row({ directoryId: 'gone', status: 'submitting', directoryActive: false }),
      row({ directoryId: 'no-lookup', status: 'unknown', canVerify: false }),
    ]);
    expect(plan.map((d) => [d.directoryId, d.action, d.to])).toEqual([
      ['cancelled', 'send', 'prepared'],
      ['back', 'send', 'prepared'],
      ['still-off', 'none', 'skipped'],
      ['freed', 'send', 'prepared'],
      ['held', 'none', 'skipped'],
      ['login', 'none', 'skipped'],
      ['doubt', 'verify', 'unverified'],
      ['captcha', 'none', 'needs_manual'],
      ['taken', 'settle', 'skipped'],
      ['gone', 'settle', 'unknown'],
      ['no-lookup', 'none', 'unknown'],
    ]);
    expect(plan[4]?.reason).toContain('j9');
    expect(plan[2]?.reason).toMatch(/inactive/);
  });
});

describe('lostMessages', () => {
  it('counts only the shortfall of messages, and never more than the quiet jobs', () => {
    expect(lostMessages({ expected: 3, quiet: 2 }, 0)).toBe(2);
    expect(lostMessages({ expected: 3, quiet: 2 }, 2)).toBe(1);
    expect(lostMessages({ expected: 3, quiet: 2 }, 5)).toBe(0);
    fc.assert(
      fc.property(fc.nat(50), fc.nat(50), fc.nat(60), (expected, quiet, messages) => {
        const q = Math.min(quiet, expected);
        const lost = lostMessages({ expected, quiet: q }, messages);
        expect(lost).toBeGreaterThanOrEqual(0);
        expect(lost).toBeLessThanOrEqual(q);
        expect(lost + messages).toBeGreaterThanOrEqual(Math.min(expected, q + messages));
      }),
    );
  });
});

describe('sameDetail', () => {
  it('compares phones by digits (a country code may be dropped), e-mails and websites as people write them', () => {
    expect(sameDetail('phone', '(217) 555-0100', '+1 217 555 0100')).toBe(true);
    expect(sameDetail('phone', '555 0100', '+1 217 555 0100')).toBe(true);
    expect(sameDetail('phone', '+1 312 555 0002', '+1 217 555 0001')).toBe(false);
    expect(sameDetail('phone', '0100', '+1 217 555 0100')).toBe(false);
    expect(sameDetail('email', ' Owner@Acme.TEST ', 'owner@acme.test')).toBe(true);
    expect(sameDetail('website', 'https://www.acme.test/', 'http://acme.test')).toBe(true);
    expect(sameDetail('name', 'Acme   Plumbing', 'acme plumbing')).toBe(true);
    expect(sameDetail('email', '', '')).toBe(false);
  });
});

describe('verify.match in a definition', () => {
  const base = {
    submissionUrl: 'https://d.example/add',
    steps: [{ action: 'submit', selectors: ['#s'] }],
    success: [{ selector: '#ok' }],
  };

  it('is kept as given, and needs found.selector to find each listing', () => {
    const verify = {
      url: '{origin}/listings?name={name}',
      found: { selector: '.listing' },
      match: [
        { field: 'phone', selector: '.phone' },
        { field: 'website', selector: 'a.site', attribute: 'href' },
      ],
    };
    expect(parseFormDefinition({ ...base, verify }).verify).toEqual(verify);
    expect(() => parseFormDefinition({ ...base, verify: { ...verify, found: { text: 'Listed' } } })).toThrow(
      'definition.verify.found.selector: is required with match',
    );
  });

  it('refuses an unknown field, a field named twice, an empty list and unknown keys, naming each', () => {
    const verify = (match: unknown) => ({
      ...base,
      verify: { url: '{origin}/l?name={name}', found: { selector: '.l' }, match },
    });
    expect(() => parseFormDefinition(verify([{ field: 'fax', selector: '.f' }]))).toThrow(
      /definition\.verify\.match\[0\]\.field: must be one of/,
    );
    expect(() =>
      parseFormDefinition(
        verify([
          { field: 'email', selector: '.e' },
          { field: 'email', selector: '.e2' },
        ]),
      ),
    ).toThrow('definition.verify.match[1].field: names email twice');
    expect(() => parseFormDefinition(verify([]))).toThrow(
      'definition.verify.match: must be a non-empty list',
    );
    expect(() => parseFormDefinition(verify([{ field: 'email', selector: '.e', regex: 'x' }]))).toThrow(
      /definition\.verify\.match\[0\]\.regex: is not a known property/,
    );
  });
});

describe('the documented example definition', () => {
  it('parses, and identifies the business by more than its name', () => {
    const doc = readFileSync(`${PROJECT_ROOT}/docs/directory-definitions.md`, 'utf8');
    const example = /```json\n([\s\S]*?)\n```/.exec(doc)?.[1];
    const definition = parseFormDefinition(JSON.parse(example ?? '{}'));
    expect(definition.verify?.match?.map((m) => m.field)).toEqual(['phone', 'email']);
  });
});
