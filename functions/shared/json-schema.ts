/**
 * JSON Schema (2020-12, the dialect of OpenAPI 3.1) validation with Ajv, shared by the API's request
 * validator (functions/api/validation.ts) and the form-definition parser (functions/worker/form-definition.ts),
 * so both read schemas the same way and word every failure the same way: one message per offending field,
 * named as the API names fields (`definition.steps[3].selectors[0]`), in words a client can act on.
 *
 * Component schemas reference each other as `#/components/schemas/<Name>`, exactly as they sit in the
 * OpenAPI document; `registerComponents` makes those references resolve.
 *
 * Extensions the schemas may carry (OpenAPI allows `x-` keywords in a schema):
 *   `x-message`  replaces the wording of a failed `pattern`, `format`, `minLength`, `minProperties` or
 *                composite rule (anyOf, oneOf, not, contains, discriminator) with a sentence;
 *   `x-errors`   per composite keyword, `{ property?, message }`: the detail to give when that keyword fails
 *                (`property` names the field, relative to the object the rule sits on).
 */
import Ajv2020Module, { type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { fieldPath, type TextProblem, textProblem } from './text.ts';

// ajv and ajv-formats are CommonJS; under ESM their default export may arrive wrapped once more.
const Ajv2020 = ((Ajv2020Module as unknown as { default?: unknown }).default ??
  Ajv2020Module) as typeof Ajv2020Module;
const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ??
  addFormatsModule) as typeof addFormatsModule;

export type Ajv = InstanceType<typeof Ajv2020Module>;
export type { ValidateFunction };

/** The id under which component schemas are registered, so `#/components/schemas/X` resolves. */
const DOCUMENT_ID = 'https://formfleet.invalid/openapi.json';

/** A reference to another component schema, as the OpenAPI document spells it. */
export const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });

/**
 * An Ajv for request data, validating values as they are (no type coercion: query strings are typed by
 * validation.ts first, more strictly than Ajv would); with useDefaults, defaults are filled in.
 */
export function makeAjv(options: { useDefaults?: boolean } = {}): Ajv {
  const ajv = new Ajv2020({
    allErrors: true,
    verbose: true,
    strict: true,
    // Composite rules (anyOf/oneOf/not) sit beside `properties` on purpose.
    strictRequired: false,
    allowUnionTypes: true,
    discriminator: true,
    useDefaults: options.useDefaults ?? false,
  });
  addFormats(ajv, ['email', 'uuid', 'uri', 'date-time']);
  ajv.addFormat('regex', { type: 'string', validate: isRegExp });
  for (const keyword of ['components', 'x-message', 'x-errors']) ajv.addKeyword({ keyword });
  return ajv;
}

/**
 * The `regex` format: an ECMA-262 regular expression in its strict (Unicode) syntax, as JSON Schema validators
 * read the format (ajv-formats' version omits the `u` flag), that also compiles the way the form engine
 * compiles it (no flags).
 */
function isRegExp(pattern: string): boolean {
  try {
    new RegExp(pattern, 'u');
    new RegExp(pattern);
    return true;
  } catch {
    return false;
  }
}

/** Makes `schemas` resolvable as `#/components/schemas/<Name>` in `ajv`. */
export function registerComponents(ajv: Ajv, schemas: Record<string, unknown>): void {
  ajv.addSchema({ $id: DOCUMENT_ID, components: { schemas } });
}

/** Compiles a registered component schema by name. */
export function compileComponent(ajv: Ajv, name: string): ValidateFunction {
  return ajv.compile({ $ref: `${DOCUMENT_ID}#/components/schemas/${name}` });
}

const ARTICLE: Record<string, string> = {
  string: 'a string',
  integer: 'an integer',
  number: 'a number',
  boolean: 'true or false',
  object: 'an object',
  array: 'a list',
  null: 'null',
};

/** Keywords whose failure the schema's own `x-message` explains better than the generic wording. */
const EXPLAINED = new Set([
  'format',
  'pattern',
  'minLength',
  'minProperties',
  'anyOf',
  'oneOf',
  'not',
  'contains',
  'discriminator',
]);
const COMPOSITE = new Set(['anyOf', 'oneOf', 'not', 'contains']);

function pointerParts(instancePath: string): (string | number)[] {
  if (instancePath === '') return [];
  return instancePath
    .slice(1)
    .split('/')
    .map((part) => part.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((part) => (/^\d+$/.test(part) ? Number(part) : part));
}

/** The field a failure is about, and what to say about it. */
interface Located {
  at: (string | number)[];
  message: string;
}

function describe(err: ErrorObject): Located {
  const parent = (err.parentSchema ?? {}) as Record<string, unknown>;
  const params = err.params as Record<string, unknown>;
  const at = pointerParts(err.instancePath);
  const composite = (
    parent['x-errors'] as Record<string, { property?: string; message: string }> | undefined
  )?.[err.keyword];
  if (composite) {
    return { at: composite.property ? [...at, composite.property] : at, message: composite.message };
  }
  if (err.keyword === 'required') {
    return { at: [...at, String(params.missingProperty)], message: 'is required' };
  }
  if (err.keyword === 'additionalProperties') {
    return { at: [...at, String(params.additionalProperty)], message: 'is not a known field' };
  }
  if (err.keyword === 'discriminator') {
    return {
      at: [...at, String(params.tag)],
      message: typeof parent['x-message'] === 'string' ? parent['x-message'] : 'is not a known kind',
    };
  }
  // The one text rule words a NUL the same way wherever it is found (a pattern refuses it too).
  if (err.keyword === 'pattern' && typeof err.data === 'string') {
    const problem = textProblem(err.data);
    if (problem) return { at, message: problem };
  }
  if (typeof parent['x-message'] === 'string' && EXPLAINED.has(err.keyword)) {
    return { at, message: parent['x-message'] };
  }
  switch (err.keyword) {
    case 'type': {
      const types = ([] as string[]).concat(params.type as string | string[]);
      return { at, message: `must be ${types.map((t) => ARTICLE[t] ?? t).join(' or ')}` };
    }
    case 'maxLength':
      return { at, message: `must be at most ${String(params.limit)} characters` };
    case 'minLength':
      return {
        at,
        message:
          params.limit === 1 ? 'must not be empty' : `must be at least ${String(params.limit)} characters`,
      };
    case 'minimum':
      return { at, message: `must be at least ${String(params.limit)}` };
    case 'maximum':
      return { at, message: `must be at most ${String(params.limit)}` };
    case 'enum':
      return {
        at,
        message: `must be one of ${(params.allowedValues as unknown[]).map((v) => String(v)).join(', ')}`,
      };
    case 'const':
      return { at, message: `must be ${JSON.stringify(params.allowedValue)}` };
    case 'minItems':
      return { at, message: `must have at least ${String(params.limit)} item(s)` };
    case 'maxItems':
      return { at, message: `must have at most ${String(params.limit)} items` };
    case 'uniqueItems':
      return { at, message: 'must not repeat an item' };
    case 'format':
      return { at, message: `must be a valid ${String(params.format)}` };
    case 'minProperties':
      return { at, message: `must have at least ${String(params.limit)} field(s)` };
    default:
      return { at, message: err.message ?? 'is not valid' };
  }
}

/**
 * One message per field, so that the first names the real problem. A value of the wrong type gets only that
 * message (what else its schema says about it is moot: an array is not "missing" an object's fields); a
 * problem inside a value comes before a problem with the value as a whole (a step's unknown action before
 * "the steps have no submit step"); otherwise the order is the schema's. Errors inside a failed composite
 * rule's branches are folded into the composite's own message.
 */
export function fieldErrors(errors: readonly ErrorObject[], root: string): TextProblem[] {
  // A composite rule that failed speaks for its branches (a discriminated oneOf reports no failure of its
  // own: the errors of the branch its tag chose are the real ones, and are kept).
  const composites = errors.filter((e) => COMPOSITE.has(e.keyword)).map((e) => `${e.schemaPath}/`);
  const own = errors.filter((e) => !composites.some((c) => e.schemaPath.startsWith(c)));
  const mistyped = own.filter((e) => e.keyword === 'type').map((e) => e.instancePath);
  const relevant = own.filter(
    (e) =>
      e.keyword === 'type' ||
      !mistyped.some((p) => e.instancePath === p || e.instancePath.startsWith(`${p}/`)),
  );
  const ordered: Located[] = [];
  for (const err of relevant) {
    const described = describe(err);
    const within = (outer: Located) =>
      outer.at.length < described.at.length && outer.at.every((part, i) => described.at[i] === part);
    const before = ordered.findIndex(within);
    ordered.splice(before === -1 ? ordered.length : before, 0, described);
  }
  const out: TextProblem[] = [];
  const seen = new Set<string>();
  for (const { at, message } of ordered) {
    const field = fieldPath(at, root);
    if (seen.has(field)) continue;
    seen.add(field);
    out.push({ field, message });
  }
  return out;
}
