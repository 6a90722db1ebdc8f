/**
 * The OpenAPI document promises what the server enforces (issue 19): every text field states the text rule,
 * GET /v1/submissions states its exactly-one rule, path parameters have their schemas, and the form
 * definition it publishes is the very schema the worker's parser validates with, so a definition is valid by
 * the document exactly when parseFormDefinition accepts it.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CONTRACTS } from '#functions/api/contracts';
import { buildOpenApiDocument } from '#functions/api/openapi';
import { SCHEMAS } from '#functions/api/schemas';
import { DEFINITION_SCHEMAS, HTTP_URL_PATTERN, parseFormDefinition } from '#functions/worker/form-definition';
import { allVariants } from '#local/fixtures/variants';
import { PROJECT_ROOT } from '#local/services/python';
import { compileComponent, makeAjv, registerComponents } from '#shared/json-schema';

type Schema = Record<string, unknown>;
const doc = buildOpenApiDocument();
const component = (ref: string) => SCHEMAS[ref.replace('#/components/schemas/', '') as keyof typeof SCHEMAS];

/** Every string schema reachable from `schema` (through $ref, properties, items and composites), with its path. */
function strings(schema: unknown, at: string, seen = new Set<unknown>()): Array<[string, Schema]> {
  if (typeof schema !== 'object' || schema === null || seen.has(schema)) return [];
  seen.add(schema);
  const s = schema as Schema;
  if (typeof s.$ref === 'string') return strings(component(s.$ref), at, seen);
  const out: Array<[string, Schema]> = [];
  const types = ([] as unknown[]).concat(s.type ?? []);
  if (types.includes('string')) out.push([at, s]);
  for (const [name, child] of Object.entries((s.properties as Record<string, unknown>) ?? {})) {
    out.push(...strings(child, `${at}.${name}`, seen));
  }
  if (s.items) out.push(...strings(s.items, `${at}[]`, seen));
  for (const key of ['oneOf', 'anyOf', 'allOf'] as const) {
    for (const branch of (s[key] as unknown[] | undefined) ?? []) out.push(...strings(branch, at, seen));
  }
  return out;
}

describe('the OpenAPI document', () => {
  it('states the NUL half of the text rule on every text field a request can carry', () => {
    const requestSchemas = Object.values(CONTRACTS).flatMap((c) => [c.body, c.query].filter(Boolean));
    const fields = requestSchemas.flatMap((name) =>
      strings(SCHEMAS[name as keyof typeof SCHEMAS], name as string),
    );
    expect(fields.length).toBeGreaterThan(30);
    for (const [at, s] of fields) {
      // A closed set of values, or a format that has no room for NUL, says it already.
      if (s.enum || s.const !== undefined || ['uuid', 'email', 'date-time'].includes(s.format as string))
        continue;
      expect(typeof s.pattern, at).toBe('string');
      expect(new RegExp(s.pattern as string, 'u').test('a\u0000b'), at).toBe(false);
    }
    expect(doc.info.description).toMatch(/NUL \(U\+0000/);
    expect(doc.info.description).toMatch(/unpaired surrogate/);
  });

  it('states the exactly-one-of rule of GET /v1/submissions as one form/explode object parameter, and in words', () => {
    const op = (doc.paths['/v1/submissions'] as Record<string, { parameters: Schema[] }>).get;
    expect(op?.parameters).toEqual([
      {
        name: 'query',
        in: 'query',
        required: true,
        style: 'form',
        explode: true,
        description: expect.stringMatching(/^Exactly one of `jobId` .* and `customerId`/),
        schema: { $ref: '#/components/schemas/SubmissionQuery' },
      },
    ]);
    expect(SCHEMAS.SubmissionQuery.oneOf).toEqual([{ required: ['jobId'] }, { required: ['customerId'] }]);
    // The other list routes have no rule across parameters: one parameter each.
    const jobs = (doc.paths['/v1/jobs'] as Record<string, { parameters: Schema[] }>).get;
    expect(jobs?.parameters.map((p) => p.name)).toEqual(['customerId', 'status', 'cursor', 'limit']);
  });

  it('gives path parameters their schemas', () => {
    const params = (path: string, method: string) =>
      (doc.paths[path] as Record<string, { parameters: Schema[] }>)[method]?.parameters;
    expect(params('/v1/jobs/{id}', 'get')?.[0]?.schema).toEqual({ type: 'string', format: 'uuid' });
    expect(params('/v1/directories/{id}', 'put')?.[0]?.schema).toEqual({
      type: 'string',
      pattern: '^[a-z0-9][a-z0-9-]{0,62}$',
    });
  });

  it('publishes the form definition schema the worker’s parser validates with, in full', () => {
    const put = SCHEMAS.DirectoryPut.properties.definition;
    expect(put).toEqual({ $ref: '#/components/schemas/FormDefinition' });
    for (const [name, schema] of Object.entries(DEFINITION_SCHEMAS)) {
      expect(doc.components.schemas[name as keyof typeof doc.components.schemas], name).toBe(schema);
    }
  });

  it('calls a URL valid only when a browser opens it (no URL the document allows fails the worker’s check)', () => {
    const opens = (url: string) => ['http:', 'https:'].includes(new URL(url).protocol);
    fc.assert(
      fc.property(fc.stringMatching(new RegExp(HTTP_URL_PATTERN)), (url) => {
        expect(opens(url), url).toBe(true);
      }),
      { numRuns: 2000 },
    );
    const template = (DEFINITION_SCHEMAS.FormVerification.properties.url as { pattern: string }).pattern;
    fc.assert(
      fc.property(fc.stringMatching(new RegExp(template)), (url) => {
        const expanded = url.replace(/\{([a-zA-Z]+)\}/g, (_, name) =>
          name === 'origin' ? 'http://x.test' : 'x',
        );
        expect(opens(expanded), url).toBe(true);
      }),
      { numRuns: 2000 },
    );
    for (const url of [
      'http://127.0.0.1:8080/add',
      'https://directory.example/add?x=1#y',
      'http://localhost',
    ]) {
      expect(new RegExp(HTTP_URL_PATTERN).test(url), url).toBe(true);
    }
    for (const url of [
      'ftp://x.test',
      'http://a:99999',
      'http://1.2.3.999',
      'http://x.test/a b',
      'http://',
    ]) {
      expect(new RegExp(HTTP_URL_PATTERN).test(url), url).toBe(false);
    }
  });

  it('reads urlPattern as JSON Schema validators read the regex format: strict (Unicode) syntax', () => {
    const withPattern = (urlPattern: string) => ({
      submissionUrl: 'https://d.test/add',
      steps: [{ action: 'submit', selectors: ['#s'] }],
      success: [{ urlPattern }],
    });
    for (const pattern of ['/thanks\\?id=\\d+', '^https?://', 'done$', '\\d{2,4}-x']) {
      expect(parseFormDefinition(withPattern(pattern)).success[0]?.urlPattern, pattern).toBe(pattern);
    }
    // The first three compile without flags, as the engine compiles them, but are no regular expressions in
    // the strict syntax (a lone bracket or brace, a needless escape); the last two compile nowhere.
    for (const pattern of ['S]\u00c9', 'a{', '\\-x', '(', '*a']) {
      expect(() => parseFormDefinition(withPattern(pattern)), pattern).toThrow(
        'definition.success[0].urlPattern: must be a valid regular expression',
      );
    }
  });

  it('calls a definition valid exactly when parseFormDefinition accepts it', () => {
    // The published document (docs/openapi.json), read by a validator of its own.
    const published = JSON.parse(readFileSync(join(PROJECT_ROOT, 'docs/openapi.json'), 'utf8'));
    const ajv = makeAjv();
    registerComponents(ajv, published.components.schemas);
    const validByDocument = compileComponent(ajv, 'FormDefinition');
    const accepted = (d: unknown) => {
      try {
        parseFormDefinition(d);
        return true;
      } catch {
        return false;
      }
    };
    const definitions = allVariants().map((v) => v.definition('http://127.0.0.1:9'));
    /** Every place in a JSON value, as a path of keys. */
    const places = (v: unknown, at: (string | number)[] = []): (string | number)[][] =>
      typeof v !== 'object' || v === null
        ? [at]
        : [
            at,
            ...Object.entries(v).flatMap(([k, c]) => places(c, [...at, Array.isArray(v) ? Number(k) : k])),
          ];
    const mutated = fc
      .tuple(
        fc.constantFrom(...definitions),
        fc.nat(),
        fc.oneof(
          fc.jsonValue({ maxDepth: 2 }),
          fc.constantFrom(
            undefined,
            '',
            ' ',
            'x\u0000',
            '(',
            'ftp://x',
            '{origin}/a?n={name}',
            '{origin}/{ssn}',
            99,
          ),
          fc.constantFrom(
            { action: 'submit', selectors: ['#s'] },
            { action: 'waitFor', navigation: false },
            {},
          ),
          // Values that are often right where they land, so both sides of the line are reached.
          fc.constantFrom('#ok', 'Thank you', '/done\\?x=\\d+', 'https://d.test/x', 1000, true, false, [
            '#a',
          ]),
        ),
      )
      .map(([definition, pick, value]) => {
        const copy = structuredClone(definition) as unknown as Record<string, unknown>;
        const all = places(copy).filter((p) => p.length > 0);
        const path = all[pick % all.length] as (string | number)[];
        let parent = copy as Record<string | number, unknown>;
        for (const key of path.slice(0, -1)) parent = parent[key] as Record<string | number, unknown>;
        const last = path.at(-1) as string | number;
        if (value === undefined) delete parent[last];
        else parent[last] = value;
        return copy;
      });
    let refused = 0;
    let runs = 0;
    fc.assert(
      fc.property(mutated, (d) => {
        const valid = validByDocument(d);
        runs++;
        if (!valid) refused++;
        expect(accepted(d), JSON.stringify(d).slice(0, 300)).toBe(valid);
      }),
      { numRuns: 1500 },
    );
    // The mutations reach both sides of the line.
    expect(refused).toBeGreaterThan(runs / 4);
    expect(runs - refused).toBeGreaterThan(runs / 20);
  });
});
