/**
 * The input rules of issue 19 as pure logic: the one text rule (and the patterns that state it in the
 * schemas), the error details that name the real problem first, and the one cursor decoder that checks
 * what it decodes.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CURSOR_PARTS, decodeCursor, encodeCursor } from '#functions/api/cursor';
import { HttpError } from '#functions/api/http';
import { validateBody, validateQuery } from '#functions/api/validation';
import { NON_BLANK, NUL_FREE, textProblem, textProblems } from '#shared/text';

const NUL = 'must not contain the NUL character (U+0000)';
const LONE = 'must not contain an unpaired surrogate (a \\ud800-\\udfff escape without its pair)';

function refusal(act: () => unknown): HttpError {
  try {
    act();
  } catch (err) {
    expect(err).toBeInstanceOf(HttpError);
    return err as HttpError;
  }
  throw new Error('accepted');
}

describe('the text rule', () => {
  it('refuses NUL and unpaired surrogates, and nothing else', () => {
    expect(textProblem('a\u0000b')).toBe(NUL);
    expect(textProblem('x\ud800y')).toBe(LONE);
    expect(textProblem('x\udc00')).toBe(LONE);
    expect(textProblem('\ude00\ud83d')).toBe(LONE);
    for (const fine of [
      '',
      'Café',
      '\u{1F600}',
      '\uFFFD',
      '\u0001\u001f\u007f',
      "O'Brien; DROP TABLE x;--",
    ]) {
      expect(textProblem(fine), JSON.stringify(fine)).toBeUndefined();
    }
  });

  it('finds every bad string and field name in a JSON value, naming each as the API names fields', () => {
    const value = JSON.parse(
      '{"name":"a\\u0000","tags":["ok","\\ud800"],"definition":{"steps":[{"selectors":["#a","b\\u0000"]}]},"k\\u0000":1}',
    );
    expect(textProblems(value, 'body')).toEqual([
      { field: 'body', message: `field names ${NUL}` },
      { field: 'name', message: NUL },
      { field: 'tags[1]', message: LONE },
      { field: 'definition.steps[0].selectors[1]', message: NUL },
    ]);
    expect(textProblems('\u0000', 'body')).toEqual([{ field: 'body', message: NUL }]);
    expect(
      textProblems(
        Array.from({ length: 50 }, () => '\u0000'),
        'body',
        3,
      ),
    ).toHaveLength(3);
  });

  it('walks any depth without overflowing the stack', () => {
    let deep: unknown = 'end\u0000';
    for (let i = 0; i < 200_000; i++) deep = [deep];
    const problems = textProblems(deep, 'body');
    expect(problems).toHaveLength(1);
    expect(problems[0]?.message).toBe(NUL);
  });

  it('is what the schema patterns say, in the regular-expression dialect Ajv runs (u flag)', () => {
    const nulFree = new RegExp(NUL_FREE, 'u');
    const nonBlank = new RegExp(NON_BLANK, 'u');
    const text = fc.string({
      unit: fc.constantFrom('a', ' ', '\u0000', '\t', '\u00a0', '\ufeff', '\u2028', 'é', '\u001c'),
    });
    fc.assert(
      fc.property(text, (s) => {
        expect(nulFree.test(s)).toBe(!s.includes('\u0000'));
        expect(nonBlank.test(s)).toBe(!s.includes('\u0000') && s.trim() !== '');
      }),
      { numRuns: 500 },
    );
  });
});

describe('error details', () => {
  it('name a body that is not an object as the one problem, whatever the schema’s other rules', () => {
    for (const body of [[], null, 'x', 1, true]) {
      const err = refusal(() => validateBody('JobCreate', body));
      expect(err.details, JSON.stringify(body)).toEqual([{ field: 'body', message: 'must be an object' }]);
    }
    const nested = refusal(() =>
      validateBody('DirectoryPut', { name: 'A', category: 'B', tier: 1, domainAuthority: 1, definition: [] }),
    );
    expect(nested.details).toEqual([{ field: 'definition', message: 'must be an object' }]);
  });

  it('put a problem inside a value before a problem with the value as a whole', () => {
    const err = refusal(() =>
      validateBody('DirectoryPut', {
        name: 'A',
        category: 'B',
        tier: 1,
        domainAuthority: 1,
        definition: {
          submissionUrl: 'https://d.test/add',
          steps: [{ action: 'dance' }],
          success: [{ text: 'ok' }],
        },
      }),
    );
    expect(err.details?.[0]).toEqual({
      field: 'definition.steps[0].action',
      message: 'must be one of goto, fill, select, check, click, upload, waitFor, next, submit',
    });
    expect(err.details?.[1]).toEqual({
      field: 'definition.steps',
      message: 'must contain exactly one submit step',
    });
  });

  it('word the exactly-one rule of GET /v1/submissions and hold query text to the text rule', () => {
    expect(refusal(() => validateQuery('SubmissionQuery', {})).details).toEqual([
      { field: 'jobId', message: 'give jobId or customerId (one of them)' },
    ]);
    expect(refusal(() => validateQuery('DirectoryQuery', { category: 'a\u0000b' })).details).toEqual([
      { field: 'category', message: NUL },
    ]);
  });
});

describe('query strings', () => {
  it('type text by JSON’s grammar only: no spaces, signs, leading zeros, hex or other spellings', () => {
    expect(validateQuery('JobQuery', { limit: '5' })).toEqual({ limit: 5 });
    expect(validateQuery('DirectoryQuery', { active: 'false', tier: '2' })).toEqual({
      active: false,
      tier: 2,
      limit: 50,
    });
    for (const limit of [' 5', '5\f', '+5', '007', '0x10', '5.0', '1e1', '']) {
      expect(refusal(() => validateQuery('JobQuery', { limit })).details, JSON.stringify(limit)).toEqual([
        { field: 'limit', message: 'must be an integer' },
      ]);
    }
    for (const active of ['TRUE', '1', 'yes']) {
      expect(refusal(() => validateQuery('DirectoryQuery', { active })).details).toEqual([
        { field: 'active', message: 'must be true or false' },
      ]);
    }
  });

  it('refuse a parameter given twice (API Gateway would keep the last without a word)', () => {
    const err = refusal(() =>
      validateQuery('DlqQuery', { maxPerTier: '5' }, { maxPerTier: ['junk', '5'], other: ['a', 'b'] }),
    );
    expect(err.details).toEqual([{ field: 'maxPerTier', message: 'must be given once' }]);
    expect(validateQuery('DlqQuery', { maxPerTier: '5' }, { maxPerTier: ['5'] })).toEqual({ maxPerTier: 5 });
  });
});

describe('the cursor decoder', () => {
  const timestamp = (y: number, mo: number, d: number, h: number, mi: number, s: number) =>
    `${String(y).padStart(4, '0')}-${String(mo).padStart(2, '0')}-${String(d).padStart(2, '0')}T` +
    `${String(h).padStart(2, '0')}:${String(mi).padStart(2, '0')}:${String(s).padStart(2, '0')}.123456Z`;

  it('takes a timestamp exactly when it is a real UTC date and time in years 1 to 9999', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 9999 }),
        fc.integer({ min: 0, max: 13 }),
        fc.integer({ min: 0, max: 32 }),
        fc.integer({ min: 0, max: 25 }),
        fc.integer({ min: 0, max: 61 }),
        fc.integer({ min: 0, max: 61 }),
        (y, mo, d, h, mi, s) => {
          const date = new Date(0);
          date.setUTCFullYear(y, mo - 1, d);
          date.setUTCHours(h, mi, s);
          const real =
            y >= 1 &&
            date.getUTCFullYear() === y &&
            date.getUTCMonth() === mo - 1 &&
            date.getUTCDate() === d &&
            date.getUTCHours() === h &&
            date.getUTCMinutes() === mi &&
            date.getUTCSeconds() === s;
          expect(CURSOR_PARTS.timestamp.test(timestamp(y, mo, d, h, mi, s))).toBe(real);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('gives back the key of every cursor it encodes, and refuses altered ones with 400 naming the cursor', () => {
    const parts = [CURSOR_PARTS.timestamp, CURSOR_PARTS.uuid];
    const key = ['2024-02-29T23:59:59.999999Z', '0f0e0d0c-0b0a-4908-8706-050403020100'];
    expect(decodeCursor(encodeCursor(key), parts)).toEqual(key);
    expect(decodeCursor(undefined, parts)).toBeUndefined();
    const altered = [
      encodeCursor(['2026-13-45T99:99:99.999999Z', 'ffffffff-ffff-ffff-ffff-ffffffffffff']),
      encodeCursor(['0000-01-01T00:00:00.000000Z', 'ffffffff-ffff-ffff-ffff-ffffffffffff']),
      encodeCursor([key[0] as string]),
      encodeCursor([key[0] as string, 'nope']),
      `${encodeCursor(key)}!`,
      Buffer.from([0x5b, 0xff, 0x5d]).toString('base64url'),
      'eyJ4Ijox',
    ];
    for (const cursor of altered) {
      expect(refusal(() => decodeCursor(cursor, parts)).details, cursor).toEqual([
        { field: 'cursor', message: 'is not a cursor this API gave out' },
      ]);
    }
  });
});
