/**
 * The contract of every route: what it does, which schema its query string and body must satisfy, and what
 * it answers with each status. The router enforces the request side; openapi.ts publishes all of it; the
 * OpenAPI tests hold real responses to the response side.
 */
import { DIRECTORY_ID_PATTERN, type SchemaName } from './schemas.ts';

export interface ResponseContract {
  description: string;
  /** Body schema; absent for an empty body (204). */
  schema?: SchemaName;
  /**
   * OpenAPI links: which operations this answer leads to, each path parameter given as a runtime expression
   * (`$response.body#/id`), so clients (and Schemathesis' stateful phase) can follow them.
   */
  links?: Record<string, { operationId: string; parameters: Record<string, string> }>;
  /** A body that is not JSON (a report): the media types it may have, each a string. */
  media?: readonly ('text/html' | 'text/csv')[];
}

/** Links to operations on the resource whose id is at `expression`. */
const linksTo = (expression: string, operations: Record<string, string>): ResponseContract['links'] =>
  Object.fromEntries(
    Object.entries(operations).map(([name, operationId]) => [
      name,
      { operationId, parameters: { id: expression } },
    ]),
  );
const customerLinks = linksTo('$response.body#/id', {
  GetCustomer: 'getCustomer',
  UpdateCustomer: 'updateCustomer',
  GetCustomerQueue: 'getCustomerQueue',
});
const jobLinks = linksTo('$response.body#/id', {
  GetJob: 'getJob',
  CancelJob: 'cancelJob',
  RetryJob: 'retryJob',
});
const webhookLinks = linksTo('$response.body#/id', {
  GetWebhook: 'getWebhook',
  TestWebhook: 'testWebhook',
  ListWebhookDeliveries: 'listWebhookDeliveries',
  DeleteWebhook: 'deleteWebhook',
});
const taskLinks = linksTo('$response.body#/id', {
  ClaimTask: 'claimTask',
  ReleaseTask: 'releaseTask',
  ResolveTask: 'resolveTask',
});
const directoryLinks = linksTo('$request.path.id', {
  GetDirectory: 'getDirectory',
  DeleteDirectory: 'deleteDirectory',
});

/** A path parameter: what it holds, and its JSON Schema (published; the handler answers 404 or 400 itself). */
export interface PathParam {
  description: string;
  schema: Record<string, unknown>;
}

export interface RouteContract {
  operationId: string;
  summary: string;
  description?: string;
  tag:
    | 'health'
    | 'customers'
    | 'jobs'
    | 'directories'
    | 'submissions'
    | 'tasks'
    | 'dlq'
    | 'keys'
    | 'webhooks';
  /** Path parameters and what they hold. */
  params?: Record<string, PathParam>;
  query?: SchemaName;
  body?: SchemaName;
  /** Request headers the route reads (besides x-api-key), published as header parameters. */
  headers?: Record<string, { description: string; schema: Record<string, unknown> }>;
  responses: Record<number, ResponseContract>;
}

const err = (description: string): ResponseContract => ({ description, schema: 'Error' });

/** Answers any keyed route may give, besides its own. */
export const COMMON_RESPONSES: Record<number, ResponseContract> = {
  400: err(
    'Text the API cannot store as sent (NUL, an unpaired surrogate) in the path or query string, each named in details.',
  ),
  403: { description: 'No API key, an unknown key, or (admin routes) a client key.', schema: 'Forbidden' },
  413: err('Body larger than the JSON limit (refused before parsing).'),
  414: err('URL longer than the limit.'),
  429: { description: 'Rate limit exceeded; Retry-After says when to try again.', schema: 'Throttled' },
  500: err('Internal error; the body carries only a request id.'),
};

const UUID_ID: PathParam = {
  description: 'The resource id (uuid); any other value is a 404.',
  schema: { type: 'string', format: 'uuid' },
};
const directoryId = (description: string): PathParam => ({
  description,
  schema: { type: 'string', pattern: DIRECTORY_ID_PATTERN },
});

export const CONTRACTS: Record<string, RouteContract> = {
  'GET /health': {
    operationId: 'getLiveness',
    summary: 'Liveness: status only, never cached, no key needed',
    description: 'Answers 200 when the database answers within the health timeout, 503 otherwise.',
    tag: 'health',
    responses: {
      200: { description: 'Serving.', schema: 'Liveness' },
      503: { description: 'The database does not answer.', schema: 'Liveness' },
    },
  },
  'GET /v1/health': {
    operationId: 'getHealth',
    summary: 'Detailed health: database, queues, DLQs, workers, stale jobs, job counts, browsers',
    tag: 'health',
    responses: {
      200: { description: 'Healthy or degraded (see status and reasons).', schema: 'HealthReport' },
      503: { description: 'Unhealthy: the database is down.', schema: 'HealthReport' },
    },
  },
  'POST /v1/customers': {
    operationId: 'createCustomer',
    summary: 'Create a business profile (visible to this key and to admins)',
    tag: 'customers',
    body: 'CustomerCreate',
    responses: {
      201: { description: 'Created.', schema: 'Customer', links: customerLinks },
      400: err('Invalid JSON or an invalid field (each named in details).'),
      409: err('unknown_category: the category names none of the taxonomy’s; `suggestions` are the nearest.'),
      415: err('The body is not JSON.'),
    },
  },
  'GET /v1/customers/{id}': {
    operationId: 'getCustomer',
    summary: 'Read a business profile',
    tag: 'customers',
    params: { id: UUID_ID },
    responses: {
      200: { description: 'The profile.', schema: 'Customer' },
      404: err('No such customer visible to this key.'),
    },
  },
  'PATCH /v1/customers/{id}': {
    operationId: 'updateCustomer',
    summary: 'Change fields of a business profile',
    tag: 'customers',
    params: { id: UUID_ID },
    body: 'CustomerPatch',
    responses: {
      200: { description: 'The updated profile.', schema: 'Customer' },
      400: err('Invalid JSON or an invalid field.'),
      404: err('No such customer visible to this key.'),
      409: err('unknown_category: the category names none of the taxonomy’s; `suggestions` are the nearest.'),
      415: err('The body is not JSON.'),
    },
  },
  'POST /v1/customers/{id}/media': {
    operationId: 'createCustomerMedia',
    summary: 'Start an image upload for a customer (its logo): a presigned S3 POST for one image',
    description:
      'The image goes straight to S3 (at most MEDIA.maxBytes, of the declared type: S3 itself refuses ' +
      'anything else), never through this API. Then POST /v1/customers/{id}/media/{mediaId}/complete.',
    tag: 'customers',
    params: { id: UUID_ID },
    body: 'MediaCreate',
    responses: {
      201: { description: 'The pending upload and its form.', schema: 'MediaUpload' },
      400: err('Invalid JSON, or a type other than PNG, JPEG or WebP (each field named in details).'),
      404: err('No such customer visible to this key.'),
      415: err('The body is not JSON.'),
    },
  },
  'POST /v1/customers/{id}/media/{mediaId}/complete': {
    operationId: 'completeCustomerMedia',
    summary: 'Check an uploaded image and make it the customer’s logo',
    description:
      'The stored bytes are read back: an empty file, one over MEDIA.maxBytes, or one whose magic numbers are ' +
      'not the declared type is refused for good (422 `media_rejected`, the upload marked rejected with its ' +
      'reason; the profile keeps its previous logo). Completing a ready upload again answers it again.',
    tag: 'customers',
    params: {
      id: UUID_ID,
      mediaId: {
        description: 'The upload’s id (from POST /v1/customers/{id}/media).',
        schema: { type: 'string', format: 'uuid' },
      },
    },
    responses: {
      200: { description: 'Ready: the customer’s logo now.', schema: 'Media' },
      404: err('No such customer visible to this key, or no such upload of theirs.'),
      409: err(
        'upload_missing: nothing was uploaded yet (the upload stays pending); or it was rejected before.',
      ),
      422: err('media_rejected: the stored file is not an image this API accepts (`message` says why).'),
    },
  },
  'GET /v1/customers/{id}/queue': {
    operationId: 'getCustomerQueue',
    summary: "The customer's unfinished jobs, their place in their tier and an estimated wait",
    tag: 'jobs',
    params: { id: UUID_ID },
    responses: {
      200: { description: 'Positions and estimates.', schema: 'CustomerQueue' },
      404: err('No such customer visible to this key.'),
    },
  },
  'POST /v1/jobs': {
    operationId: 'createJob',
    summary: 'Submit a customer to directories (named, or selected by a package)',
    description:
      'Each (customer, directory) is submitted once across all jobs: a directory the customer already has a ' +
      'row for that may have been sent or was is created skipped, pointing at that row, unless it is named ' +
      'in `resubmit`. With an Idempotency-Key the same key and body answer the first job again (status and ' +
      'body, header Idempotent-Replayed: true) for 24 hours, per API key.',
    tag: 'jobs',
    body: 'JobCreate',
    headers: {
      'Idempotency-Key': {
        description:
          'Names this request (1 to 255 printable ASCII characters, per API key, kept 24 h): a repeat with the ' +
          'same body gets the first answer and creates nothing; another body with the same key is a 409.',
        schema: { type: 'string', minLength: 1, maxLength: 255, pattern: '^[\\x21-\\x7e]+$' },
      },
    },
    responses: {
      202: {
        description: 'Accepted and queued (or pending, re-sent by recovery).',
        schema: 'JobAccepted',
        links: jobLinks,
      },
      400: err('Invalid JSON, an invalid field or Idempotency-Key.'),
      404: err('No such customer visible to this key.'),
      409: err(
        'The directory catalogue does not allow it now: unknown or inactive directoryIds (named in details), ' +
          'or a package that selects no active directory; resubmit naming a directory the job does not include; ' +
          'or the Idempotency-Key was used within 24 h with another body.',
      ),
      415: err('The body is not JSON.'),
    },
  },
  'GET /v1/jobs': {
    operationId: 'listJobs',
    summary: 'List jobs, newest first, by cursor',
    tag: 'jobs',
    query: 'JobQuery',
    responses: {
      200: { description: 'A page of jobs.', schema: 'JobPage' },
      400: err('An invalid filter or cursor.'),
    },
  },
  'GET /v1/jobs/{id}': {
    operationId: 'getJob',
    summary: 'A job: status, progress and per-directory results',
    tag: 'jobs',
    params: { id: UUID_ID },
    responses: {
      200: { description: 'The job.', schema: 'Job' },
      404: err('No such job visible to this key.'),
    },
  },
  'GET /v1/jobs/{id}/report': {
    operationId: 'getJobReport',
    summary: "The customer's report of a job: print-friendly HTML, or CSV",
    description:
      'Summary counts and, per directory: its name, the ledger status, the listing lifecycle state, the listing ' +
      'URL, when it was submitted and presigned proof screenshot links. Under the white label of the key that ' +
      "owns the job (PUT /v1/keys/{id}/brand); formfleet's own name only when it has none. ?format=csv: the " +
      'same rows as CSV (RFC 4180, a header row; a value starting with = + - @ is prefixed with an apostrophe).',
    tag: 'jobs',
    params: { id: UUID_ID },
    query: 'ReportQuery',
    responses: {
      200: {
        description: 'The report (text/html, or text/csv with ?format=csv).',
        media: ['text/html', 'text/csv'],
      },
      400: err('An invalid format.'),
      404: err('No such job visible to this key.'),
    },
  },
  'POST /v1/jobs/{id}/cancel': {
    operationId: 'cancelJob',
    summary: 'Cancel a pending, queued or running job',
    description:
      'Directories not yet attempted become skipped (a retry sends them); one caught mid-submit becomes ' +
      'unknown (it may have been sent; a retry looks it up first). The worker notices at its next fenced ' +
      'write and stops.',
    tag: 'jobs',
    params: { id: UUID_ID },
    responses: {
      200: { description: 'Cancelled.', schema: 'Job' },
      404: err('No such job visible to this key.'),
      409: err('The job already ended.'),
    },
  },
  'POST /v1/jobs/{id}/retry': {
    operationId: 'retryJob',
    summary: 'Retry what a finished job left unsent or in doubt',
    description:
      'Only for a job that ended (completed, failed, cancelled, or failed by stale-job recovery or the ' +
      'dead-letter queue). Directories never attempted, failed, or skipped for a reason that has passed ' +
      '(cancelled, directory inactive, held by another row) are sent; those that may have been sent ' +
      '(unknown, submitting) become unverified and are looked up first; submitted ones are never sent ' +
      'again. `plan` says per directory what happens and why.',
    tag: 'jobs',
    params: { id: UUID_ID },
    responses: {
      202: { description: 'Requeued.', schema: 'JobRetried' },
      404: err('No such job visible to this key.'),
      409: err(
        'The job has not ended, or nothing can be sent or looked up (details: each directory and why).',
      ),
    },
  },
  'GET /v1/directories': {
    operationId: 'listDirectories',
    summary: 'List directories by id, filtered by category, tier and active (briefly cached)',
    tag: 'directories',
    query: 'DirectoryQuery',
    responses: {
      200: { description: 'A page of directories.', schema: 'DirectoryPage' },
      400: err('An invalid filter or cursor.'),
    },
  },
  'GET /v1/directories/{id}': {
    operationId: 'getDirectory',
    summary: 'A directory with its form definition',
    tag: 'directories',
    params: { id: directoryId('The directory id; any other value is a 404.') },
    responses: {
      200: { description: 'The directory.', schema: 'Directory' },
      404: err('No such directory.'),
    },
  },
  'GET /v1/directories/{id}/stats': {
    operationId: 'getDirectoryStats',
    summary: 'A directory’s scorecard over a window: outcomes, rates, durations, last drift (admin)',
    description:
      'Ledger rows of the directory that settled in the last `days` days: counts by status and error class, ' +
      'the submitted rate, the live rate of submitted listings a recheck has looked at, p50/p95 of the time ' +
      'from start to outcome, captcha and login-wall rates, and the last selector_drift failure.',
    tag: 'directories',
    params: { id: directoryId('The directory id; any other value is a 404.') },
    query: 'DirectoryStatsQuery',
    responses: {
      200: { description: 'The scorecard.', schema: 'DirectoryStats' },
      400: err('An invalid days.'),
      404: err('No such directory.'),
    },
  },
  'PUT /v1/directories/{id}': {
    operationId: 'putDirectory',
    summary: 'Create or replace a directory and its form definition (admin)',
    tag: 'directories',
    params: {
      id: directoryId('The directory id: 1 to 63 lowercase letters, digits or dashes (400 otherwise).'),
    },
    body: 'DirectoryPut',
    responses: {
      200: { description: 'Replaced (version raised).', schema: 'Directory', links: directoryLinks },
      201: { description: 'Created.', schema: 'Directory', links: directoryLinks },
      400: err('Invalid JSON, an invalid field, or an invalid form definition (the field is named).'),
      415: err('The body is not JSON.'),
    },
  },
  'DELETE /v1/directories/{id}': {
    operationId: 'deleteDirectory',
    summary: 'Deactivate a directory (admin; soft, since the ledger references it)',
    tag: 'directories',
    params: { id: directoryId('The directory id; any other value is a 404.') },
    responses: {
      204: { description: 'Deactivated (also when it already was).' },
      404: err('No such directory.'),
    },
  },
  'POST /v1/directories/{id}/unpause': {
    operationId: 'unpauseDirectory',
    summary: 'Unpause a directory its daily health check paused (admin)',
    description:
      'A directory whose daily dry run drifted, or whose last real submissions failed with selector_drift, is ' +
      'paused: jobs skip it (skipped, directory_paused). Unpausing lets jobs send it again (a retry of the ' +
      'skipped jobs sends them) and has the next health run check it again at once; if its form still drifts it ' +
      'is paused again, with a new alert. Unpausing a directory that is not paused changes nothing.',
    tag: 'directories',
    params: { id: directoryId('The directory id; any other value is a 404.') },
    responses: {
      200: { description: 'Unpaused (its health shows `paused: false`).', schema: 'DirectorySummary' },
      404: err('No such directory.'),
    },
  },
  'GET /v1/categories': {
    operationId: 'listCategories',
    summary: 'The categories a customer may have: the taxonomy, or the ones nearest a text',
    description:
      'Without `q`: every category with its group and other names. With `q`: the category that text names ' +
      '(score 1), else the nearest ones, best first (the same list a 409 unknown_category suggests).',
    tag: 'directories',
    query: 'CategoryQuery',
    responses: {
      200: { description: 'The categories.', schema: 'CategoryList' },
      400: err('An invalid query.'),
    },
  },
  'GET /v1/directories/{id}/categories': {
    operationId: 'getDirectoryCategories',
    summary: 'A directory’s category map and the options its form offered when last seen',
    tag: 'directories',
    params: { id: directoryId('The directory id; any other value is a 404.') },
    responses: {
      200: { description: 'The map and the options.', schema: 'DirectoryCategories' },
      404: err('No such directory.'),
    },
  },
  'PUT /v1/directories/{id}/categories': {
    operationId: 'putDirectoryCategories',
    summary: 'Set which of a directory’s options each category is, and its default (admin)',
    description:
      'Replaces the map and raises the directory’s version. Options need not have been seen yet; entries whose ' +
      'option the form did not offer when last seen are listed in `missing`.',
    tag: 'directories',
    params: { id: directoryId('The directory id; any other value is a 404.') },
    body: 'CategoryMapPut',
    responses: {
      200: { description: 'Saved.', schema: 'DirectoryCategories' },
      400: err('Invalid JSON or an invalid field (each named in details).'),
      404: err('No such directory.'),
      409: err(
        'unknown_category: a key names none of the taxonomy’s categories; `suggestions` are the nearest.',
      ),
      415: err('The body is not JSON.'),
    },
  },
  'POST /v1/directories/discover': {
    operationId: 'discoverDirectory',
    summary: 'Propose a form definition from a form’s URL alone, in Chromium; nothing is submitted (admin)',
    description:
      'Opens the page (iframes included), finds the form, maps its inputs to profile fields from label text, ' +
      'name, id, placeholder, aria-label, autocomplete tokens, input type and nearby text (synonyms in ' +
      'several languages), finds the control that sends it (button, submit input, link or role=button), ' +
      'follows a multi-page form through its next controls, and proposes success and failure indicators. ' +
      'Answers a draft that PUT /v1/directories/{id} accepts, a confidence per step, what stayed unmapped, ' +
      'and a screenshot per page with the matched fields marked (presigned links). The final submit is never ' +
      'clicked. 409 when no draft can be made (the site is down, refused, has no form) or the site is busy.',
    tag: 'directories',
    body: 'DiscoverRequest',
    responses: {
      200: { description: 'A draft definition (nothing submitted).', schema: 'Discovery' },
      400: err('Invalid JSON or an invalid field.'),
      409: err(
        'No draft: the page is down, not found, refused by the network guard, or has no form (code says ' +
          'which), or the site is being visited (directory_busy, with Retry-After).',
      ),
      415: err('The body is not JSON.'),
    },
  },
  'POST /v1/directories/{id}/dry-run': {
    operationId: 'dryRunDirectory',
    summary:
      'Run a directory’s form up to, never including, the submit, and say what each step found (admin)',
    description:
      'Chromium fills the form with the sample profile (or a customer’s, `customerId`), moves through inner ' +
      'pages, locates the submit control and stops there: nothing is ever submitted. Per step: ok, skipped, ' +
      'missing (drift), failed or not_reached; the selector that matched and whether it was the primary or a ' +
      'fallback; how long it took. A screenshot of the filled form is kept in the records bucket and linked ' +
      '(presigned). The visit is polite: it waits for the site like a job (409 directory_busy after ' +
      'a few seconds).',
    tag: 'directories',
    params: { id: directoryId('The directory id; any other value is a 404.') },
    body: 'DryRunRequest',
    responses: {
      200: { description: 'What the dry run found (nothing submitted).', schema: 'DryRun' },
      400: err('Invalid JSON or an invalid field.'),
      404: err('No such directory, or no such customer.'),
      409: err('The site is being visited by a job or a recheck (directory_busy); Retry-After says when.'),
      415: err('The body is not JSON.'),
    },
  },
  'GET /v1/submissions': {
    operationId: 'listSubmissions',
    summary: 'Ledger rows of a job or of a customer',
    tag: 'submissions',
    query: 'SubmissionQuery',
    responses: {
      200: { description: 'A page of submissions.', schema: 'SubmissionPage' },
      400: err('Neither or both of jobId and customerId, or an invalid filter or cursor.'),
      404: err('No such job or customer visible to this key.'),
    },
  },
  'GET /v1/tasks': {
    operationId: 'listTasks',
    summary: 'Tasks for people: ledger rows the robot must not finish (admin)',
    description:
      'A captcha (needs_manual), a login wall (skipped, login_required) or an unknown row each make a task, ' +
      'oldest first, with the directory, why, and the proofs of its clicks. status=open is the queue.',
    tag: 'tasks',
    query: 'TaskQuery',
    responses: {
      200: { description: 'A page of tasks.', schema: 'TaskPage' },
      400: err('An invalid filter or cursor.'),
    },
  },
  'GET /v1/tasks/{id}': {
    operationId: 'getTask',
    summary: 'One task, with its claim and proofs (admin)',
    tag: 'tasks',
    params: { id: UUID_ID },
    responses: {
      200: { description: 'The task.', schema: 'Task', links: taskLinks },
      404: err('No such task.'),
    },
  },
  'POST /v1/tasks/{id}/claim': {
    operationId: 'claimTask',
    summary: 'Lease a task to a person; nobody else gets it until the lease expires or is released (admin)',
    description:
      'The lease lasts TASKS.leaseSeconds (policy); claiming again (the same person) extends it and gives a new ' +
      'token. A task claimed by someone else with a live lease is a 409 naming them and the expiry.',
    tag: 'tasks',
    params: { id: UUID_ID },
    body: 'TaskClaimRequest',
    responses: {
      200: { description: 'Claimed: `claim.token` is what release and resolve name.', schema: 'Task' },
      400: err('Invalid JSON or an invalid field.'),
      404: err('No such task.'),
      409: err('Claimed by someone else, resolved, or withdrawn.'),
      415: err('The body is not JSON.'),
    },
  },
  'POST /v1/tasks/{id}/release': {
    operationId: 'releaseTask',
    summary: 'Give a claimed task back to the queue (admin)',
    tag: 'tasks',
    params: { id: UUID_ID },
    body: 'TaskRelease',
    responses: {
      200: { description: 'Released.', schema: 'Task' },
      400: err('Invalid JSON or an invalid field.'),
      404: err('No such task.'),
      409: err('Not claimed under this token (expired and taken over, released), resolved, or withdrawn.'),
      415: err('The body is not JSON.'),
    },
  },
  'POST /v1/tasks/{id}/resolve': {
    operationId: 'resolveTask',
    summary:
      'Record what the person did: the ledger row moves once, from the state the task was made for (admin)',
    description:
      'One transaction resolves the task and moves its ledger row to the outcome, only if the task is still ' +
      'open (and not claimed by someone else) and the row still in the state the task was made for: of two ' +
      'people resolving one task, one gets 200 and the other 409. The job gets a task.resolved event and its ' +
      'counts follow; a row resolved submitted enters the listing lifecycle.',
    tag: 'tasks',
    params: { id: UUID_ID },
    body: 'TaskResolve',
    responses: {
      200: { description: 'Resolved.', schema: 'Task' },
      400: err('Invalid JSON or an invalid field.'),
      404: err('No such task.'),
      409: err(
        'Already resolved or withdrawn, claimed by someone else, claimed again since your claim expired, the ' +
          'ledger row moved on, or (submitted) another row already holds this customer and directory.',
      ),
      415: err('The body is not JSON.'),
    },
  },
  'GET /v1/dlq': {
    operationId: 'inspectDlq',
    summary: "Each tier's dead-letter queue: depth and a peek at its messages (admin)",
    tag: 'dlq',
    query: 'DlqQuery',
    responses: {
      200: { description: 'Per tier depth and messages.', schema: 'DlqInspection' },
      400: err('An invalid maxPerTier.'),
      503: err('The dead-letter service is not available.'),
    },
  },
  'POST /v1/dlq/redrive': {
    operationId: 'redriveDlq',
    summary: 'Move dead-lettered jobs of chosen error classes back to their queues (admin)',
    tag: 'dlq',
    body: 'DlqRedrive',
    responses: {
      200: { description: 'What moved and what stayed.', schema: 'RedriveReport' },
      400: err('Invalid JSON or an invalid field.'),
      415: err('The body is not JSON.'),
      503: err('The dead-letter service is not available.'),
    },
  },
  'POST /v1/keys': {
    operationId: 'createKey',
    summary: 'Create a client API key in a usage plan; its value is shown this once (admin)',
    description:
      'The key can call every client route at once. What it creates (customers, jobs) is visible to it and to ' +
      "admin keys only; a new key never sees another key's resources.",
    tag: 'keys',
    body: 'KeyCreate',
    responses: {
      201: { description: 'Created: keep the value, it cannot be read again.', schema: 'KeyCreated' },
      400: err('Invalid JSON or an invalid field.'),
      409: err('A client key with this name exists.'),
      415: err('The body is not JSON.'),
    },
  },
  'GET /v1/keys': {
    operationId: 'listKeys',
    summary: 'The client API keys, by name, never their values (admin)',
    tag: 'keys',
    responses: { 200: { description: 'Every client key.', schema: 'KeyList' } },
  },
  'PUT /v1/keys/{id}/brand': {
    operationId: 'setKeyBrand',
    summary: "Set the white label a client key's customers see on their reports (admin)",
    tag: 'keys',
    params: {
      id: {
        description: 'The client key id (as GET /v1/keys lists it); an unknown id is a 404.',
        schema: { type: 'string', minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9_-]+$' },
      },
    },
    body: 'KeyBrandInput',
    responses: {
      200: { description: 'The brand now in force.', schema: 'KeyBrand' },
      400: err('Invalid JSON or an invalid field.'),
      404: err('No client key with this id.'),
      415: err('The body is not JSON.'),
    },
  },
  'DELETE /v1/keys/{id}': {
    operationId: 'revokeKey',
    summary: 'Revoke a client API key: it stops working at once (admin)',
    description:
      'Its resources stay, visible to admin keys. Admin keys cannot be revoked here (they are not client keys).',
    tag: 'keys',
    params: {
      id: {
        description: 'The key id (as GET /v1/keys lists it); an unknown id is a 404.',
        schema: { type: 'string', minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9_-]+$' },
      },
    },
    responses: {
      204: { description: 'Revoked.' },
      404: err('No client key with this id.'),
    },
  },
  'POST /v1/webhooks': {
    operationId: 'createWebhook',
    summary: 'Subscribe an endpoint to events; its signing secret is answered this once',
    description:
      'Events about this key’s resources (its jobs and their ledger rows) are POSTed to `url`, signed the ' +
      'Standard Webhooks way with the `secret` answered here (keep it: it cannot be read again). An admin key ' +
      'may ask for `scope: all`, every key’s events. In a deployed stage the URL must be https and its name ' +
      'must resolve to public addresses only (checked now and at every delivery). See the webhooks section of ' +
      'this document for each event’s body.',
    tag: 'webhooks',
    body: 'WebhookCreate',
    responses: {
      201: { description: 'Subscribed.', schema: 'WebhookCreated', links: webhookLinks },
      400: err('Invalid JSON or an invalid field (each named in details).'),
      403: {
        description: 'No API key, an unknown key, or `scope: all` asked with a client key.',
        schema: 'Forbidden',
      },
      409: err('This key has the most endpoints it may have (delete one first).'),
      415: err('The body is not JSON.'),
      422: err(
        'The URL cannot be used: not https (in a deployed stage), with a user name or a fragment, or a name ' +
          'that resolves to a loopback, private or link-local address (or does not resolve).',
      ),
    },
  },
  'GET /v1/webhooks': {
    operationId: 'listWebhooks',
    summary: 'This key’s endpoints (every key’s for an admin), newest first',
    tag: 'webhooks',
    query: 'WebhookQuery',
    responses: {
      200: { description: 'A page of endpoints.', schema: 'WebhookPage' },
      400: err('An invalid cursor or limit.'),
    },
  },
  'GET /v1/webhooks/{id}': {
    operationId: 'getWebhook',
    summary: 'An endpoint: what it receives, whether it is enabled, how it has been failing',
    tag: 'webhooks',
    params: { id: UUID_ID },
    responses: {
      200: { description: 'The endpoint (never its secret).', schema: 'Webhook' },
      404: err('No such endpoint visible to this key.'),
    },
  },
  'DELETE /v1/webhooks/{id}': {
    operationId: 'deleteWebhook',
    summary: 'Unsubscribe: the endpoint and its deliveries are deleted, nothing more is sent',
    tag: 'webhooks',
    params: { id: UUID_ID },
    responses: {
      204: { description: 'Deleted.' },
      404: err('No such endpoint visible to this key.'),
    },
  },
  'POST /v1/webhooks/{id}/test': {
    operationId: 'testWebhook',
    summary: 'Send a `webhook.test` event to this endpoint, signed and retried like any other',
    tag: 'webhooks',
    params: { id: UUID_ID },
    responses: {
      202: { description: 'Queued: follow it in the deliveries.', schema: 'WebhookDelivery' },
      404: err('No such endpoint visible to this key.'),
    },
  },
  'POST /v1/webhooks/{id}/enable': {
    operationId: 'enableWebhook',
    summary: 'Enable a disabled endpoint: the events held while it was disabled are sent',
    description:
      'An endpoint is disabled when it answers 410 Gone, or fails for the policy number of days; its events ' +
      'are held meanwhile, not dropped. Enabling an enabled endpoint changes nothing.',
    tag: 'webhooks',
    params: { id: UUID_ID },
    responses: {
      200: { description: 'Enabled.', schema: 'Webhook' },
      404: err('No such endpoint visible to this key.'),
    },
  },
  'GET /v1/webhooks/{id}/deliveries': {
    operationId: 'listWebhookDeliveries',
    summary: 'The deliveries to an endpoint, newest first, each with its attempts',
    tag: 'webhooks',
    params: { id: UUID_ID },
    query: 'WebhookDeliveryQuery',
    responses: {
      200: { description: 'A page of deliveries.', schema: 'WebhookDeliveryPage' },
      400: err('An invalid status, cursor or limit.'),
      404: err('No such endpoint visible to this key.'),
    },
  },
  'POST /v1/webhooks/{id}/deliveries/{deliveryId}/replay': {
    operationId: 'replayWebhookDelivery',
    summary:
      'Send a delivery’s event again, with the same webhook-id (a deduplicating receiver sees it once)',
    tag: 'webhooks',
    params: {
      id: UUID_ID,
      deliveryId: {
        description: 'The delivery id (uuid); any other value is a 404.',
        schema: { type: 'string', format: 'uuid' },
      },
    },
    responses: {
      202: { description: 'A new delivery of the same event, due now.', schema: 'WebhookDelivery' },
      404: err('No such endpoint or delivery visible to this key.'),
      409: err('The endpoint is disabled: enable it first.'),
    },
  },
};
