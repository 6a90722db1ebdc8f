/**
 * Request validation with Ajv (JSON Schema 2020-12, the dialect of OpenAPI 3.1) against the schemas in
 * schemas.ts, turning every failure into a 400 that names each offending field in words a client can act on
 * (#shared/json-schema). Bodies are validated as sent; query strings are validated with type coercion (every
 * value arrives as a string) and defaults applied. Text is held to the one text rule (#shared/text) before
 * any schema sees it.
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

function schemaAjv(options: { coerceTypes: boolean }) {
  const ajv = makeAjv(options);
  registerComponents(ajv, SCHEMAS);
  return ajv;
}

const ajvs = { body: schemaAjv({ coerceTypes: false }), query: schemaAjv({ coerceTypes: true }) };
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

/** Validates (and coerces, and fills defaults into) a copy of the query parameters. */
export function validateQuery<T>(name: SchemaName, params: Record<string, string | undefined> | null): T {
  const value: Record<string, unknown> = { ...(params ?? {}) };
  refuseBadText(value, 'query string', 'query');
  const validate = validatorFor(name, 'query');
  if (!validate(value)) throw badRequest('invalid query string', fieldErrors(validate.errors ?? [], 'query'));
  return value as T;
}
