/**
 * The JSON Schemas (2020-12, the dialect of OpenAPI 3.1) of every request and response body: the one source
 * of truth that the request validator (validation.ts) enforces and the OpenAPI document (openapi.ts,
 * docs/openapi.json) publishes. They reference each other as `#/components/schemas/<Name>`, exactly as they
 * sit in the OpenAPI document. The form definition's schemas come from the worker's parser
 * (DEFINITION_SCHEMAS), so the document describes exactly what it accepts.
 *
 * Every text field carries the NUL half of the one text rule (#shared/text) as a `pattern`.
 * `x-message` and `x-errors` (OpenAPI specification extensions) word failures (#shared/json-schema).
 */
import { DRY_RUN_OUTCOMES, DRY_RUN_STEP_STATUSES } from '#functions/directories/probe-results';
import { SUBSCRIBABLE_EVENT_TYPES, TEST_EVENT_TYPE } from '#functions/webhooks/events';
import { DEFINITION_SCHEMAS, HTTP_URL_SCHEMA, STEP_ACTIONS } from '#functions/worker/form-definition';
import { CLIENT_KEYS, EVIDENCE, MEDIA, PACKAGES, PAGINATION, PRIORITY_TIERS, TASKS, WEBHOOKS } from '#policy';
import { PROFILE_FIELDS } from '#shared/customer-store';
import { HEALTH_STATES } from '#shared/directory-store';
import { EVIDENCE_STATES, MATCHED_KINDS } from '#shared/evidence-store';
import { JOB_STATUSES } from '#shared/job-store';
import { ref } from '#shared/json-schema';
import { ERROR_CLASSES, LISTING_STATES, SUBMISSION_STATUSES } from '#shared/submission-ledger';
import { TASK_KINDS, TASK_OUTCOMES, TASK_STATES } from '#shared/task-store';
import { NON_BLANK, NUL_FREE } from '#shared/text';
import { CURSOR_PATTERN } from './cursor.ts';
import { REPORT_FORMATS } from './report.ts';

export { ref };

/** Entries of one directory's category map (the taxonomy has fewer categories than this). */
const CATEGORY_MAP_LIMIT = 1_000;

/** Profile text limits: the same numbers as the CHECK constraints of sql/001_core_schema.sql. */
export const PROFILE_LIMITS = {
  name: 200,
  email: 320,
  phone: 40,
  website: 2048,
  address: 300,
  city: 120,
  state: 120,
  zip: 20,
  category: 120,
  description: 5000,
} as const;

const optionalText = (max: number) => ({ type: ['string', 'null'], maxLength: max, pattern: NUL_FREE });
const nonBlank = (max: number) => ({
  type: 'string',
  minLength: 1,
  maxLength: max,
  pattern: NON_BLANK,
  'x-message': 'must not be blank',
});
const timestamp = { type: 'string', format: 'date-time' };
const nullableTimestamp = { type: ['string', 'null'], format: 'date-time' };
const uuid = { type: 'string', format: 'uuid' };
const tierName = { type: 'string', enum: PRIORITY_TIERS.map((t) => t.name) };
const priority = { type: 'integer', enum: PRIORITY_TIERS.map((t) => t.priority) };
const limit = {
  type: 'integer',
  minimum: 1,
  maximum: PAGINATION.maxLimit,
  default: PAGINATION.defaultLimit,
  description: `Page size (default ${PAGINATION.defaultLimit}, at most ${PAGINATION.maxLimit}).`,
};
const cursor = {
  type: 'string',
  minLength: 1,
  maxLength: 512,
  pattern: CURSOR_PATTERN,
  'x-message': 'is not a cursor this API gave out',
  description: 'The nextCursor of the previous page (opaque; any other value is refused with 400).',
};
const proofs = {
  type: 'array',
  description:
    'One proof per submit click of this row, oldest first (empty when nothing was sent). Screenshot links ' +
    'are presigned for whoever may see the row (its owner key or an admin).',
  items: ref('Proof'),
};
const page = (item: string, description: string) => ({
  type: 'object',
  description,
  required: ['items', 'nextCursor'],
  additionalProperties: false,
  properties: {
    items: { type: 'array', items: ref(item) },
    nextCursor: {
      type: ['string', 'null'],
      description: 'Pass as `cursor` for the next page; null at the end.',
    },
  },
});

const profileProperties = {
  name: nonBlank(PROFILE_LIMITS.name),
  email: {
    type: 'string',
    minLength: 3,
    maxLength: PROFILE_LIMITS.email,
    format: 'email',
    'x-message': 'must be an email address',
  },
  phone: optionalText(PROFILE_LIMITS.phone),
  website: optionalText(PROFILE_LIMITS.website),
  address: optionalText(PROFILE_LIMITS.address),
  city: optionalText(PROFILE_LIMITS.city),
  state: optionalText(PROFILE_LIMITS.state),
  zip: optionalText(PROFILE_LIMITS.zip),
  category: {
    ...optionalText(PROFILE_LIMITS.category),
    description:
      'One of formfleet’s categories (functions/shared/category-taxonomy.json), named by its id, label or any ' +
      'synonym in any language it lists; stored as its id. A name the taxonomy does not know is a 409 ' +
      '`unknown_category` with the nearest categories. Null or blank: none.',
  },
  description: optionalText(PROFILE_LIMITS.description),
};

export const DIRECTORY_ID_PATTERN = '^[a-z0-9][a-z0-9-]{0,62}$';
const directoryId = {
  type: 'string',
  pattern: DIRECTORY_ID_PATTERN,
  'x-message': 'must be 1 to 63 lowercase letters, digits or dashes, starting with a letter or digit',
};

const jobSummaryProperties = {
  id: uuid,
  customerId: uuid,
  status: { type: 'string', enum: JOB_STATUSES },
  priority,
  tier: tierName,
  requestedPriority: priority,
  package: { type: ['string', 'null'] },
  attempts: { type: 'integer', minimum: 0 },
  progress: {
    type: 'object',
    description:
      'What the worker is doing: total, done, directoryId, step, stepSince (the directory in flight longest on its step), inFlight (every directory in flight: directoryId, step, stepSince), counts by status.',
  },
  error: { type: ['string', 'null'] },
  errorClass: { type: ['string', 'null'] },
  createdAt: timestamp,
  queuedAt: nullableTimestamp,
  startedAt: nullableTimestamp,
  finishedAt: nullableTimestamp,
  heartbeatAt: nullableTimestamp,
};

const dlqMessage = {
  type: 'object',
  additionalProperties: false,
  required: ['messageId', 'tier', 'jobId', 'customerId', 'errorClass', 'error', 'receiveCount', 'sentAt'],
  properties: {
    messageId: { type: 'string' },
    tier: tierName,
    jobId: { type: ['string', 'null'] },
    customerId: { type: ['string', 'null'] },
    errorClass: { type: ['string', 'null'], enum: [...ERROR_CLASSES, null] },
    error: { type: ['string', 'null'] },
    receiveCount: { type: 'integer', minimum: 0 },
    sentAt: { type: 'string' },
  },
};

/** What became of a submitted listing, beside its ledger row (functions/api/submission-queries.ts, listingView). */
const listingProperties = {
  lifecycle: {
    type: ['string', 'null'],
    enum: [...LISTING_STATES, null],
    description:
      'The listing after the click (a submitted row only; null before): under_review until the directory ' +
      'publishes it, live once a recheck found it, not_found after the last recheck age, rejected when the ' +
      'directory declined it, pending_verification while it waits for an e-mail link.',
  },
  listingUrl: {
    type: ['string', 'null'],
    description: 'Where the directory shows the listing (http(s)), once a recheck found it.',
  },
  lifecycleReason: {
    type: ['string', 'null'],
    description: 'What the last recheck said (null before the first).',
  },
  lifecycleCheckedAt: { ...nullableTimestamp, description: 'When it was last looked up.' },
  nextCheckAt: {
    ...nullableTimestamp,
    description: 'When it is looked up next (null once live, not_found or rejected).',
  },
} as const;

const directorySummary = {
  type: 'object',
  additionalProperties: false,
  required: [
    'id',
    'name',
    'site',
    'submissionUrl',
    'category',
    'tier',
    'domainAuthority',
    'active',
    'hasCaptcha',
    'requiresLogin',
    'version',
    'health',
  ],
  properties: {
    id: { type: 'string' },
    name: { type: 'string' },
    site: { type: 'string' },
    submissionUrl: { type: 'string' },
    category: { type: 'string' },
    tier: { type: 'integer', minimum: 1, maximum: 4 },
    domainAuthority: { type: 'integer', minimum: 0, maximum: 100 },
    active: { type: 'boolean' },
    hasCaptcha: { type: 'boolean' },
    requiresLogin: { type: 'boolean' },
    version: { type: 'integer', minimum: 1 },
    health: {
      type: 'object',
      description:
        'The daily health check (a dry run, never submitting): `status` ok, drift (a step of the form is gone: ' +
        '`driftStep`, since `driftSince`), error (the check could not tell: `outcome` says why) or unchecked. ' +
        'A paused directory is skipped by jobs (skipped, `directory_paused`) until an admin unpauses it ' +
        '(POST /v1/directories/{id}/unpause).',
      additionalProperties: false,
      required: [
        'status',
        'outcome',
        'checkedAt',
        'driftStep',
        'driftSince',
        'paused',
        'pausedAt',
        'pausedReason',
      ],
      properties: {
        status: { type: 'string', enum: [...HEALTH_STATES] },
        outcome: { oneOf: [{ type: 'string', enum: [...DRY_RUN_OUTCOMES] }, { type: 'null' }] },
        checkedAt: nullableTimestamp,
        driftStep: { type: ['integer', 'null'], minimum: 0 },
        driftSince: nullableTimestamp,
        paused: { type: 'boolean' },
        pausedAt: nullableTimestamp,
        pausedReason: { type: ['string', 'null'] },
      },
    },
  },
} as const;

/**
 * A webhook URL as the schema admits it: exactly the strings WHATWG URL parsing accepts as an http(s) URL with
 * no credentials and no fragment, so a URL the schema calls valid is refused (422) only for where it points,
 * never for its form: a host name whose last label starts with a letter (a digit-only one would be read as an
 * IPv4 number) and with no `--` (so no punycode label, which fails to parse when malformed: international
 * names are not accepted), a dotted IPv4 address without leading zeros, an IPv6 address in full or `::` form; a port up
 * to 65535; then printable ASCII but `#`.
 */
const WEBHOOK_URL_PATTERN = (() => {
  // No two hyphens in a row: `xn--` labels are punycode, which a bad one fails to parse.
  const label = '[A-Za-z0-9]+(?:-[A-Za-z0-9]+)*';
  const lastLabel = '[A-Za-z][A-Za-z0-9]*(?:-[A-Za-z0-9]+)*';
  const octet = '(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])';
  const group = '[0-9A-Fa-f]{1,4}';
  const host = [
    `(?:${label}\\.)*${lastLabel}`,
    `${octet}(?:\\.${octet}){3}`,
    `\\[(?:${group}:){7}${group}\\]`,
    `\\[::(?:${group}(?::${group}){0,6})?\\]`,
  ].join('|');
  const port =
    '(?::(?:6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[1-9][0-9]{0,3}))?';
  return `^https?://(?:${host})${port}(?:[/?][!"$-~]*)?$`;
})();

const webhookProperties = {
  id: uuid,
  ownerKeyId: { type: 'string', description: 'The API key id whose endpoint it is.' },
  scope: {
    type: 'string',
    enum: ['own', 'all'],
    description: 'own: events about the owner key’s resources; all (admin keys): every event.',
  },
  url: { type: 'string' },
  events: { type: 'array', items: { type: 'string', enum: SUBSCRIBABLE_EVENT_TYPES } },
  description: { type: ['string', 'null'] },
  status: { type: 'string', enum: ['enabled', 'disabled'] },
  disabledReason: {
    type: ['string', 'null'],
    enum: ['gone', 'failing', null],
    description: `gone: it answered 410; failing: no success for ${WEBHOOKS.disableAfterFailingDays} days.`,
  },
  disabledAt: nullableTimestamp,
  failingSince: {
    ...nullableTimestamp,
    description: 'First failure since the last success; null when healthy.',
  },
  consecutiveFailures: { type: 'integer', minimum: 0 },
  pausedUntil: {
    ...nullableTimestamp,
    description: 'After a failure nothing is sent before this (backoff).',
  },
  lastSuccessAt: nullableTimestamp,
  createdAt: timestamp,
  updatedAt: timestamp,
};

const webhookDeliveryStatus = {
  type: 'string',
  enum: ['pending', 'delivered', 'failed', 'held'],
  description:
    'pending: to be sent (nextAttemptAt); delivered: answered 2xx; failed: every retry failed (replay it); ' +
    'held: the endpoint is disabled (sent once it is enabled).',
};

/** An object schema of `properties`, all required, and with `proofs` (the API's answers) or without (webhook data). */
function withProofs<P extends Record<string, unknown>>(properties: P, proofsToo: boolean) {
  return {
    type: 'object',
    additionalProperties: false,
    required: [...Object.keys(properties), ...(proofsToo ? ['proofs'] : [])],
    properties: { ...properties, ...(proofsToo ? { proofs } : {}) },
  } as const;
}

/** A ledger row of GET /v1/submissions, but its proofs. */
const submissionProperties = {
  jobId: uuid,
  customerId: uuid,
  directoryId: { type: 'string' },
  status: { type: 'string', enum: SUBMISSION_STATUSES },
  attempt: { type: 'integer', minimum: 0 },
  errorClass: { type: ['string', 'null'] },
  error: { type: ['string', 'null'] },
  startedAt: nullableTimestamp,
  finishedAt: nullableTimestamp,
  updatedAt: timestamp,
  ...listingProperties,
} as const;

/** A job with its per-directory results, each with its proofs (GET /v1/jobs/{id}) or without (webhook data). */
function jobSchema(proofsToo: boolean) {
  return {
    type: 'object',
    additionalProperties: false,
    required: [...Object.keys(jobSummaryProperties), 'results'],
    properties: {
      ...jobSummaryProperties,
      results: {
        type: 'array',
        description: 'One entry per directory: the submission ledger.',
        items: withProofs(
          {
            directoryId: { type: 'string' },
            status: { type: 'string', enum: SUBMISSION_STATUSES },
            attempt: { type: 'integer', minimum: 0 },
            errorClass: { type: ['string', 'null'] },
            error: { type: ['string', 'null'] },
            finishedAt: nullableTimestamp,
            ...listingProperties,
          },
          proofsToo,
        ),
      },
    },
  } as const;
}
const claimant = {
  ...nonBlank(TASKS.claimantMaxLength),
  description: 'The person (default: the API key id).',
};
const claimToken = (description: string) => ({
  type: 'integer',
  minimum: 1,
  maximum: 2_147_483_647,
  description,
});

export const SCHEMAS = {
  Error: {
    type: 'object',
    description: 'Every error the API itself answers. `details` names each offending field.',
    required: ['error'],
    additionalProperties: false,
    properties: {
      error: {
        type: 'object',
        required: ['code', 'message'],
        additionalProperties: false,
        properties: {
          code: { type: 'string' },
          message: { type: 'string' },
          details: {
            type: 'array',
            items: {
              type: 'object',
              required: ['field', 'message'],
              additionalProperties: false,
              properties: { field: { type: 'string' }, message: { type: 'string' } },
            },
          },
          requestId: { type: 'string', description: 'Quote it when reporting a 500.' },
          suggestions: {
            type: 'array',
            description: 'With unknown_category: the nearest known categories, best first.',
            items: {
              type: 'object',
              required: ['id', 'label', 'score'],
              additionalProperties: false,
              properties: {
                id: { type: 'string' },
                label: { type: 'string' },
                score: { type: 'number', minimum: 0, maximum: 1 },
              },
            },
          },
        },
      },
    },
  },
  GatewayError: {
    type: 'object',
    description:
      'What API Gateway itself answers (403 for a missing or unknown key, 429 from the usage plan).',
    required: ['message'],
    additionalProperties: false,
    properties: { message: { type: 'string' } },
  },
  Forbidden: {
    description:
      "API Gateway's answer to a missing or unknown key, or the API's to a client key on an admin route.",
    oneOf: [ref('GatewayError'), ref('Error')],
  },
  Throttled: {
    description: "The exact limiter's 429 (with RateLimit-* and Retry-After), or the usage plan's bare one.",
    oneOf: [ref('Error'), ref('GatewayError')],
  },
  CustomerCreate: {
    type: 'object',
    description: 'A business profile. `name` and `email` are required; other fields may be omitted or null.',
    required: ['name', 'email'],
    additionalProperties: false,
    properties: profileProperties,
  },
  CustomerPatch: {
    type: 'object',
    description: 'Fields to change; null clears an optional field. `name` and `email` cannot be cleared.',
    minProperties: 1,
    additionalProperties: false,
    properties: profileProperties,
    'x-message': 'must change at least one field',
  },
  Customer: {
    type: 'object',
    additionalProperties: false,
    required: ['id', 'ownerKeyId', ...Object.keys(profileProperties), 'createdAt', 'updatedAt'],
    properties: {
      id: uuid,
      ownerKeyId: { type: 'string', description: 'The API key id that created it (never a key value).' },
      ...profileProperties,
      logo: {
        oneOf: [ref('MediaRef'), { type: 'null' }],
        description: 'The ready image the profile’s logo is (POST /v1/customers/{id}/media), or null.',
      },
      createdAt: timestamp,
      updatedAt: timestamp,
    },
  },
  MediaRef: {
    type: 'object',
    description:
      'A stored image: its bytes are the type named (magic numbers checked), of this size and hash.',
    additionalProperties: false,
    required: ['id', 'contentType', 'sizeBytes', 'sha256'],
    properties: {
      id: uuid,
      contentType: { type: 'string', enum: [...MEDIA.contentTypes] },
      sizeBytes: { type: 'integer', minimum: 1, maximum: MEDIA.maxBytes },
      sha256: { type: 'string', pattern: '^[0-9a-f]{64}$' },
    },
  },
  MediaCreate: {
    type: 'object',
    description: 'The image to upload: what it is for and its type (policy MEDIA).',
    required: ['contentType'],
    additionalProperties: false,
    properties: {
      kind: { type: 'string', enum: [...MEDIA.kinds], default: 'logo' },
      contentType: {
        type: 'string',
        enum: [...MEDIA.contentTypes],
        'x-message': `must be one of ${MEDIA.contentTypes.join(', ')}`,
      },
    },
  },
  Media: {
    type: 'object',
    description:
      'One upload: pending until completed, then ready (the customer’s image of its kind) or rejected (`reason`).',
    additionalProperties: false,
    required: [
      'id',
      'customerId',
      'kind',
      'contentType',
      'status',
      'reason',
      'sizeBytes',
      'sha256',
      'createdAt',
      'completedAt',
    ],
    properties: {
      id: uuid,
      customerId: uuid,
      kind: { type: 'string', enum: [...MEDIA.kinds] },
      contentType: { type: 'string', enum: [...MEDIA.contentTypes] },
      status: { type: 'string', enum: ['pending', 'ready', 'rejected'] },
      reason: { type: ['string', 'null'] },
      sizeBytes: { type: ['integer', 'null'], minimum: 1 },
      sha256: { type: ['string', 'null'], pattern: '^[0-9a-f]{64}$' },
      createdAt: timestamp,
      completedAt: { type: ['string', 'null'], format: 'date-time' },
    },
  },
  MediaUpload: {
    type: 'object',
    description:
      'A pending upload and its presigned S3 POST: send multipart/form-data to `upload.url` with every field ' +
      'of `upload.fields`, then the image as the field `file`; S3 refuses another key, another Content-Type ' +
      'or a body outside 1..maxBytes. Then POST …/media/{mediaId}/complete.',
    additionalProperties: false,
    required: ['media', 'upload', 'maxBytes'],
    properties: {
      media: ref('Media'),
      upload: {
        type: 'object',
        additionalProperties: false,
        required: ['url', 'fields', 'expiresAt'],
        properties: {
          url: { type: 'string', format: 'uri' },
          fields: { type: 'object', additionalProperties: { type: 'string' } },
          expiresAt: timestamp,
        },
      },
      maxBytes: { type: 'integer', const: MEDIA.maxBytes },
    },
  },
  JobCreate: {
    type: 'object',
    description:
      'Give `directoryIds` or `package`. A package selects the active directories at or below its tier, ' +
      'highest domain authority first, up to its size; its default priority applies unless `priority` is given.',
    required: ['customerId'],
    additionalProperties: false,
    properties: {
      customerId: { ...uuid, 'x-message': 'must be a customer id (uuid)' },
      directoryIds: {
        type: 'array',
        minItems: 1,
        maxItems: PACKAGES.enterprise.size,
        uniqueItems: true,
        items: directoryId,
      },
      package: { type: 'string', enum: Object.keys(PACKAGES) },
      priority: { ...priority, description: '1 (P1, served first) to 3; default from the package, else 2.' },
      resubmit: {
        type: 'object',
        description:
          'A deliberate resubmission: these directories (of this job) are sent again although the customer ' +
          'already has a row for them, each taking over that row at its submit click. Without it such a ' +
          'directory is skipped. A client key may resubmit only what was submitted; forcing one that may or ' +
          'may not have been sent (unknown) needs an admin key. Recorded on the rows and in a job event.',
        required: ['directoryIds', 'reason'],
        additionalProperties: false,
        properties: {
          directoryIds: { type: 'array', minItems: 1, uniqueItems: true, items: directoryId },
          reason: { ...nonBlank(500), description: 'Why (listing removed, rejected, profile changed ...).' },
        },
      },
    },
    anyOf: [{ required: ['directoryIds'] }, { required: ['package'] }],
    not: { required: ['directoryIds', 'package'] },
    'x-errors': {
      anyOf: { property: 'directoryIds', message: 'give directoryIds or package' },
      not: { property: 'package', message: 'give directoryIds or package, not both' },
    },
  },
  JobAccepted: {
    type: 'object',
    additionalProperties: false,
    required: ['id', 'status', 'priority', 'tier', 'directories'],
    properties: {
      id: uuid,
      status: { type: 'string', enum: ['pending', 'queued'] },
      priority,
      tier: tierName,
      directories: { type: 'integer', minimum: 1 },
      skipped: {
        type: 'array',
        description:
          'Directories the customer already has a row for that may have been sent or was (in any job): ' +
          'created skipped, pointing at that row, and never visited.',
        items: ref('LedgerPointer'),
      },
      resubmitting: {
        type: 'array',
        description: 'Directories resubmitted deliberately, and the earlier row each will take over.',
        items: ref('LedgerPointer'),
      },
    },
  },
  LedgerPointer: {
    type: 'object',
    description: 'A directory of this job and the earlier row (job and status) it refers to.',
    additionalProperties: false,
    required: ['directoryId'],
    properties: {
      directoryId: { type: 'string' },
      reason: { type: 'string' },
      heldBy: ref('LedgerRow'),
      supersedes: ref('LedgerRow'),
    },
  },
  LedgerRow: {
    type: 'object',
    description: 'A ledger row of another job: its job id, directory and status.',
    additionalProperties: false,
    required: ['jobId', 'directoryId', 'status'],
    properties: {
      jobId: uuid,
      directoryId: { type: 'string' },
      status: { type: 'string', enum: SUBMISSION_STATUSES },
    },
  },
  JobSummary: {
    type: 'object',
    additionalProperties: false,
    required: Object.keys(jobSummaryProperties),
    properties: jobSummaryProperties,
  },
  Job: jobSchema(true),
  JobEventData: {
    ...jobSchema(false),
    description:
      'A job as GET /v1/jobs/{id} returns it, without `proofs` (their links expire): webhook `data`.',
  },
  JobPage: page('JobSummary', 'Jobs, newest first.'),
  JobRetried: {
    type: 'object',
    additionalProperties: false,
    required: ['id', 'status', 'priority', 'tier', 'retried'],
    properties: {
      id: uuid,
      status: { type: 'string', enum: ['pending', 'queued'] },
      priority,
      tier: tierName,
      retried: {
        type: 'array',
        description: 'The directories this retry sends or looks up again (plan actions send and verify).',
        items: { type: 'string' },
      },
      plan: {
        type: 'array',
        description: 'What the retry does with each directory of the job, and why.',
        items: ref('RetryDecision'),
      },
    },
  },
  RetryDecision: {
    type: 'object',
    additionalProperties: false,
    required: ['directoryId', 'from', 'to', 'action', 'reason'],
    properties: {
      directoryId: { type: 'string' },
      from: { type: 'string', enum: SUBMISSION_STATUSES },
      to: { type: 'string', enum: SUBMISSION_STATUSES },
      action: {
        type: 'string',
        enum: ['send', 'verify', 'settle', 'none'],
        description:
          'send: back to prepared, sent by the next run; verify: it may have been sent, so it becomes ' +
          'unverified and is looked up on the directory first (found: submitted without a click; certainly ' +
          'not there: sent; otherwise: unknown for a person); settle: a row the job left open that can be ' +
          'neither sent nor looked up now (another job holds it, its directory is inactive) is settled with ' +
          'that reason, undone by a later retry once it has passed; none: it stays as it is.',
      },
      reason: { type: 'string' },
    },
  },
  CustomerQueue: {
    type: 'object',
    additionalProperties: false,
    required: ['customerId', 'jobs'],
    properties: {
      customerId: uuid,
      jobs: {
        type: 'array',
        description: 'The customer’s unfinished jobs.',
        items: {
          type: 'object',
          additionalProperties: false,
          required: ['jobId', 'status', 'priority', 'tier', 'position', 'estimatedWaitSeconds'],
          properties: {
            jobId: uuid,
            status: { type: 'string', enum: ['pending', 'queued', 'in_progress'] },
            priority,
            tier: tierName,
            position: {
              type: 'integer',
              minimum: 0,
              description: 'Place in its tier (1 = next); 0 once a worker has it.',
            },
            estimatedWaitSeconds: {
              type: ['integer', 'null'],
              minimum: 0,
              description: 'From the tier’s recent throughput; null when there is no history to go by.',
            },
          },
        },
      },
    },
  },
  DirectoryPut: {
    type: 'object',
    description:
      'Creates or replaces a directory. `definition` is the form definition the worker runs (validated in full).',
    required: ['name', 'category', 'tier', 'domainAuthority', 'definition'],
    additionalProperties: false,
    properties: {
      name: nonBlank(200),
      site: {
        ...HTTP_URL_SCHEMA,
        description: 'Origin the politeness limits apply to; default: the origin of the submission URL.',
      },
      submissionUrl: { ...HTTP_URL_SCHEMA, description: 'Default: definition.submissionUrl.' },
      category: nonBlank(120),
      tier: {
        type: 'integer',
        minimum: 1,
        maximum: 4,
        description: '1 = every package ... 4 = enterprise only.',
      },
      domainAuthority: { type: 'integer', minimum: 0, maximum: 100 },
      active: { type: 'boolean', default: true },
      hasCaptcha: { type: 'boolean', default: false },
      requiresLogin: { type: 'boolean', default: false },
      definition: ref('FormDefinition'),
    },
  },
  DirectorySummary: directorySummary,
  Directory: {
    ...directorySummary,
    description: 'A directory with its form definition (and its category map, once one is set).',
    required: [...directorySummary.required, 'definition'],
    properties: {
      ...directorySummary.properties,
      definition: ref('FormDefinition'),
      categoryMap: {
        type: 'object',
        required: ['mapping', 'default'],
        additionalProperties: false,
        properties: {
          mapping: { type: 'object', additionalProperties: ref('OptionRef') },
          default: { oneOf: [ref('OptionRef'), { type: 'null' }] },
        },
      },
    },
  },
  OptionRef: {
    type: 'object',
    description:
      'One option of the directory’s category select: by its `value`, or its visible `label` (exactly one).',
    additionalProperties: false,
    properties: {
      value: { type: 'string', minLength: 1, maxLength: 200, pattern: NUL_FREE },
      label: nonBlank(200),
    },
    oneOf: [{ required: ['value'] }, { required: ['label'] }],
    'x-errors': { oneOf: { message: 'needs exactly one of value or label' } },
  },
  CategoryMapPut: {
    type: 'object',
    description:
      'A directory’s category map: which of its options each formfleet category is, and the option to take ' +
      'when a category is neither mapped nor similar enough to an option. Keys name categories as customers ' +
      'do (id, label or synonym; stored as ids); one the taxonomy does not know is a 409 unknown_category. ' +
      'Replaces the whole map.',
    required: ['mapping'],
    additionalProperties: false,
    properties: {
      mapping: {
        type: 'object',
        maxProperties: CATEGORY_MAP_LIMIT,
        propertyNames: { minLength: 1, maxLength: 120, pattern: NON_BLANK },
        additionalProperties: ref('OptionRef'),
      },
      default: { oneOf: [ref('OptionRef'), { type: 'null' }] },
    },
  },
  DirectoryCategories: {
    type: 'object',
    description:
      'A directory’s category map, and the options its category select offered when a worker last read the ' +
      'form (on a submission or a dry run), with the map entries whose option was not among them.',
    additionalProperties: false,
    required: [
      'directoryId',
      'mapping',
      'default',
      'options',
      'optionsSeenAt',
      'optionsSource',
      'missing',
      'version',
    ],
    properties: {
      directoryId: { type: 'string' },
      mapping: { type: 'object', additionalProperties: ref('OptionRef') },
      default: { oneOf: [ref('OptionRef'), { type: 'null' }] },
      options: {
        type: ['array', 'null'],
        description: 'As last seen; null until a worker has read the form.',
        items: {
          type: 'object',
          required: ['value', 'label', 'group'],
          additionalProperties: false,
          properties: {
            value: { type: 'string' },
            label: { type: 'string' },
            group: { type: ['string', 'null'], description: 'The optgroup it sits in.' },
          },
        },
      },
      optionsSeenAt: nullableTimestamp,
      optionsSource: { type: ['string', 'null'], enum: ['submission', 'dry_run', null] },
      missing: {
        type: 'array',
        description:
          'Map entries (category null: the default) whose option the form did not offer when last seen.',
        items: {
          type: 'object',
          required: ['category', 'option'],
          additionalProperties: false,
          properties: { category: { type: ['string', 'null'] }, option: ref('OptionRef') },
        },
      },
      version: {
        type: 'integer',
        minimum: 1,
        description: 'The directory’s version (a map change raises it).',
      },
    },
  },
  DirectoryPage: page('DirectorySummary', 'Directories by id.'),
  DirectoryStatsQuery: {
    type: 'object',
    additionalProperties: false,
    properties: {
      days: {
        type: 'integer',
        minimum: 1,
        maximum: 365,
        default: 30,
        description: 'The window (default 30).',
      },
    },
  },
  DirectoryStats: {
    type: 'object',
    additionalProperties: false,
    required: [
      'directoryId',
      'window',
      'total',
      'byStatus',
      'byErrorClass',
      'submittedRate',
      'liveRate',
      'durationMs',
      'captchaRate',
      'loginWallRate',
      'lastDrift',
    ],
    properties: {
      directoryId,
      window: {
        type: 'object',
        additionalProperties: false,
        required: ['days', 'from', 'to'],
        properties: { days: { type: 'integer' }, from: timestamp, to: timestamp },
      },
      total: { type: 'integer', minimum: 0 },
      byStatus: { type: 'object', additionalProperties: { type: 'integer', minimum: 0 } },
      byErrorClass: { type: 'object', additionalProperties: { type: 'integer', minimum: 0 } },
      submittedRate: { type: ['number', 'null'], minimum: 0, maximum: 1 },
      liveRate: { type: ['number', 'null'], minimum: 0, maximum: 1 },
      durationMs: {
        type: 'object',
        additionalProperties: false,
        required: ['p50', 'p95'],
        properties: { p50: { type: ['integer', 'null'] }, p95: { type: ['integer', 'null'] } },
      },
      captchaRate: { type: ['number', 'null'], minimum: 0, maximum: 1 },
      loginWallRate: { type: ['number', 'null'], minimum: 0, maximum: 1 },
      lastDrift: {
        anyOf: [
          {
            type: 'object',
            additionalProperties: false,
            required: ['at', 'error'],
            properties: { at: timestamp, error: { type: ['string', 'null'] } },
          },
          { type: 'null' },
        ],
      },
    },
  },
  DryRunRequest: {
    type: 'object',
    description: 'Whose profile the dry run types: a customer’s, or (without customerId) a sample profile.',
    additionalProperties: false,
    properties: { customerId: { ...uuid, 'x-message': 'must be a customer id (uuid)' } },
  },
  DiscoverRequest: {
    type: 'object',
    description: 'The page with the “add your business” form.',
    required: ['url'],
    additionalProperties: false,
    properties: { url: { ...HTTP_URL_SCHEMA, description: 'The form’s page (http or https).' } },
  },
  Discovery: {
    type: 'object',
    description:
      'A draft definition from the page alone: `outcome` form (a form to fill) or login_wall (jobs will skip ' +
      'it as login_required); `confidence` is the least sure of the name, e-mail and submit steps (0 to 1).',
    additionalProperties: false,
    required: [
      'outcome',
      'url',
      'finalUrl',
      'title',
      'definition',
      'confidence',
      'steps',
      'unmapped',
      'captcha',
      'pages',
      'warnings',
      'screenshots',
    ],
    properties: {
      outcome: { type: 'string', enum: ['form', 'login_wall'] },
      url: { type: 'string' },
      finalUrl: { type: 'string' },
      title: { type: 'string', description: 'The page’s title: a name for the directory.' },
      definition: ref('FormDefinition'),
      confidence: { type: 'number', minimum: 0, maximum: 1 },
      steps: {
        type: 'array',
        items: {
          type: 'object',
          additionalProperties: false,
          required: ['step', 'action', 'confidence', 'because'],
          properties: {
            step: { type: 'integer', minimum: 0 },
            action: { type: 'string', enum: STEP_ACTIONS },
            field: { type: 'string', enum: PROFILE_FIELDS },
            confidence: { type: 'number', minimum: 0, maximum: 1 },
            because: { type: 'array', items: { type: 'string' }, description: 'The signals that matched.' },
          },
        },
      },
      unmapped: {
        type: 'array',
        description: 'Inputs no profile field matched (a required one may make the site refuse a listing).',
        items: {
          type: 'object',
          additionalProperties: false,
          required: ['selector', 'label', 'required'],
          properties: {
            selector: { type: 'string' },
            label: { type: 'string' },
            required: { type: 'boolean' },
          },
        },
      },
      captcha: { type: 'boolean' },
      pages: { type: 'integer', minimum: 1 },
      warnings: { type: 'array', items: { type: 'string' } },
      screenshots: { type: 'array', items: ref('ProbeScreenshot') },
    },
  },
  ProbeScreenshot: {
    description:
      'A screenshot of a probe: taken (a presigned link to the JPEG in the records bucket, or the bytes as ' +
      'base64 when kept inline), or not taken with the reason.',
    oneOf: [
      {
        type: 'object',
        additionalProperties: false,
        required: ['label', 'taken', 'contentType', 'bytes', 'url', 'expiresAt', 'data'],
        properties: {
          label: { type: 'string' },
          taken: { const: true },
          contentType: { const: 'image/jpeg' },
          bytes: { type: 'integer', minimum: 1, maximum: EVIDENCE.maxImageBytes },
          url: { type: ['string', 'null'], format: 'uri' },
          expiresAt: nullableTimestamp,
          data: { type: ['string', 'null'], contentEncoding: 'base64' },
        },
      },
      {
        type: 'object',
        additionalProperties: false,
        required: ['label', 'taken', 'reason'],
        properties: { label: { type: 'string' }, taken: { const: false }, reason: { type: 'string' } },
      },
    ],
  },
  DryRun: {
    type: 'object',
    description:
      'A dry run: how it ended (`ready`: every step ran and the submit control is there; `drift`: a step’s ' +
      'elements are gone, `driftStep`; captcha, login_wall; site_down, timeout, blocked_destination: the ' +
      'site, not the definition; refused: an inner page refused the values; error), per step what it found, ' +
      'and the filled form’s screenshot. `submitted` is always false.',
    additionalProperties: false,
    required: [
      'directoryId',
      'version',
      'customerId',
      'submitted',
      'outcome',
      'reachedSubmit',
      'driftStep',
      'error',
      'errorClass',
      'steps',
      'attempts',
      'ms',
      'screenshots',
    ],
    properties: {
      directoryId: directoryId,
      version: { type: 'integer', minimum: 1, description: 'The definition version that was run.' },
      customerId: { type: ['string', 'null'], format: 'uuid' },
      submitted: { const: false },
      outcome: { type: 'string', enum: DRY_RUN_OUTCOMES },
      reachedSubmit: { type: 'boolean' },
      driftStep: {
        type: ['integer', 'null'],
        minimum: 0,
        description: 'The first step whose elements are missing.',
      },
      error: { type: ['string', 'null'] },
      errorClass: { anyOf: [{ type: 'string', enum: ERROR_CLASSES }, { type: 'null' }] },
      steps: {
        type: 'array',
        items: {
          type: 'object',
          additionalProperties: false,
          required: ['step', 'action', 'status', 'selector', 'selectorIndex', 'ms'],
          properties: {
            step: { type: 'integer', minimum: 0 },
            action: { type: 'string', enum: STEP_ACTIONS },
            field: { type: 'string', enum: [...PROFILE_FIELDS, ...MEDIA.kinds] },
            status: { type: 'string', enum: DRY_RUN_STEP_STATUSES },
            selector: { type: ['string', 'null'], description: 'The selector that matched.' },
            selectorIndex: {
              type: ['integer', 'null'],
              minimum: 0,
              description: 'Its place in the step’s list: 0 the primary, more a fallback.',
            },
            ms: { type: ['integer', 'null'], minimum: 0 },
            note: { type: 'string' },
          },
        },
      },
      attempts: { type: 'integer', minimum: 1 },
      ms: { type: 'integer', minimum: 0 },
      screenshots: { type: 'array', items: ref('ProbeScreenshot') },
    },
  },
  ...DEFINITION_SCHEMAS,
  Submission: withProofs(submissionProperties, true),
  SubmissionEventData: {
    ...withProofs(submissionProperties, false),
    description:
      'A ledger row as GET /v1/submissions lists it, without `proofs` (their links expire): webhook `data`.',
  },
  Proof: {
    type: 'object',
    description:
      'The proof of one submit click: what the worker saw and typed, and its two screenshots (JPEG). Facts ' +
      'are recorded whatever the outcome; a screenshot is `stored` only once it is in S3.',
    additionalProperties: false,
    required: ['attempt', 'capturedAt', 'finalUrl', 'httpStatus', 'matched', 'typedSha256', 'screenshots'],
    properties: {
      attempt: {
        type: 'integer',
        minimum: 1,
        description: 'The ledger row’s attempt this click was (a row clicked twice has two proofs).',
      },
      capturedAt: { ...timestamp, description: 'When the outcome of the click was decided.' },
      finalUrl: { type: ['string', 'null'], description: 'The page the submission ended on.' },
      httpStatus: {
        type: ['integer', 'null'],
        description: 'The last HTTP status of the page’s main frame.',
      },
      matched: {
        oneOf: [
          {
            type: 'object',
            additionalProperties: false,
            required: ['kind', 'index'],
            properties: {
              kind: { type: 'string', enum: MATCHED_KINDS },
              index: {
                type: ['integer', 'null'],
                minimum: 0,
                description:
                  'Index in the definition’s list of that kind; null for a captcha the engine ' +
                  'recognised by itself (reCAPTCHA, hCaptcha, Turnstile).',
              },
            },
          },
          { type: 'null' },
        ],
        description:
          'The definition indicator that decided the outcome (success, failure, captcha, loginWall); null when ' +
          'none matched (the outcome was unclear).',
      },
      typedSha256: {
        type: 'string',
        pattern: '^[0-9a-f]{64}$',
        description:
          'SHA-256 (hex) of the canonical JSON (keys sorted, no whitespace) of the values typed and selected: ' +
          'an array in step order of {"field", "step", "value"} (`field` absent for a fixed select value).',
      },
      category: {
        type: 'object',
        description:
          'The option chosen for the customer’s category and how: `via` map (the directory’s category map), ' +
          'similarity (with its `score`, at least the policy threshold) or default (the map’s default). ' +
          'Absent when the form has no category select (docs/directory-definitions.md).',
        additionalProperties: false,
        required: ['asked', 'category', 'via', 'value', 'label', 'group'],
        properties: {
          asked: { type: 'string', description: 'The customer’s category as stored.' },
          category: { type: ['string', 'null'], description: 'The taxonomy id it names (null: free text).' },
          via: { type: 'string', enum: ['map', 'similarity', 'default'] },
          value: { type: 'string' },
          label: { type: 'string' },
          group: { type: ['string', 'null'] },
          score: { type: 'number', minimum: 0, maximum: 1 },
        },
      },
      screenshots: {
        type: 'object',
        additionalProperties: false,
        required: ['form', 'result'],
        properties: {
          form: { ...ref('ProofImage'), description: 'The filled form, just before the submit click.' },
          result: { ...ref('ProofImage'), description: 'The page the submission ended on.' },
        },
      },
    },
  },
  ProofImage: {
    type: 'object',
    description:
      `A screenshot and where it is: pending (not in S3 yet: uploading, or waiting for the next retry), ` +
      `stored (\`url\` is a presigned GET that works for ${EVIDENCE.presignedUrlSeconds} s, until ` +
      `\`expiresAt\`: ask again for a fresh one), lost (it never reached S3; \`reason\` says why) or ` +
      'not_taken (the page could not be captured; `reason` says why).',
    additionalProperties: false,
    required: ['state', 'contentType', 'bytes', 'sha256', 'url', 'expiresAt', 'reason'],
    properties: {
      state: { type: 'string', enum: [...EVIDENCE_STATES, 'not_taken'] },
      contentType: { type: ['string', 'null'] },
      bytes: { type: ['integer', 'null'], minimum: 1 },
      sha256: { type: ['string', 'null'], pattern: '^[0-9a-f]{64}$' },
      url: { type: ['string', 'null'] },
      expiresAt: nullableTimestamp,
      reason: { type: ['string', 'null'] },
    },
  },
  SubmissionPage: page('Submission', 'Ledger rows, in submission order.'),
  Task: {
    type: 'object',
    description:
      'A ledger row the robot must not finish, for a person: a captcha (needs_manual), a login wall (skipped, ' +
      'login_required) or a row that may have been sent and nobody could tell (unknown).',
    additionalProperties: false,
    required: [
      'id',
      'kind',
      'status',
      'jobId',
      'customerId',
      'directoryId',
      'directoryName',
      'submissionUrl',
      'fromStatus',
      'ledgerStatus',
      'reason',
      'claim',
      'outcome',
      'resolvedBy',
      'resolvedAt',
      'note',
      'listingUrl',
      'withdrawnReason',
      'createdAt',
      'updatedAt',
      'proofs',
    ],
    properties: {
      id: uuid,
      kind: { type: 'string', enum: TASK_KINDS },
      status: {
        type: 'string',
        enum: TASK_STATES,
        description:
          'open (nobody holds it), claimed (a person holds a live lease), resolved, or withdrawn (its ledger ' +
          'row moved on without it: a retry, a resubmission).',
      },
      jobId: uuid,
      customerId: uuid,
      directoryId: { type: 'string' },
      directoryName: { type: 'string' },
      submissionUrl: { type: 'string', description: 'Where to submit by hand.' },
      fromStatus: {
        type: 'string',
        enum: SUBMISSION_STATUSES,
        description: 'The ledger state the task was made for: resolving moves the row only from it.',
      },
      ledgerStatus: { type: 'string', enum: SUBMISSION_STATUSES, description: "The ledger row's state now." },
      reason: { type: ['string', 'null'], description: 'Why the robot stopped.' },
      claim: {
        oneOf: [
          {
            type: 'object',
            additionalProperties: false,
            required: ['by', 'token', 'expiresAt'],
            properties: {
              by: { type: 'string' },
              token: {
                type: 'integer',
                minimum: 1,
                description: 'Name it as claimToken in release and resolve.',
              },
              expiresAt: { ...timestamp, description: 'After this anyone may claim it.' },
            },
          },
          { type: 'null' },
        ],
        description: 'The live claim, if any.',
      },
      outcome: { type: ['string', 'null'], enum: [...TASK_OUTCOMES, null] },
      resolvedBy: { type: ['string', 'null'] },
      resolvedAt: nullableTimestamp,
      note: { type: ['string', 'null'] },
      listingUrl: { type: ['string', 'null'] },
      withdrawnReason: { type: ['string', 'null'] },
      createdAt: timestamp,
      updatedAt: timestamp,
      proofs,
    },
  },
  TaskPage: page('Task', 'Tasks, oldest first.'),
  TaskQuery: {
    type: 'object',
    additionalProperties: false,
    properties: {
      status: {
        type: 'string',
        enum: TASK_STATES,
        description: 'open: nobody holds it (the queue); claimed: leased to a person. Absent: every task.',
      },
      kind: { type: 'string', enum: TASK_KINDS },
      directoryId: { ...directoryId, maxLength: 63 },
      jobId: { ...uuid, 'x-message': 'must be a job id (uuid)' },
      cursor,
      limit,
    },
  },
  TaskClaimRequest: {
    type: 'object',
    description: 'Who claims the task (default: the API key id).',
    additionalProperties: false,
    properties: { by: claimant },
  },
  TaskRelease: {
    type: 'object',
    required: ['claimToken'],
    additionalProperties: false,
    properties: { claimToken: claimToken('The token of the claim given back.') },
  },
  TaskResolve: {
    type: 'object',
    description:
      'What the person did. submitted: sent by hand (it counts as a submission everywhere and its listing is ' +
      'followed); failed: the directory refused it (a retry sends it again); skipped: not to be sent.',
    required: ['outcome'],
    additionalProperties: false,
    properties: {
      outcome: { type: 'string', enum: TASK_OUTCOMES },
      claimToken: claimToken(
        'The token of your claim; required when the task is claimed (by you), refused when it was claimed again since.',
      ),
      by: claimant,
      listingUrl: { ...HTTP_URL_SCHEMA, description: 'Where the directory shows the listing, if known.' },
      note: { type: 'string', maxLength: TASKS.noteMaxLength, pattern: NUL_FREE },
    },
  },
  Liveness: {
    type: 'object',
    additionalProperties: false,
    required: ['status'],
    properties: { status: { type: 'string', enum: ['ok', 'unavailable'] } },
  },
  HealthReport: {
    type: 'object',
    description:
      'unhealthy (503): the database is down. degraded (200): SQS unreadable, a DLQ holds messages, a job is ' +
      'stale, a job is queued with no message on its queue, or a tier backlog exceeds the policy threshold. ' +
      'healthy (200) otherwise. `reasons` says which.',
    additionalProperties: false,
    required: [
      'status',
      'reasons',
      'checkedAt',
      'database',
      'queues',
      'workers',
      'staleJobs',
      'jobs',
      'browser',
    ],
    properties: {
      status: { type: 'string', enum: ['healthy', 'degraded', 'unhealthy'] },
      reasons: { type: 'array', items: { type: 'string' } },
      checkedAt: timestamp,
      database: {
        type: 'object',
        additionalProperties: false,
        required: ['status', 'latencyMs'],
        properties: {
          status: { type: 'string', enum: ['up', 'down'] },
          latencyMs: { type: ['integer', 'null'], minimum: 0 },
        },
      },
      queues: {
        type: 'object',
        additionalProperties: false,
        required: ['status', 'tiers'],
        properties: {
          status: { type: 'string', enum: ['up', 'unavailable'] },
          tiers: {
            type: 'array',
            items: {
              type: 'object',
              additionalProperties: false,
              required: ['tier', 'depth', 'inFlight', 'dlqDepth'],
              properties: {
                tier: tierName,
                depth: { type: 'integer', minimum: 0, description: 'ApproximateNumberOfMessages' },
                inFlight: {
                  type: 'integer',
                  minimum: 0,
                  description: 'ApproximateNumberOfMessagesNotVisible',
                },
                dlqDepth: { type: 'integer', minimum: 0 },
              },
            },
          },
        },
      },
      workers: {
        type: ['object', 'null'],
        additionalProperties: false,
        required: ['active', 'stale', 'jobsInFlight'],
        properties: {
          active: { type: 'integer', minimum: 0 },
          stale: { type: 'integer', minimum: 0 },
          jobsInFlight: { type: 'integer', minimum: 0 },
        },
      },
      staleJobs: {
        type: ['object', 'null'],
        additionalProperties: false,
        required: ['count', 'oldest'],
        properties: {
          count: { type: 'integer', minimum: 0 },
          oldest: { type: 'array', items: { type: 'object' } },
        },
      },
      jobs: {
        type: ['object', 'null'],
        additionalProperties: false,
        required: ['pending', 'queued', 'inProgress', 'completedToday', 'failedToday'],
        properties: {
          pending: { type: 'integer', minimum: 0 },
          queued: { type: 'integer', minimum: 0 },
          inProgress: { type: 'integer', minimum: 0 },
          completedToday: { type: 'integer', minimum: 0 },
          failedToday: { type: 'integer', minimum: 0 },
        },
      },
      browser: {
        type: ['object', 'null'],
        additionalProperties: false,
        required: ['running', 'openContexts', 'launches', 'recycles'],
        properties: {
          running: { type: 'integer', minimum: 0, description: 'Active workers with a live browser.' },
          openContexts: { type: 'integer', minimum: 0 },
          launches: { type: 'integer', minimum: 0 },
          recycles: { type: 'integer', minimum: 0 },
        },
      },
      queuedWithoutMessage: {
        type: ['object', 'null'],
        description:
          'Jobs queued and unchanged for RECOVERY.queuedLostAfterSeconds in a tier whose queue holds fewer ' +
          'messages than its queued and running jobs: their message is gone, and stale-jobs re-sends them.',
        additionalProperties: false,
        required: ['count', 'tiers'],
        properties: {
          count: { type: 'integer', minimum: 0 },
          tiers: {
            type: 'array',
            items: {
              type: 'object',
              additionalProperties: false,
              required: ['tier', 'count'],
              properties: { tier: tierName, count: { type: 'integer', minimum: 1 } },
            },
          },
        },
      },
    },
  },
  DlqInspection: {
    type: 'object',
    additionalProperties: false,
    required: ['tiers'],
    properties: {
      tiers: {
        type: 'array',
        items: {
          type: 'object',
          additionalProperties: false,
          required: ['tier', 'depth', 'messages'],
          properties: {
            tier: tierName,
            depth: { type: 'integer', minimum: 0 },
            messages: { type: 'array', items: dlqMessage },
          },
        },
      },
    },
  },
  DlqRedrive: {
    type: 'object',
    description: 'Moves dead-lettered jobs of the chosen error classes back to their tier queues.',
    required: ['errorClasses'],
    additionalProperties: false,
    properties: {
      errorClasses: {
        oneOf: [
          { type: 'string', const: 'all' },
          { type: 'array', minItems: 1, uniqueItems: true, items: { type: 'string', enum: ERROR_CLASSES } },
        ],
        'x-message': `must be "all" or a list of error classes (${ERROR_CLASSES.join(', ')})`,
      },
      tiers: { type: 'array', minItems: 1, uniqueItems: true, items: tierName },
      limit: { type: 'integer', minimum: 1, maximum: 1000 },
    },
  },
  RedriveReport: {
    type: 'object',
    additionalProperties: false,
    required: ['moved', 'skipped', 'byClass', 'byTier'],
    properties: {
      moved: { type: 'integer', minimum: 0 },
      skipped: { type: 'integer', minimum: 0 },
      byClass: { type: 'object', additionalProperties: { type: 'integer' } },
      byTier: { type: 'object', additionalProperties: { type: 'integer' } },
    },
  },
  // Query strings (every value arrives as a string; the validator coerces numbers and booleans).
  JobQuery: {
    type: 'object',
    additionalProperties: false,
    properties: {
      customerId: { ...uuid, 'x-message': 'must be a customer id (uuid)' },
      status: { type: 'string', enum: JOB_STATUSES },
      cursor,
      limit,
    },
  },
  CategoryQuery: {
    type: 'object',
    additionalProperties: false,
    properties: {
      q: {
        type: 'string',
        minLength: 1,
        maxLength: PROFILE_LIMITS.category,
        pattern: NUL_FREE,
        description: 'A category name in any of its languages; answers the nearest categories.',
      },
    },
  },
  CategoryList: {
    type: 'object',
    additionalProperties: false,
    required: ['items'],
    properties: {
      items: {
        type: 'array',
        items: {
          type: 'object',
          additionalProperties: false,
          required: ['id', 'label', 'group', 'synonyms', 'score'],
          properties: {
            id: { type: 'string', description: 'What the API stores and directory maps key on.' },
            label: { type: 'string' },
            group: { type: 'string' },
            synonyms: { type: 'array', items: { type: 'string' } },
            score: {
              type: ['number', 'null'],
              minimum: 0,
              maximum: 1,
              description: 'How near `q` it is (1: `q` names it); null without `q`.',
            },
          },
        },
      },
    },
  },
  DirectoryQuery: {
    type: 'object',
    additionalProperties: false,
    properties: {
      category: { type: 'string', minLength: 1, maxLength: 120, pattern: NUL_FREE },
      tier: { type: 'integer', minimum: 1, maximum: 4 },
      active: { type: 'boolean' },
      cursor,
      limit,
    },
  },
  SubmissionQuery: {
    type: 'object',
    description:
      'Exactly one of `jobId` (the rows of one job) and `customerId` (the rows of every job of one customer); ' +
      'optionally `status`, `lifecycle`, `cursor` and `limit`. Neither or both is a 400.',
    additionalProperties: false,
    properties: {
      jobId: uuid,
      customerId: uuid,
      status: { type: 'string', enum: SUBMISSION_STATUSES },
      lifecycle: {
        type: 'string',
        enum: LISTING_STATES,
        description: 'Only rows whose listing is in this state (live: the listings found).',
      },
      cursor,
      limit,
    },
    oneOf: [{ required: ['jobId'] }, { required: ['customerId'] }],
    'x-errors': { oneOf: { property: 'jobId', message: 'give jobId or customerId (one of them)' } },
  },
  KeyCreate: {
    type: 'object',
    description: 'A client API key to create.',
    required: ['name'],
    additionalProperties: false,
    properties: {
      name: {
        type: 'string',
        pattern: CLIENT_KEYS.namePattern,
        'x-message':
          'must be 1 to 64 letters, digits, dots, dashes or underscores, starting with a letter or digit',
        description: 'Who the key is for (unique among client keys).',
      },
      plan: {
        type: 'string',
        enum: CLIENT_KEYS.plans,
        default: CLIENT_KEYS.defaultPlan,
        description: 'The usage plan (rate, burst and daily quota) the key joins.',
      },
    },
  },
  Key: {
    type: 'object',
    required: ['id', 'name', 'plan'],
    additionalProperties: false,
    properties: {
      id: { type: 'string', description: 'What x-api-key requests are known by (logs, owner of resources).' },
      name: { type: 'string' },
      plan: { type: 'string', enum: CLIENT_KEYS.plans },
    },
  },
  KeyCreated: {
    type: 'object',
    description: 'The new key with its value: send it as x-api-key. It is shown only here.',
    required: ['id', 'name', 'plan', 'value'],
    additionalProperties: false,
    properties: {
      id: { type: 'string' },
      name: { type: 'string' },
      plan: { type: 'string', enum: CLIENT_KEYS.plans },
      value: { type: 'string', minLength: 20 },
    },
  },
  KeyList: {
    type: 'object',
    required: ['items'],
    additionalProperties: false,
    properties: { items: { type: 'array', items: ref('Key') } },
  },
  ReportQuery: {
    type: 'object',
    additionalProperties: false,
    properties: {
      format: {
        type: 'string',
        enum: REPORT_FORMATS,
        default: 'html',
        description: 'html (default, print-friendly) or csv.',
      },
    },
  },
  KeyBrandInput: {
    type: 'object',
    description: "The name and logo a client key's customers see on their reports (white label).",
    required: ['displayName'],
    additionalProperties: false,
    properties: {
      displayName: nonBlank(200),
      logoUrl: {
        anyOf: [{ ...HTTP_URL_SCHEMA }, { type: 'null' }],
        description: 'An http(s) image URL shown at the top of the report; null for none.',
      },
    },
  },
  KeyBrand: {
    type: 'object',
    required: ['keyId', 'displayName', 'logoUrl'],
    additionalProperties: false,
    properties: {
      keyId: { type: 'string' },
      displayName: { type: 'string' },
      logoUrl: { type: ['string', 'null'] },
    },
  },
  DlqQuery: {
    type: 'object',
    additionalProperties: false,
    properties: { maxPerTier: { type: 'integer', minimum: 0, maximum: 100, default: 10 } },
  },
  WebhookCreate: {
    type: 'object',
    description: 'An endpoint to POST events to.',
    required: ['url', 'events'],
    additionalProperties: false,
    properties: {
      url: {
        type: 'string',
        minLength: 8,
        maxLength: WEBHOOKS.maxUrlLength,
        pattern: WEBHOOK_URL_PATTERN,
        'x-message': 'must be an http(s) URL with an ASCII host name or address, no user, no fragment',
        description:
          'Where to POST (https in a deployed stage; the local runtime allows http on loopback). The host is an ' +
          'ASCII name (international names are not accepted), an IPv4 address or a bracketed IPv6 one; no user or ' +
          'password, no fragment.',
      },
      events: {
        type: 'array',
        minItems: 1,
        uniqueItems: true,
        items: { type: 'string', enum: SUBSCRIBABLE_EVENT_TYPES },
        description: 'The event types to receive (docs/api.md, "Webhooks").',
      },
      description: { ...optionalText(500), description: 'What it is for (shown in listings).' },
      scope: {
        type: 'string',
        enum: ['own', 'all'],
        default: 'own',
        description: webhookProperties.scope.description,
      },
    },
  },
  Webhook: {
    type: 'object',
    additionalProperties: false,
    required: Object.keys(webhookProperties),
    properties: webhookProperties,
  },
  WebhookCreated: {
    type: 'object',
    description: 'The endpoint and its signing secret: keep the secret, it is shown only here.',
    additionalProperties: false,
    required: [...Object.keys(webhookProperties), 'secret'],
    properties: {
      ...webhookProperties,
      secret: {
        type: 'string',
        pattern: '^whsec_[A-Za-z0-9+/]+=*$',
        description:
          'whsec_ and the base64 of the key: verify webhook-signature with it (Standard Webhooks).',
      },
    },
  },
  WebhookPage: page('Webhook', 'Endpoints, newest first.'),
  WebhookQuery: { type: 'object', additionalProperties: false, properties: { cursor, limit } },
  WebhookAttempt: {
    type: 'object',
    additionalProperties: false,
    required: ['number', 'startedAt', 'durationMs', 'statusCode', 'error', 'response'],
    properties: {
      number: { type: 'integer', minimum: 1 },
      startedAt: timestamp,
      durationMs: { type: 'integer', minimum: 0 },
      statusCode: { type: ['integer', 'null'], description: 'The receiver’s status; null when none came.' },
      error: { type: ['string', 'null'], description: 'Why it failed (a timeout, a refused address, ...).' },
      response: { type: ['string', 'null'], description: 'The start of the receiver’s answer.' },
    },
  },
  WebhookDelivery: {
    type: 'object',
    additionalProperties: false,
    required: [
      'id',
      'endpointId',
      'eventId',
      'eventType',
      'jobId',
      'status',
      'attempts',
      'nextAttemptAt',
      'deliveredAt',
      'replayOf',
      'createdAt',
      'attemptLog',
    ],
    properties: {
      id: uuid,
      endpointId: uuid,
      eventId: {
        type: 'string',
        description: 'The webhook-id header: the same on every attempt and replay.',
      },
      eventType: { type: 'string', enum: [...SUBSCRIBABLE_EVENT_TYPES, TEST_EVENT_TYPE] },
      jobId: { type: ['string', 'null'], format: 'uuid' },
      status: webhookDeliveryStatus,
      attempts: { type: 'integer', minimum: 0 },
      nextAttemptAt: nullableTimestamp,
      deliveredAt: nullableTimestamp,
      replayOf: { type: ['string', 'null'], format: 'uuid', description: 'The delivery this one replays.' },
      createdAt: timestamp,
      attemptLog: {
        type: 'array',
        items: ref('WebhookAttempt'),
        description: `Its attempts, oldest first (the latest ${WEBHOOKS.attemptsShown}).`,
      },
    },
  },
  WebhookDeliveryPage: page('WebhookDelivery', 'Deliveries, newest first.'),
  WebhookDeliveryQuery: {
    type: 'object',
    additionalProperties: false,
    properties: { status: webhookDeliveryStatus, cursor, limit },
  },
  WebhookEvent: {
    type: 'object',
    description:
      'The body of every webhook: `data` is the resource as the API returns it at the moment of the event ' +
      '(a Job for job.*, a Submission for submission.settled and listing.*), without `proofs`, whose presigned ' +
      'links would expire before a retry or replay. Events of one job carry its id ' +
      'and an increasing `sequence`. Headers: webhook-id (= id), webhook-timestamp, webhook-signature.',
    additionalProperties: false,
    required: ['id', 'type', 'timestamp', 'data'],
    properties: {
      id: { type: 'string', pattern: '^evt_[0-9a-f]{32}$' },
      type: { type: 'string', enum: [...SUBSCRIBABLE_EVENT_TYPES, TEST_EVENT_TYPE] },
      timestamp: { ...timestamp, description: 'When the change happened (its transaction).' },
      jobId: uuid,
      sequence: { type: 'integer', minimum: 1, description: 'Increasing per job, in commit order.' },
      data: { oneOf: [ref('JobEventData'), ref('SubmissionEventData'), ref('WebhookTestData')] },
    },
  },
  WebhookTestData: {
    type: 'object',
    additionalProperties: false,
    required: ['endpointId', 'message'],
    properties: { endpointId: uuid, message: { type: 'string' } },
  },
} as const;

export type SchemaName = keyof typeof SCHEMAS;
