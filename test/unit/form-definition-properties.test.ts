/**
 * Property tests of the one definition validator: every well-formed definition is accepted and comes back
 * normalised; any single broken field is refused with an error naming exactly that field; and no input,
 * however odd, makes it throw anything but a DefinitionError.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  DefinitionError,
  expandUrlTemplate,
  type FormDefinition,
  parseFormDefinition,
} from '#functions/worker/form-definition';
import { allVariants } from '#local/fixtures/sites';
import { PROFILE_FIELDS } from '#shared/customer-store';

const selector = fc.stringMatching(/^[#.a-z][a-z0-9_-]{0,20}$/);
const selectors = fc.array(selector, { minLength: 1, maxLength: 3 });
const field = fc.constantFrom(...PROFILE_FIELDS);
const timeout = fc.option(fc.integer({ min: 100, max: 600_000 }), { nil: undefined });
const withTimeout = <T extends object>(step: T, ms: number | undefined) =>
  ms === undefined ? step : { ...step, timeoutMs: ms };

const step = fc.oneof(
  fc.record({ action: fc.constant('fill'), field, selectors }),
  fc.record({ action: fc.constant('select'), selectors, value: fc.stringMatching(/^[a-z]{1,8}$/) }),
  fc.record({ action: fc.constant('check'), selectors, optional: fc.boolean() }),
  fc.record({ action: fc.constant('click'), selectors }),
  fc.record({ action: fc.constant('waitFor'), selector }),
  fc.record({ action: fc.constant('next'), selectors, waitFor: selector }),
);
const indicator = fc.oneof(
  fc.record({ selector }),
  fc.record({ text: fc.stringMatching(/^[A-Za-z][A-Za-z ]{0,20}$/) }),
  fc.record({ urlPattern: fc.constantFrom('/thanks', '^https?://', 'done\\?id=\\d+') }),
);

const definition = fc
  .record({
    before: fc.array(fc.tuple(step, timeout), { maxLength: 6 }),
    after: fc.array(fc.tuple(step, timeout), { maxLength: 2 }),
    submit: selectors,
    success: fc.array(indicator, { minLength: 1, maxLength: 3 }),
    failure: fc.option(fc.array(indicator, { maxLength: 3 }), { nil: undefined }),
    stepMs: timeout,
  })
  .map(({ before, after, submit, success, failure, stepMs }) => {
    const d: Record<string, unknown> = {
      submissionUrl: 'https://directory.example/add',
      steps: [
        { action: 'goto' },
        ...before.map(([s, ms]) => withTimeout(s, ms)),
        { action: 'submit', selectors: submit },
        ...after.map(([s, ms]) => withTimeout(s, ms)),
      ],
      success,
      verify: { url: '{origin}/listings?name={name}', found: { selector: '#listing' } },
    };
    if (failure) d.failure = failure;
    if (stepMs !== undefined) d.timeouts = { stepMs };
    return d;
  });

function refusedField(raw: unknown): string {
  try {
    parseFormDefinition(raw);
  } catch (err) {
    if (err instanceof DefinitionError) return err.field;
    throw err;
  }
  return '(accepted)';
}

describe('form definition validator (properties)', () => {
  it('accepts every well-formed definition and returns it unchanged', () => {
    fc.assert(
      fc.property(definition, (d) => {
        expect(parseFormDefinition(d)).toEqual(d);
      }),
      { numRuns: 300 },
    );
  });

  it('names the exact field when one value is broken', () => {
    type Mutable = { steps: Record<string, unknown>[] } & Record<string, unknown>;
    /** Each breakage sets one key of step i to a bad value and names the field the refusal must carry. */
    const breakages: Array<[key: string, bad: unknown, field: (i: number) => string]> = [
      ['selectors', [], (i) => `definition.steps[${i}].selectors`],
      ['action', 'type', (i) => `definition.steps[${i}].action`],
      ['selecter', ['#x'], (i) => `definition.steps[${i}].selecter`],
      ['timeoutMs', 5, (i) => `definition.steps[${i}].timeoutMs`],
    ];
    const breakIt = (d: Mutable, i: number, [key, bad, field]: (typeof breakages)[number]) => {
      (d.steps[i] as Record<string, unknown>)[key] = bad;
      return field(i);
    };
    fc.assert(
      fc.property(definition, fc.nat(), fc.constantFrom(...breakages), (d, pick, breakage) => {
        const copy = structuredClone(d) as Mutable;
        // Steps other than goto/submit have selectors except waitFor; break a step that has the key shape.
        const candidates = copy.steps
          .map((s, i) => ({ s, i }))
          .filter(({ s }) => s.action !== 'goto' && s.action !== 'waitFor');
        const target = candidates[pick % candidates.length];
        if (!target) return;
        const expectedField = breakIt(copy, target.i, breakage);
        expect(refusedField(copy)).toBe(expectedField);
      }),
      { numRuns: 200 },
    );
  });

  it('only ever throws DefinitionError, whatever the input', () => {
    fc.assert(
      fc.property(fc.anything(), (junk) => {
        expect(refusedField(junk)).not.toBe('(accepted)');
      }),
      { numRuns: 300 },
    );
    fc.assert(
      fc.property(
        definition,
        fc.jsonValue(),
        fc.constantFrom('steps', 'success', 'failure', 'verify', 'timeouts', 'loginWall', 'captcha'),
        (d, junk, key) => {
          const copy = { ...d, [key]: junk };
          const field = refusedField(copy);
          if (field !== '(accepted)')
            expect(field.startsWith(`definition.${key}`) || field === 'definition.steps').toBe(true);
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('form definition validator (examples)', () => {
  const base = () =>
    structuredClone(allVariants()[0]?.definition('http://127.0.0.1:9')) as unknown as Record<string, unknown>;

  it('accepts every fixture site definition', () => {
    for (const variant of allVariants()) {
      expect(() => parseFormDefinition(variant.definition('http://127.0.0.1:9')), variant.id).not.toThrow();
    }
  });

  it('refuses unknown keys, bad placeholders, ambiguous steps and bad verification, naming the field', () => {
    expect(refusedField({ ...base(), extra: 1 })).toBe('definition.extra');
    expect(
      refusedField({ ...base(), verify: { url: '{origin}/x?ssn={ssn}', found: { selector: '#x' } } }),
    ).toBe('definition.verify.url');
    expect(refusedField({ ...base(), verify: { url: '{origin}/x', found: {} } })).toBe(
      'definition.verify.found',
    );
    expect(
      refusedField({ ...base(), verify: { url: '{origin}/x', found: { selector: '#x' }, notFound: 3 } }),
    ).toBe('definition.verify.notFound');
    const steps = (base().steps as unknown[]).slice();
    expect(
      refusedField({ ...base(), steps: [{ action: 'waitFor', selector: '#a', navigation: true }, ...steps] }),
    ).toBe('definition.steps[0]');
    expect(
      refusedField({
        ...base(),
        steps: [{ action: 'select', selectors: ['#s'], field: 'state', value: 'IL' }, ...steps],
      }),
    ).toBe('definition.steps[0]');
    expect(refusedField({ ...base(), steps: [{ action: 'goto', url: 'ftp://x' }, ...steps] })).toBe(
      'definition.steps[0].url',
    );
    expect(refusedField({ ...base(), captcha: [{ text: '' }] })).toBe('definition.captcha[0].text');
    expect(refusedField({ ...base(), timeouts: { stepMs: 1000, total: 5 } })).toBe(
      'definition.timeouts.total',
    );
    expect(
      refusedField({
        ...base(),
        steps: Array.from({ length: 101 }, () => ({ action: 'submit', selectors: ['#s'] })),
      }),
    ).toBe('definition.steps');
  });

  it('expands URL templates with the origin and URL-encoded profile values', () => {
    expect(
      expandUrlTemplate('{origin}/listings?name={name}&zip={zip}', 'http://d.test', {
        name: 'A & B Co',
        zip: null,
      }),
    ).toBe('http://d.test/listings?name=A%20%26%20B%20Co&zip=');
    const d = parseFormDefinition(base()) as FormDefinition;
    expect(d.verify?.url).toBe('{origin}/listings?name={name}');
  });
});
