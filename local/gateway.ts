/**
 * The local API gateway: turns HTTP requests into API Gateway REST proxy events and calls the same handler
 * functions the Lambdas run. Like API Gateway it answers 403 {"message":"Forbidden"} for a missing or unknown
 * API key on a keyed route (handlers then see requestContext.identity.apiKeyId, the key's id, never its
 * value), throttles each key with its usage plan's token bucket (429 {"message":"Too Many Requests"}), and
 * refuses bodies over API Gateway's 10 MB ceiling with 413. A body that is not UTF-8 reaches the handler as
 * base64 of its bytes (as API Gateway passes binary media types), never decoded leniently.
 */
import { isUtf8 } from 'node:buffer';
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { APIGatewayProxyEvent, Context } from 'aws-lambda';
import type { ApiHandler } from '#functions/api/router';
import { type ApiFunction, matchPath, ROUTES, type RouteSpec } from '#functions/api/routes';
import { PAYLOAD_LIMITS, type UsagePlanNumbers } from '#policy';
import type { ApiKeyLookup } from './api-keys.ts';

/** The part of a usage plan the local gateway emulates (quotas are left to API Gateway). */
export type UsagePlanThrottle = Pick<UsagePlanNumbers, 'rateLimitPerSecond' | 'burstLimit'>;

export interface GatewayOptions {
  port: number;
  host?: string;
  handlers: Readonly<Record<ApiFunction, ApiHandler>>;
  /** API key value → key id, as API Gateway's key store (a Map, or the runtime's key table). */
  apiKeys: ApiKeyLookup;
  /**
   * The usage-plan throttle of a key id (policy usagePlanFor), as API Gateway applies it before the
   * Lambda runs; undefined for no throttle.
   */
  throttle?: (keyId: string) => UsagePlanThrottle | undefined;
  /** Milliseconds clock for the token buckets (tests pass their own). */
  now?: () => number;
  /** Extra non-API routes served by the local runtime (the dashboard). Return true if handled. */
  extra?: (req: IncomingMessage, res: ServerResponse) => Promise<boolean> | boolean;
}

export interface Gateway {
  readonly url: string;
  readonly server: Server;
  stop(): Promise<void>;
}

function forbidden(res: ServerResponse): void {
  res.writeHead(403, { 'content-type': 'application/json', 'x-amzn-errortype': 'ForbiddenException' });
  res.end(JSON.stringify({ message: 'Forbidden' }));
}

function tooManyRequests(res: ServerResponse): void {
  res.writeHead(429, { 'content-type': 'application/json', 'x-amzn-errortype': 'TooManyRequestsException' });
  res.end(JSON.stringify({ message: 'Too Many Requests' }));
}

/**
 * API Gateway's usage-plan throttle: a token bucket per key (burstLimit tokens, refilled at rateLimitPerSecond per
 * second). AWS documents it as best effort; here it is exact, which is at least as strict.
 */
export class TokenBuckets {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(private readonly now: () => number = Date.now) {}

  take(key: string, limits: UsagePlanThrottle): boolean {
    const now = this.now();
    const bucket = this.buckets.get(key) ?? { tokens: limits.burstLimit, at: now };
    bucket.tokens = Math.min(
      limits.burstLimit,
      bucket.tokens + ((now - bucket.at) / 1000) * limits.rateLimitPerSecond,
    );
    bucket.at = now;
    this.buckets.set(key, bucket);
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  }
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

/** Reads the body, refusing (without buffering) anything over `limit` bytes. */
async function readBody(req: IncomingMessage, limit: number): Promise<Buffer | 'too-large'> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > limit) return 'too-large';
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) return 'too-large';
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

function lambdaContext(fn: string): Context {
  const deadline = Date.now() + 29_000;
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: `formfleet-local-${fn}`,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:us-east-1:000000000000:function:formfleet-local-${fn}`,
    memoryLimitInMB: '512',
    awsRequestId: randomUUID(),
    logGroupName: `/aws/lambda/formfleet-local-${fn}`,
    logStreamName: 'local',
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => {},
    fail: () => {},
    succeed: () => {},
  };
}

/**
 * The body as API Gateway hands it to a Lambda: text when it is UTF-8; otherwise the raw bytes as base64
 * (as API Gateway passes binary media types), never a lenient decoding that would turn the bytes that are
 * not UTF-8 into U+FFFD. The handler's fatal decoder then refuses them with a 400 that says why.
 */
function eventBody(body: Buffer): Pick<APIGatewayProxyEvent, 'body' | 'isBase64Encoded'> {
  if (body.length === 0) return { body: null, isBase64Encoded: false };
  return isUtf8(body)
    ? { body: body.toString('utf8'), isBase64Encoded: false }
    : { body: body.toString('base64'), isBase64Encoded: true };
}

export function toProxyEvent(
  req: IncomingMessage,
  url: URL,
  route: RouteSpec,
  pathParameters: Record<string, string>,
  body: Buffer,
  apiKeyId: string | null,
): APIGatewayProxyEvent {
  // Built from entries (own properties only), so a client's "__proto__" header or parameter stays data.
  const headerEntries = Object.entries(req.headers).filter(
    (e): e is [string, string | string[]] => e[1] !== undefined,
  );
  const headers = Object.fromEntries(headerEntries.map(([k, v]) => [k, Array.isArray(v) ? v.join(', ') : v]));
  const multiValueHeaders = Object.fromEntries(
    headerEntries.map(([k, v]) => [k, Array.isArray(v) ? v : [v]]),
  );
  const grouped = new Map<string, string[]>();
  for (const [k, v] of url.searchParams) grouped.set(k, [...(grouped.get(k) ?? []), v]);
  // API Gateway's queryStringParameters keeps the last value of a repeated parameter.
  const query = Object.fromEntries([...grouped].map(([k, v]) => [k, v.at(-1) as string]));
  const multiQuery = Object.fromEntries(grouped);
  const requestId = randomUUID();
  const sourceIp = req.socket.remoteAddress ?? '127.0.0.1';
  return {
    resource: route.path,
    path: url.pathname,
    httpMethod: req.method ?? 'GET',
    headers,
    multiValueHeaders,
    queryStringParameters: Object.keys(query).length > 0 ? query : null,
    multiValueQueryStringParameters: Object.keys(multiQuery).length > 0 ? multiQuery : null,
    pathParameters: Object.keys(pathParameters).length > 0 ? pathParameters : null,
    stageVariables: null,
    ...eventBody(body),
    requestContext: {
      accountId: '000000000000',
      apiId: 'local',
      authorizer: null,
      protocol: 'HTTP/1.1',
      httpMethod: req.method ?? 'GET',
      path: `/local${url.pathname}`,
      stage: 'local',
      requestId,
      requestTimeEpoch: Date.now(),
      resourceId: 'local',
      resourcePath: route.path,
      identity: {
        accessKey: null,
        accountId: null,
        apiKey: null,
        apiKeyId,
        caller: null,
        clientCert: null,
        cognitoAuthenticationProvider: null,
        cognitoAuthenticationType: null,
        cognitoIdentityId: null,
        cognitoIdentityPoolId: null,
        principalOrgId: null,
        sourceIp,
        user: null,
        userAgent: (req.headers['user-agent'] as string | undefined) ?? null,
        userArn: null,
      },
    },
  };
}

export async function startGateway(options: GatewayOptions): Promise<Gateway> {
  const buckets = new TokenBuckets(options.now);
  const server = createServer((req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent) sendJson(res, 502, { message: 'Internal server error' });
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const rawUrl = req.url ?? '/';
    // Parsed as a path on a fixed origin: "//x" is a path here, not a host.
    let url: URL;
    try {
      url = new URL(`http://local${rawUrl.startsWith('/') ? '' : '/'}${rawUrl}`);
    } catch {
      return sendJson(res, 400, { message: 'Bad Request' });
    }
    if (options.extra && (await options.extra(req, res))) return;
    const candidates = ROUTES.map((r) => ({ route: r, params: matchPath(r.path, url.pathname) })).filter(
      (c) => c.params !== undefined,
    );
    const match = candidates.find((c) => c.route.method === req.method) ?? candidates[0];
    // Unknown paths go to a handler too (the jobs API answers 404 in the API's own error format).
    const route =
      match?.route ?? ({ method: 'GET', path: url.pathname, fn: 'jobs', auth: 'client' } as RouteSpec);
    let apiKeyId: string | null = null;
    if (route.auth !== 'none') {
      const key = req.headers['x-api-key'];
      apiKeyId = typeof key === 'string' ? (options.apiKeys.get(key) ?? null) : null;
      if (!apiKeyId) return forbidden(res);
      const throttle = options.throttle?.(apiKeyId);
      if (throttle && !buckets.take(apiKeyId, throttle)) return tooManyRequests(res);
    }
    const body = await readBody(req, PAYLOAD_LIMITS.apiGatewayMaxBytes);
    if (body === 'too-large') {
      res.writeHead(413, { 'content-type': 'application/json', connection: 'close' });
      res.end(JSON.stringify({ message: 'Request Too Long' }));
      req.destroy();
      return;
    }
    const event = toProxyEvent(req, url, route, match?.params ?? {}, body, apiKeyId);
    const result = await options.handlers[route.fn](event, lambdaContext(route.fn));
    const headers: Record<string, string | string[]> = {};
    for (const [k, v] of Object.entries(result.headers ?? {})) headers[k] = String(v);
    for (const [k, v] of Object.entries(result.multiValueHeaders ?? {})) headers[k] = v.map(String);
    res.writeHead(result.statusCode, headers);
    res.end(result.isBase64Encoded ? Buffer.from(result.body, 'base64') : result.body);
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host ?? '127.0.0.1', () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  return {
    url: `http://${options.host ?? '127.0.0.1'}:${port}`,
    server,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
