/** Builders for the Lambda events handlers receive, as API Gateway and SQS shape them. */
import { randomUUID } from 'node:crypto';
import type { APIGatewayProxyEvent, Context } from 'aws-lambda';
import { matchPath, ROUTES } from '#functions/api/routes';

export function lambdaContext(name = 'test'): Context {
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: name,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:us-east-1:000000000000:function:${name}`,
    memoryLimitInMB: '256',
    awsRequestId: randomUUID(),
    logGroupName: `/aws/lambda/${name}`,
    logStreamName: 'test',
    getRemainingTimeInMillis: () => 30_000,
    done: () => {},
    fail: () => {},
    succeed: () => {},
  };
}

/** A REST proxy event for `method path`, as API Gateway sends it after validating `apiKeyId`'s key. */
export function apiEvent(
  method: string,
  path: string,
  options: {
    body?: unknown;
    rawBody?: string;
    apiKeyId?: string | null;
    query?: Record<string, string>;
    headers?: Record<string, string>;
    sourceIp?: string;
  } = {},
): APIGatewayProxyEvent {
  const [pathname, search] = path.split('?') as [string, string | undefined];
  const route =
    ROUTES.find((r) => r.method === method && matchPath(r.path, pathname)) ??
    ROUTES.find((r) => matchPath(r.path, pathname));
  const query = options.query ?? (search ? Object.fromEntries(new URLSearchParams(search)) : undefined);
  const headers = { 'content-type': 'application/json', ...options.headers };
  const body = options.rawBody ?? (options.body === undefined ? null : JSON.stringify(options.body));
  return {
    resource: route?.path ?? pathname,
    path: pathname,
    httpMethod: method,
    headers,
    multiValueHeaders: Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, [v]])),
    queryStringParameters: query ?? null,
    multiValueQueryStringParameters: null,
    pathParameters: route ? (matchPath(route.path, pathname) ?? null) : null,
    stageVariables: null,
    body,
    isBase64Encoded: false,
    requestContext: {
      accountId: '000000000000',
      apiId: 'test',
      authorizer: null,
      protocol: 'HTTP/1.1',
      httpMethod: method,
      path: pathname,
      stage: 'test',
      requestId: randomUUID(),
      requestTimeEpoch: Date.now(),
      resourceId: 'test',
      resourcePath: route?.path ?? pathname,
      identity: {
        accessKey: null,
        accountId: null,
        apiKey: null,
        apiKeyId: options.apiKeyId === undefined ? 'client-a' : options.apiKeyId,
        caller: null,
        clientCert: null,
        cognitoAuthenticationProvider: null,
        cognitoAuthenticationType: null,
        cognitoIdentityId: null,
        cognitoIdentityPoolId: null,
        principalOrgId: null,
        sourceIp: options.sourceIp ?? '127.0.0.1',
        user: null,
        userAgent: 'vitest',
        userArn: null,
      },
    },
  };
}
