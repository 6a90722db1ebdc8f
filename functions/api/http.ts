/**
 * HTTP plumbing shared by the API handlers: typed errors, JSON responses, the middy middleware that maps
 * every error to a clear JSON body (never a stack trace), and who is calling.
 */
import type middy from '@middy/core';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { describeError, type Logger } from '#shared/telemetry';

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
export const conflict = (message: string) => new HttpError(409, 'conflict', message);
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

/** A header's value, whatever case the client (or API Gateway) gave its name. */
export function header(event: ApiEvent, name: string): string | undefined {
  const wanted = name.toLowerCase();
  for (const [key, value] of Object.entries(event.headers ?? {})) {
    if (key.toLowerCase() === wanted && value !== undefined) return value;
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

/** Parses a JSON body (its shape is the schema's business), or 400 / 415. */
export function jsonBody(event: ApiEvent): unknown {
  const type = header(event, 'content-type');
  if (type !== undefined && !/^application\/([a-z0-9.+-]+\+)?json\s*(;|$)/i.test(type.trim())) {
    throw unsupportedMediaType();
  }
  if (!event.body) throw badRequest('request body must be a JSON object');
  const text = event.isBase64Encoded ? Buffer.from(event.body, 'base64').toString('utf8') : event.body;
  try {
    return JSON.parse(text);
  } catch {
    throw badRequest('request body is not valid JSON');
  }
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
