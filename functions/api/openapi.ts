/**
 * The OpenAPI 3.1 document, built from the route table (routes.ts), the route contracts (contracts.ts) and
 * the JSON Schemas (schemas.ts) the handlers validate with, so it cannot drift from what is served.
 * docs/openapi.json is this document written out (`npm run openapi`); a test fails when the two differ.
 */
import { EVENT_TYPES, TEST_EVENT_TYPE } from '#functions/webhooks/events';
import { PAYLOAD_LIMITS, RATE_LIMITS, SERVICE, WEBHOOKS } from '#policy';
import { COMMON_RESPONSES, CONTRACTS, type ResponseContract } from './contracts.ts';
import { ROUTES, routeKey } from './routes.ts';
import { ref, SCHEMAS } from './schemas.ts';

const RATE_HEADERS = {
  'RateLimit-Limit': {
    description: 'Requests allowed in the window that binds most.',
    schema: { type: 'integer' },
  },
  'RateLimit-Remaining': { description: 'Requests left in that window.', schema: { type: 'integer' } },
  'RateLimit-Reset': {
    description: 'Seconds until that window frees a request.',
    schema: { type: 'integer' },
  },
  'RateLimit-Policy': {
    description: 'Every window, e.g. "100;w=60, 1000;w=3600".',
    schema: { type: 'string' },
  },
};

function response(contract: ResponseContract, status: number) {
  const headers: Record<string, unknown> = { ...RATE_HEADERS };
  if (status === 429) {
    headers['Retry-After'] = {
      description: 'Seconds until a retry can succeed.',
      schema: { type: 'integer' },
    };
  }
  if (status === 405)
    headers.Allow = { description: 'The methods this path allows.', schema: { type: 'string' } };
  return {
    description: contract.description,
    headers,
    ...(contract.schema ? { content: { 'application/json': { schema: ref(contract.schema) } } } : {}),
    ...(contract.media
      ? {
          content: Object.fromEntries(contract.media.map((type) => [type, { schema: { type: 'string' } }])),
        }
      : {}),
    ...(contract.links ? { links: contract.links } : {}),
  };
}

/**
 * Query parameters of a route: one per property of its query schema; or, when the schema has rules across
 * its properties (oneOf, anyOf, not), the schema itself as one object parameter serialised as form/explode
 * (`?a=1&b=2`), the way OpenAPI 3 states rules across parameters.
 */
function queryParameters(name: keyof typeof SCHEMAS) {
  const schema = SCHEMAS[name] as Record<string, unknown> & {
    properties?: Record<string, Record<string, unknown>>;
  };
  if (['oneOf', 'anyOf', 'not'].some((k) => k in schema)) {
    return [
      {
        name: 'query',
        in: 'query',
        required: true,
        style: 'form',
        explode: true,
        ...(typeof schema.description === 'string' ? { description: schema.description } : {}),
        schema: ref(name),
      },
    ];
  }
  return Object.entries(schema.properties ?? {}).map(([param, s]) => {
    const { description, ...rest } = s;
    return {
      name: param,
      in: 'query',
      required: false,
      ...(typeof description === 'string' ? { description } : {}),
      schema: rest,
    };
  });
}

/**
 * The event catalogue as OpenAPI 3.1 `webhooks`: what formfleet posts to a subscribed endpoint, per event type,
 * with the Standard Webhooks headers and what each answer means (docs/api.md, "Webhooks").
 */
function webhookOperations() {
  const header = (name: string, description: string) => ({
    name,
    in: 'header',
    required: true,
    description,
    schema: { type: 'string' },
  });
  const events = [
    ...EVENT_TYPES.map((e) => ({
      type: e.type as string,
      description: e.description,
      data: e.resource === 'job' ? 'JobEventData' : 'SubmissionEventData',
    })),
    {
      type: TEST_EVENT_TYPE,
      description: 'POST /v1/webhooks/{id}/test, to that endpoint only.',
      data: 'WebhookTestData',
    },
  ];
  return Object.fromEntries(
    events.map((e) => [
      e.type,
      {
        post: {
          operationId: `webhook_${e.type.replace(/\W/g, '_')}`,
          summary: e.type,
          description: e.description,
          tags: ['webhooks'],
          security: [],
          parameters: [
            header('webhook-id', 'The event id: the same on every attempt and replay (deduplicate by it).'),
            header(
              'webhook-timestamp',
              'Seconds since the epoch, of this attempt (refuse one over 5 minutes off).',
            ),
            header(
              'webhook-signature',
              '`v1,<base64 HMAC-SHA256 over "<webhook-id>.<webhook-timestamp>.<body>">`, keyed with the secret.',
            ),
          ],
          requestBody: {
            required: true,
            content: {
              'application/json': {
                schema: {
                  allOf: [
                    ref('WebhookEvent'),
                    { type: 'object', properties: { type: { const: e.type }, data: ref(e.data) } },
                  ],
                },
              },
            },
          },
          responses: {
            '2XX': { description: `Delivered (answered within ${WEBHOOKS.timeoutMs / 1000} s).` },
            '410': { description: 'Gone: the endpoint is disabled at once; its later events are held.' },
            default: {
              description: `Anything else, or no answer in time: retried with backoff for over ${Math.floor(WEBHOOKS.retryScheduleSeconds.reduce((a, b) => a + b, 0) / 3600)} hours.`,
            },
          },
        },
      },
    ]),
  );
}

export function buildOpenApiDocument() {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of ROUTES) {
    const contract = CONTRACTS[routeKey(route)];
    if (!contract) throw new Error(`route ${routeKey(route)} has no contract`);
    const responses: Record<string, unknown> = {};
    const all: Record<string, ResponseContract> = {
      ...Object.fromEntries(
        Object.entries(COMMON_RESPONSES).filter(
          ([status]) =>
            !(route.auth === 'none' && status === '403') &&
            !(status === '413' && !contract.body) &&
            !(status === '400' && !contract.body && !contract.query && !contract.params),
        ),
      ),
      ...contract.responses,
    };
    for (const [status, r] of Object.entries(all).sort(([a], [b]) => Number(a) - Number(b))) {
      responses[status] = response(r, Number(status));
    }
    const parameters = [
      ...Object.entries(contract.params ?? {}).map(([name, param]) => ({
        name,
        in: 'path',
        required: true,
        description: param.description,
        schema: param.schema,
      })),
      ...(contract.query ? queryParameters(contract.query) : []),
      ...Object.entries(contract.headers ?? {}).map(([name, h]) => ({
        name,
        in: 'header',
        required: false,
        ...h,
      })),
    ];
    paths[route.path] ??= {};
    (paths[route.path] as Record<string, unknown>)[route.method.toLowerCase()] = {
      operationId: contract.operationId,
      summary: contract.summary,
      ...(contract.description ? { description: contract.description } : {}),
      tags: [contract.tag],
      ...(route.auth === 'none' ? { security: [] } : {}),
      ...(route.auth === 'admin' ? { 'x-formfleet-auth': 'admin' } : {}),
      ...(parameters.length > 0 ? { parameters } : {}),
      ...(contract.body
        ? { requestBody: { required: true, content: { 'application/json': { schema: ref(contract.body) } } } }
        : {}),
      responses,
    };
  }
  return {
    openapi: '3.1.0',
    jsonSchemaDialect: 'https://json-schema.org/draft/2020-12/schema',
    info: {
      title: `${SERVICE.name} API`,
      version: '1.0.0',
      description:
        'Submits a business profile to online business directories. Every route but GET /health needs an API ' +
        'key in x-api-key. Limits: JSON bodies up to ' +
        `${PAYLOAD_LIMITS.jsonBodyBytes} bytes (413 before parsing), URLs up to ${PAYLOAD_LIMITS.maxUrlLength} ` +
        `characters (414); client keys ${RATE_LIMITS.client.perMinute} requests in any 60 s and ` +
        `${RATE_LIMITS.client.perHour} in any hour, admin keys ${RATE_LIMITS.admin.perMinute} and ` +
        `${RATE_LIMITS.admin.perHour}, GET /health ${RATE_LIMITS.anonymousPerIp.perMinute} per minute per IP. ` +
        'Text is stored exactly as sent or refused: JSON bodies must be UTF-8 (a body that is not, or declares ' +
        'another charset, is a 400), and no text (body strings and field names, path, query, headers read) ' +
        'may contain NUL (U+0000, also stated as a pattern on each text field) or an unpaired surrogate (a ' +
        '\\ud800-\\udfff escape without its pair): 400 naming the field. Each query parameter may be given ' +
        'once, integers written as JSON writes them. See docs/api.md.',
    },
    servers: [{ url: 'http://127.0.0.1:3000', description: 'npm start' }],
    security: [{ apiKey: [] }],
    tags: [
      'health',
      'customers',
      'jobs',
      'directories',
      'submissions',
      'tasks',
      'dlq',
      'keys',
      'webhooks',
    ].map((name) => ({
      name,
    })),
    paths,
    webhooks: webhookOperations(),
    components: {
      securitySchemes: { apiKey: { type: 'apiKey', in: 'header', name: 'x-api-key' } },
      schemas: SCHEMAS,
    },
  };
}
