/**
 * HTTP plumbing shared by the API handlers: typed errors, JSON responses, the middy middleware that maps
 * every error to a clear JSON body (never a stack trace), and who is calling.
 */
import type middy from '@middy/core';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { describeError, type Logger } from '#shared/telemetry';
import { textProblem, textProblems } from '#shared/text';

export type ApiEvent = APIGatewayProxyEvent;
export type ApiResult = APIGatewayProxyResult;

export interface FieldError {
  field: string;
  message: string;
}

export class HttpError extends Error {
  override readonly name = 'HttpError';
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
    readonly details?: FieldError[],
    readonly headers?: Record<string, string>,
    /** A body to answer verbatim instead of the API's error shape (API Gateway's own answers). */
    readonly body?: unknown,
  ) {
    super(message);
  }
}

export const badRequest = (message: string, details?: FieldError[]) =>
  new HttpError(400, 'bad_request', message, details);
/** A missing or unknown key: answered exactly as API Gateway answers it. */
export const gatewayForbidden = () =>
  new HttpError(
    403,
    'forbidden',
    'Forbidden',
    undefined,
    { 'x-amzn-errortype': 'ForbiddenException' },
    {
      message: 'Forbidden',
    },
  );
export const forbidden = (message: string) => new HttpError(403, 'forbidden', message);
export const notFound = (what: string) => new HttpError(404, 'not_found', `${what} not found`);
export const conflict = (message: string, details?: FieldError[]) =>
  new HttpError(409, 'conflict', message, details);
export const payloadTooLarge = (limit: number) =>
  new HttpError(413, 'payload_too_large', `request body is larger than the ${limit}-byte limit`);
export const uriTooLong = (limit: number) =>
  new HttpError(414, 'uri_too_long', `request URL is longer than ${limit} characters`);
export const unsupportedMediaType = () =>
  new HttpError(415, 'unsupported_media_type', 'request body must be JSON (content-type: application/json)');

export function json(statusCode: number, body: unknown, headers: Record<string, string> = {}): ApiResult {
  return {
    statusCode,
    headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', ...headers },
    body: JSON.stringify(body),
  };
}

/** Who the caller is, from the API key API Gateway validated (requestContext.identity.apiKeyId). */
export interface Caller {
  keyId: string;
  role: 'admin' | 'client';
}

export function callerOf(event: ApiEvent, adminKeyIds: ReadonlySet<string>): Caller {
  const keyId = event.requestContext?.identity?.apiKeyId;
  if (!keyId) throw gatewayForbidden();
  return { keyId, role: adminKeyIds.has(keyId) ? 'admin' : 'client' };
}

/** Whether `caller` may see a resource owned by `ownerKeyId` (its owner, or any admin). */
export const canSee = (caller: Caller, ownerKeyId: string) =>
  caller.role === 'admin' || caller.keyId === ownerKeyId;

/** Refuses text the one text rule refuses (NUL, unpaired surrogates) with 400 naming each field. */
export function refuseBadText(value: unknown, what: string, root: string): void {
  const problems = textProblems(value, root);
  if (problems.length > 0) throw badRequest(`invalid ${what}`, problems);
}

/**
 * A header's value, whatever case the client (or API Gateway) gave its name; held to the text rule, since
 * every header the API reads goes through here.
 */
export function header(event: ApiEvent, name: string): string | undefined {
  const wanted = name.toLowerCase();
  for (const [key, value] of Object.entries(event.headers ?? {})) {
    if (key.toLowerCase() === wanted && value !== undefined) {
      const problem = textProblem(value);
      if (problem) throw badRequest('invalid header', [{ field: wanted, message: problem }]);
      return value;
    }
  }
  return undefined;
}

/** The body's size in bytes as the client sent it. */
export function bodyBytes(event: ApiEvent): number {
  if (!event.body) return 0;
  return event.isBase64Encoded
    ? Buffer.byteLength(event.body, 'base64')
    : Buffer.byteLength(event.body, 'utf8');
}

const UTF8 = new TextDecoder('utf-8', { fatal: true });
const CHARSET = /;\s*charset\s*=\s*"?([^";\s]*)"?/i;

/**
 * The body as text, exactly as the client sent it, or 400. JSON is UTF-8 (RFC 8259): a body declared in
 * another charset, or whose bytes are not valid UTF-8, is refused rather than decoded leniently (which would
 * store U+FFFD in place of what was sent). API Gateway hands a Lambda the body as text or, for binary media
 * types, as base64 of the raw bytes; the local gateway passes base64 when the bytes are not UTF-8, so the
 * same fatal decoder sees them here.
 */
function bodyText(event: ApiEvent, type: string | undefined): string {
  const charset = type === undefined ? undefined : CHARSET.exec(type)?.[1];
  if (charset !== undefined && !/^utf-?8$/i.test(charset)) {
    throw badRequest('request body must be UTF-8', [
      { field: 'content-type', message: `declares charset=${charset}; JSON bodies must be UTF-8` },
    ]);
  }
  let text = event.body as string;
  if (event.isBase64Encoded) {
    try {
      text = UTF8.decode(Buffer.from(text, 'base64'));
    } catch {
      throw badRequest('request body is not valid UTF-8', [
        { field: 'body', message: 'is not valid UTF-8 (JSON bodies must be UTF-8)' },
      ]);
    }
  }
  // A byte order mark may be ignored (RFC 8259, section 8.1); the fatal decoder already drops it.
  return text.startsWith('\ufeff') ? text.slice(1) : text;
}

/** Parses a JSON body (its shape is the schema's business; its text must pass the text rule), or 400 / 415. */
export function jsonBody(event: ApiEvent): unknown {
  const type = header(event, 'content-type');
  if (type !== undefined && !/^application\/([a-z0-9.+-]+\+)?json\s*(;|$)/i.test(type.trim())) {
    throw unsupportedMediaType();
  }
  if (!event.body) throw badRequest('request body must be a JSON object');
  const text = bodyText(event, type);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw badRequest('request body is not valid JSON');
  }
  refuseBadText(value, 'request body', 'body');
  return value;
}

/**
 * middy middleware: maps HttpError to its JSON body, anything else to a 500 that carries only a request id
 * (the details go to the log, never to the caller).
 */
export function errorResponses(logger: Logger): middy.MiddlewareObj<ApiEvent, ApiResult> {
  return {
    onError: async function mapErrorToResponse(request) {
      const err = request.error;
      const requestId = request.context?.awsRequestId ?? 'local';
      if (err instanceof HttpError) {
        request.response = json(
          err.statusCode,
          err.body ?? {
            error: { code: err.code, message: err.message, ...(err.details ? { details: err.details } : {}) },
          },
          err.headers,
        );
        return;
      }
      logger.error('unhandled error', { error: describeError(err), requestId });
      request.response = json(500, { error: { code: 'internal', message: 'internal error', requestId } });
    },
  };
}
