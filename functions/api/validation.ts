/**
 * Request validation with Ajv (JSON Schema 2020-12, the dialect of OpenAPI 3.1) against the schemas in
 * schemas.ts, turning every failure into a 400 that names each offending field in words a client can act on
 * (#shared/json-schema). Bodies are validated as sent. Query strings arrive as text: each parameter may be
 * given once, its text is typed by JSON's own grammar for the type its schema declares, then validated with
 * defaults applied. Text is held to the one text rule (#shared/text) before any schema sees it.
 */
import {
  compileComponent,
  fieldErrors,
  makeAjv,
  registerComponents,
  type ValidateFunction,
} from '#shared/json-schema';
import { badRequest, refuseBadText } from './http.ts';
import { SCHEMAS, type SchemaName } from './schemas.ts';

export { fieldErrors };

function schemaAjv(options: { useDefaults: boolean }) {
  const ajv = makeAjv(options);
  registerComponents(ajv, SCHEMAS);
  return ajv;
}

const ajvs = { body: schemaAjv({ useDefaults: false }), query: schemaAjv({ useDefaults: true }) };
const compiled = new Map<string, ValidateFunction>();

/** The compiled validator of a component schema (compiled on first use, then kept for the container). */
export function validatorFor(name: SchemaName, kind: 'body' | 'query' = 'body'): ValidateFunction {
  const key = `${kind}:${name}`;
  let validate = compiled.get(key);
  if (!validate) {
    validate = compileComponent(ajvs[kind], name);
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

/** JSON's grammar for an integer and a number: no sign but minus, no spaces, no leading zeros, no hex. */
const INTEGER = /^-?(0|[1-9][0-9]*)$/;
const NUMBER = /^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$/;

/**
 * Query text typed as the schema's property says: an integer or number written as JSON writes it, true or
 * false; anything else stays text, for the schema to refuse (Ajv's own coercion reads " 5", "0x10" and
 * "007" as numbers).
 */
function typed(name: SchemaName, params: Record<string, string | undefined>): Record<string, unknown> {
  const properties = (SCHEMAS[name] as { properties?: Record<string, { type?: string | string[] }> })
    .properties;
  return Object.fromEntries(
    Object.entries(params).map(([key, text]) => {
      const types = ([] as string[]).concat(properties?.[key]?.type ?? []);
      if (text === undefined) return [key, text];
      if (
        (types.includes('integer') && INTEGER.test(text)) ||
        (types.includes('number') && NUMBER.test(text))
      ) {
        return [key, Number(text)];
      }
      if (types.includes('boolean') && (text === 'true' || text === 'false')) return [key, text === 'true'];
      return [key, text];
    }),
  );
}

/**
 * Validates (and types, and fills defaults into) a copy of the query parameters; `repeated` holds every value
 * of each (API Gateway's multiValueQueryStringParameters), since a parameter given twice is ambiguous where
 * API Gateway would silently keep the last.
 */
export function validateQuery<T>(
  name: SchemaName,
  params: Record<string, string | undefined> | null,
  repeated: Record<string, string[] | undefined> | null = null,
): T {
  const known = (SCHEMAS[name] as { properties?: Record<string, unknown> }).properties ?? {};
  const twice = Object.entries(repeated ?? {})
    .filter(([key, values]) => Object.hasOwn(known, key) && (values?.length ?? 0) > 1)
    .map(([key]) => ({ field: key, message: 'must be given once' }));
  if (twice.length > 0) throw badRequest('invalid query string', twice);
  refuseBadText({ ...(params ?? {}) }, 'query string', 'query');
  const value = typed(name, params ?? {});
  const validate = validatorFor(name, 'query');
  if (!validate(value)) throw badRequest('invalid query string', fieldErrors(validate.errors ?? [], 'query'));
  return value as T;
}
