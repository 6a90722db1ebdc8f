/**
 * Request validation with Ajv (JSON Schema 2020-12, the dialect of OpenAPI 3.1) against the schemas in
 * schemas.ts, turning every failure into a 400 that names each offending field in words a client can act on.
 * Bodies are validated as sent; query strings are validated with type coercion (every value arrives as a
 * string) and defaults applied.
 */
import Ajv2020Module, { type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { badRequest, type FieldError } from './http.ts';
import { SCHEMAS, type SchemaName } from './schemas.ts';

// ajv and ajv-formats are CommonJS; under ESM their default export may arrive wrapped once more.
const Ajv2020 = ((Ajv2020Module as unknown as { default?: unknown }).default ??
  Ajv2020Module) as typeof Ajv2020Module;
const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ??
  addFormatsModule) as typeof addFormatsModule;

/** The id under which the component schemas are registered, so `#/components/schemas/X` resolves. */
const DOCUMENT_ID = 'https://formfleet.invalid/openapi.json';

function makeAjv(options: { coerceTypes: boolean }) {
  const ajv = new Ajv2020({
    allErrors: true,
    verbose: true,
    strict: true,
    // Composite rules (anyOf/not) sit beside `properties` on purpose.
    strictRequired: false,
    allowUnionTypes: true,
    coerceTypes: options.coerceTypes,
    useDefaults: options.coerceTypes,
  });
  addFormats(ajv, ['email', 'uuid', 'uri', 'date-time']);
  for (const keyword of ['components', 'x-message', 'x-errors']) ajv.addKeyword({ keyword });
  ajv.addSchema({ $id: DOCUMENT_ID, components: { schemas: SCHEMAS } });
  return ajv;
}

const ajvs = { body: makeAjv({ coerceTypes: false }), query: makeAjv({ coerceTypes: true }) };
const compiled = new Map<string, ValidateFunction>();

/** The compiled validator of a component schema (compiled on first use, then kept for the container). */
export function validatorFor(name: SchemaName, kind: 'body' | 'query' = 'body'): ValidateFunction {
  const key = `${kind}:${name}`;
  let validate = compiled.get(key);
  if (!validate) {
    validate = ajvs[kind].compile({ $ref: `${DOCUMENT_ID}#/components/schemas/${name}` });
    compiled.set(key, validate);
  }
  return validate;
}

/** Validates a parsed body, or throws 400 with one message per offending field. */
export function validateBody<T>(name: SchemaName, value: unknown): T {
  const validate = validatorFor(name, 'body');
  if (!validate(value)) throw badRequest('invalid request body', fieldErrors(validate.errors ?? [], 'body'));
  return value as T;
}

/** Validates (and coerces, and fills defaults into) a copy of the query parameters. */
export function validateQuery<T>(name: SchemaName, params: Record<string, string | undefined> | null): T {
  const value: Record<string, unknown> = { ...(params ?? {}) };
  const validate = validatorFor(name, 'query');
  if (!validate(value)) throw badRequest('invalid query string', fieldErrors(validate.errors ?? [], 'query'));
  return value as T;
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
const EXPLAINED = new Set(['format', 'pattern', 'minLength', 'minProperties', 'anyOf', 'oneOf', 'not']);

function fieldName(instancePath: string, root: string): string {
  if (instancePath === '') return root;
  return instancePath
    .slice(1)
    .split('/')
    .map((part) => part.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((part, i) => (/^\d+$/.test(part) ? `[${part}]` : i === 0 ? part : `.${part}`))
    .join('');
}

function describe(err: ErrorObject, root: string): FieldError {
  const parent = (err.parentSchema ?? {}) as Record<string, unknown>;
  const params = err.params as Record<string, unknown>;
  const field = fieldName(err.instancePath, root);
  const composite = (parent['x-errors'] as Record<string, FieldError> | undefined)?.[err.keyword];
  if (composite) return composite;
  if (err.keyword === 'required') {
    return {
      field: fieldName(`${err.instancePath}/${String(params.missingProperty)}`, root),
      message: 'is required',
    };
  }
  if (err.keyword === 'additionalProperties') {
    const extra = String(params.additionalProperty);
    return { field: fieldName(`${err.instancePath}/${extra}`, root), message: 'is not a known field' };
  }
  if (typeof parent['x-message'] === 'string' && EXPLAINED.has(err.keyword)) {
    return { field, message: parent['x-message'] };
  }
  switch (err.keyword) {
    case 'type': {
      const types = ([] as string[]).concat(params.type as string | string[]);
      return { field, message: `must be ${types.map((t) => ARTICLE[t] ?? t).join(' or ')}` };
    }
    case 'maxLength':
      return { field, message: `must be at most ${String(params.limit)} characters` };
    case 'minLength':
      return {
        field,
        message:
          params.limit === 1 ? 'must not be empty' : `must be at least ${String(params.limit)} characters`,
      };
    case 'minimum':
      return { field, message: `must be at least ${String(params.limit)}` };
    case 'maximum':
      return { field, message: `must be at most ${String(params.limit)}` };
    case 'enum':
      return {
        field,
        message: `must be one of ${(params.allowedValues as unknown[]).map((v) => String(v)).join(', ')}`,
      };
    case 'const':
      return { field, message: `must be ${JSON.stringify(params.allowedValue)}` };
    case 'minItems':
      return { field, message: `must have at least ${String(params.limit)} item(s)` };
    case 'maxItems':
      return { field, message: `must have at most ${String(params.limit)} items` };
    case 'uniqueItems':
      return { field, message: 'must not repeat an item' };
    case 'format':
      return { field, message: `must be a valid ${String(params.format)}` };
    case 'minProperties':
      return { field, message: `must have at least ${String(params.limit)} field(s)` };
    default:
      return { field, message: err.message ?? 'is not valid' };
  }
}

/** One message per field, in the order the schema found them; errors inside composite branches are folded. */
export function fieldErrors(errors: readonly ErrorObject[], root: string): FieldError[] {
  const out: FieldError[] = [];
  const seen = new Set<string>();
  for (const err of errors) {
    if (/\/(anyOf|oneOf|not)\//.test(err.schemaPath)) continue;
    const described = describe(err, root);
    if (seen.has(described.field)) continue;
    seen.add(described.field);
    out.push(described);
  }
  return out;
}
