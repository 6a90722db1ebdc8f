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
  ) {
    super(message);
  }
}

export const badRequest = (message: string, details?: FieldError[]) =>
  new HttpError(400, 'bad_request', message, details);
export const forbidden = (message = 'Forbidden') => new HttpError(403, 'forbidden', message);
export const notFound = (what: string) => new HttpError(404, 'not_found', `${what} not found`);
export const conflict = (message: string) => new HttpError(409, 'conflict', message);

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
  if (!keyId) throw forbidden();
  return { keyId, role: adminKeyIds.has(keyId) ? 'admin' : 'client' };
}

export function requireAdmin(caller: Caller): void {
  if (caller.role !== 'admin') throw forbidden('this route needs an admin API key');
}

/** Parses a JSON object body, or 400. */
export function jsonBody(event: ApiEvent): Record<string, unknown> {
  if (!event.body) throw badRequest('request body must be a JSON object');
  const text = event.isBase64Encoded ? Buffer.from(event.body, 'base64').toString('utf8') : event.body;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw badRequest('request body is not valid JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw badRequest('request body must be a JSON object');
  }
  return value as Record<string, unknown>;
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
          {
            error: { code: err.code, message: err.message, ...(err.details ? { details: err.details } : {}) },
          },
          err.headers,
        );
        return;
      }
      // middy's own errors (http-router's 404) carry a statusCode and an "expose" flag.
      const status = (err as { statusCode?: number } | null)?.statusCode;
      if (typeof status === 'number' && status >= 400 && status < 500) {
        request.response = json(status, { error: { code: 'not_found', message: 'no such route' } });
        return;
      }
      logger.error('unhandled error', { error: describeError(err), requestId });
      request.response = json(500, { error: { code: 'internal', message: 'internal error', requestId } });
    },
  };
}
