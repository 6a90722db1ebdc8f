/**
 * The jobs API: create a job (ledger rows + one FIFO message), read and list jobs, cancel and retry them,
 * and show a customer's place in the queue.
 *
 * POST /v1/jobs honours an Idempotency-Key header (per API key, API_IDEMPOTENCY.keyTtlSeconds): the key is
 * claimed in the very statement that creates the job (job_request_keys), so two requests with one key can
 * never both create a job, and a job never exists without its key. A repeat with the same body gets the
 * first answer (status and body, `Idempotent-Replayed: true`); with another body, 409. Postgres rather than
 * the worker's Powertools/DynamoDB idempotency: the job is a Postgres row, and only a row written in the same
 * statement makes "key claimed" and "job created" one atomic fact (two stores could disagree after a crash).
 */

import { createHash } from 'node:crypto';
import { API_IDEMPOTENCY, PACKAGES, type PackageName, type Priority, tierFor } from '#policy';
import type { BrandStore } from '#shared/brand-store';
import { canonicalJson } from '#shared/canonical-json';
import { type CustomerStore, isUuid } from '#shared/customer-store';
import type { DirectoryStore } from '#shared/directory-store';
import { type JobQueue, sendStoredJob } from '#shared/job-queue';
import type { CreatedJob, Job, JobStatus, JobStore, NewJob, StoredRequest } from '#shared/job-store';
import type { Submission, SubmissionLedger } from '#shared/submission-ledger';
import { describeError, MetricUnit } from '#shared/telemetry';
import { CURSOR_PARTS, decodeCursor, encodeCursor } from './cursor.ts';
import {
  type ApiEvent,
  type ApiResult,
  badRequest,
  type Caller,
  canSee,
  conflict,
  forbidden,
  HttpError,
  header,
  json,
  notFound,
} from './http.ts';
import { estimateWaitSeconds, type JobQueries } from './job-queries.ts';
import type { ProofLinks, ProofView } from './proofs.ts';
import {
  type ReportFormat,
  renderReportCsv,
  renderReportHtml,
  reportResponse,
  reportRows,
  reportSummary,
} from './report.ts';
import { type ApiBaseDeps, type ApiHandler, makeApiHandler, type RouteRequest } from './router.ts';
import { listingView } from './submission-queries.ts';

export interface JobsApiDeps extends ApiBaseDeps {
  jobs: JobStore;
  queries: JobQueries;
  ledger: Pick<SubmissionLedger, 'forJob'>;
  customers: Pick<CustomerStore, 'get'>;
  directories: Pick<DirectoryStore, 'getMany' | 'selectForPackage'>;
  queue: JobQueue;
  /** Each result's proof with presigned screenshot links (shown to whoever may see the job). */
  proofs: ProofLinks;
  /** The white label of the job owner's key, for its report. */
  brands: Pick<BrandStore, 'get'>;
}

interface CreateJobBody {
  customerId: string;
  directoryIds?: string[];
  package?: PackageName;
  priority?: Priority;
  /** Directories to send again deliberately (the listing was removed, rejected, or the profile changed). */
  resubmit?: { directoryIds: string[]; reason: string };
}

/** The request header naming a POST /v1/jobs request, so a repeat of it creates nothing new. */
export const IDEMPOTENCY_HEADER = 'Idempotency-Key';
const KEY_PATTERN = new RegExp(`^[\\x21-\\x7e]{1,${API_IDEMPOTENCY.maxKeyLength}}$`);

/** The Idempotency-Key of a request, if it sent one (400 when it is not a usable key). */
function idempotencyKey(event: ApiEvent): string | undefined {
  const value = header(event, IDEMPOTENCY_HEADER);
  if (value === undefined) return undefined;
  if (!KEY_PATTERN.test(value)) {
    throw badRequest('invalid Idempotency-Key', [
      {
        field: IDEMPOTENCY_HEADER,
        message: `must be 1 to ${API_IDEMPOTENCY.maxKeyLength} printable ASCII characters without spaces`,
      },
    ]);
  }
  return value;
}

/** What identifies a request body under an Idempotency-Key. */
export const requestFingerprint = (body: unknown) =>
  createHash('sha256').update(canonicalJson(body)).digest('hex');

/** The 202 answer to POST /v1/jobs. */
function acceptedBody(job: Job, directories: CreatedJob['directories'], status: 'queued' | 'pending') {
  const skipped = directories.filter((d) => d.heldBy);
  const resubmitting = directories.filter((d) => d.resubmits && !d.heldBy);
  return {
    id: job.id,
    status,
    priority: job.priority,
    tier: tierFor(job.priority).name,
    directories: directories.length,
    ...(skipped.length > 0
      ? {
          skipped: skipped.map((d) => ({
            directoryId: d.directoryId,
            reason: 'already held for this customer by another job: not sent again',
            heldBy: { jobId: d.heldBy?.jobId, directoryId: d.directoryId, status: d.heldBy?.status },
          })),
        }
      : {}),
    ...(resubmitting.length > 0
      ? {
          resubmitting: resubmitting.map((d) => ({
            directoryId: d.directoryId,
            supersedes: {
              jobId: d.resubmits?.jobId,
              directoryId: d.directoryId,
              status: d.resubmits?.status,
            },
          })),
        }
      : {}),
  };
}

interface JobListQuery {
  customerId?: string;
  status?: JobStatus;
  cursor?: string;
  limit: number;
}

export function jobView(job: Job) {
  return {
    id: job.id,
    customerId: job.customerId,
    status: job.status,
    priority: job.priority,
    tier: tierFor(job.priority).name,
    requestedPriority: job.requestedPriority,
    package: job.package,
    attempts: job.attempts,
    progress: job.progress,
    error: job.error,
    errorClass: job.errorClass,
    createdAt: job.createdAt,
    queuedAt: job.queuedAt,
    startedAt: job.startedAt,
    finishedAt: job.finishedAt,
    heartbeatAt: job.heartbeatAt,
  };
}

export function jobWithResults(
  job: Job,
  submissions: readonly Submission[],
  /** Each row's proofs (presigned links); without it, results carry no `proofs` (webhook events: links expire). */
  proofs?: ReadonlyMap<number, ProofView[]>,
) {
  return {
    ...jobView(job),
    results: submissions.map((s) => ({
      directoryId: s.directoryId,
      status: s.status,
      attempt: s.attempt,
      errorClass: s.errorClass,
      error: s.error,
      finishedAt: s.finishedAt,
      ...listingView(s),
      ...(proofs ? { proofs: proofs.get(s.id) ?? [] } : {}),
    })),
  };
}

export function makeJobsApi(deps: JobsApiDeps): ApiHandler {
  const { logger, metrics } = deps;

  /** The job with its ledger and each row's proofs (the caller has been allowed to see the job). */
  async function withResults(job: Job) {
    const rows = await deps.ledger.forJob(job.id);
    return jobWithResults(job, rows, await deps.proofs.forSubmissions(rows.map((r) => r.id)));
  }

  /** The job if it exists and the caller may see it; 404 otherwise (never 403: that would confirm it exists). */
  async function visibleJob(caller: Caller, id: string | undefined): Promise<Job> {
    const job = id && isUuid(id) ? await deps.jobs.get(id) : undefined;
    if (!job || !canSee(caller, job.ownerKeyId)) throw notFound('job');
    return job;
  }

  /** Sends the job's current message; on failure the job stays 'pending' and recovery re-sends it. */
  async function enqueue(job: Job): Promise<'queued' | 'pending'> {
    const sent = await sendStoredJob(deps.queue, deps.jobs, {
      jobId: job.id,
      enqueueToken: job.enqueueToken,
      priority: job.priority,
    });
    if (sent.status === 'pending') {
      // The job and its ledger are stored; recovery enqueues jobs left 'pending'. Nothing is lost.
      logger.error('enqueue failed; job left pending for recovery', {
        jobId: job.id,
        error: describeError(sent.error),
      });
      metrics.addMetric('EnqueueFailures', MetricUnit.Count, 1);
    }
    return sent.status;
  }

  /**
   * The first answer to a request with this Idempotency-Key, or 409 when the key came with another body.
   * The answer is stored once the first request has answered; until then (or if storing it failed) it is
   * rebuilt from the job and its ledger.
   */
  async function replay(stored: StoredRequest, fingerprint: string): Promise<ApiResult> {
    if (stored.fingerprint !== fingerprint) {
      throw conflict(
        `this Idempotency-Key was used within ${API_IDEMPOTENCY.keyTtlSeconds / 3600} h for another request ` +
          `(job ${stored.jobId}); use a new key for a new request`,
      );
    }
    metrics.addMetric('IdempotentReplays', MetricUnit.Count, 1);
    const replayed = { 'idempotent-replayed': 'true' };
    if (Object.keys(stored.response).length > 0) return json(stored.statusCode, stored.response, replayed);
    const job = (await deps.jobs.get(stored.jobId)) as Job;
    const rows = await deps.ledger.forJob(job.id);
    const directories = rows.map((r) => ({
      directoryId: r.directoryId,
      status: r.status === 'skipped' ? ('skipped' as const) : ('prepared' as const),
      ...(r.evidence.heldBy ? { heldBy: r.evidence.heldBy as never } : {}),
    }));
    return json(
      202,
      acceptedBody(job, directories, job.status === 'pending' ? 'pending' : 'queued'),
      replayed,
    );
  }

  /**
   * A deliberate resubmission names directories of this job; a client key may resubmit only what was
   * 'submitted' (a listing removed or rejected, a profile changed). Forcing one whose earlier row may or may
   * not have been sent ('unknown', or still in doubt) is an admin's decision.
   */
  async function checkResubmission(
    caller: Caller,
    customerId: string,
    directoryIds: readonly string[],
    resubmit: { directoryIds: string[] },
  ): Promise<void> {
    // A 409 like the catalogue's own refusals: with a package, which directories the job includes is the
    // catalogue's answer at this moment, not something the request alone decides.
    const outside = resubmit.directoryIds.filter((id) => !directoryIds.includes(id));
    if (outside.length > 0) {
      throw conflict('resubmit names directories this job does not include', [
        { field: 'resubmit.directoryIds', message: `not in this job: ${outside.join(', ')}` },
      ]);
    }
    if (caller.role === 'admin') return;
    const holders = await deps.queries.holders(customerId, resubmit.directoryIds);
    const doubtful = [...holders].filter(([, h]) => h.status !== 'submitted').map(([id]) => id);
    if (doubtful.length > 0) {
      throw forbidden(
        `only an admin key may force a resubmission of a directory that may or may not have been sent: ${doubtful.join(', ')}`,
      );
    }
  }

  return makeApiHandler(
    'jobs',
    {
      'POST /v1/jobs': async ({ caller, body, event }: RouteRequest<CreateJobBody>) => {
        const key = idempotencyKey(event);
        const fingerprint = key ? requestFingerprint(body) : '';
        if (key) {
          const stored = await deps.jobs.findRequest(caller.keyId, key, API_IDEMPOTENCY.keyTtlSeconds);
          if (stored) return replay(stored, fingerprint);
        }
        // The customer and the directories are read at once (two round trips in parallel, not in a row).
        const pkg = body.package ? PACKAGES[body.package as PackageName] : undefined;
        const [customer, found] = await Promise.all([
          deps.customers.get(body.customerId),
          body.directoryIds
            ? deps.directories.getMany(body.directoryIds)
            : deps.directories.selectForPackage(pkg?.maxDirectoryTier ?? 0, pkg?.size ?? 0),
        ]);
        if (!customer || !canSee(caller, customer.ownerKeyId)) throw notFound('customer');

        let directoryIds: string[];
        if (body.directoryIds) {
          const usable = new Set(found.filter((d) => d.active).map((d) => d.id));
          const bad = body.directoryIds.filter((id) => !usable.has(id));
          if (bad.length > 0) {
            throw conflict('unknown or inactive directories', [
              { field: 'directoryIds', message: `unknown or inactive: ${bad.join(', ')}` },
            ]);
          }
          directoryIds = body.directoryIds;
        } else {
          directoryIds = found.map((d) => d.id);
          if (directoryIds.length === 0) {
            throw conflict('no active directories in that package', [
              { field: 'package', message: 'selects no active directory' },
            ]);
          }
        }
        if (body.resubmit) await checkResubmission(caller, customer.id, directoryIds, body.resubmit);
        const priority: Priority =
          body.priority ?? (body.package ? PACKAGES[body.package].defaultPriority : 2);
        const input: NewJob = {
          customerId: customer.id,
          ownerKeyId: customer.ownerKeyId,
          priority,
          requestedPriority: priority,
          package: body.package ?? null,
          directoryIds,
          ...(body.resubmit ? { resubmit: { ...body.resubmit, byKeyId: caller.keyId } } : {}),
        };
        let job: CreatedJob;
        if (key) {
          const created = await deps.jobs.createOnce(input, {
            keyId: caller.keyId,
            key,
            fingerprint,
            ttlSeconds: API_IDEMPOTENCY.keyTtlSeconds,
          });
          if (!created) {
            // A request with the same key created its job in the meantime: answer as it does.
            const stored = await deps.jobs.findRequest(caller.keyId, key, API_IDEMPOTENCY.keyTtlSeconds);
            if (!stored) throw conflict('Idempotency-Key is in use by a request being answered; try again');
            return replay(stored, fingerprint);
          }
          job = created;
        } else {
          job = await deps.jobs.create(input);
        }
        const status = await enqueue(job);
        const answer = acceptedBody(job, job.directories, status);
        if (key) {
          await deps.jobs.saveResponse(caller.keyId, key, 202, answer).catch((err: unknown) =>
            // The key still holds the job: a repeat is answered from the job itself (see replay).
            logger.warn('could not store the answer under its Idempotency-Key', {
              jobId: job.id,
              error: describeError(err).message,
            }),
          );
        }
        metrics.addMetric('JobsCreated', MetricUnit.Count, 1);
        logger.info('job created', {
          jobId: job.id,
          priority,
          directories: directoryIds.length,
          skipped: answer.skipped?.length ?? 0,
        });
        return json(202, answer);
      },

      'GET /v1/jobs': async ({ caller, query }: RouteRequest<undefined, JobListQuery>) => {
        const after = decodeCursor(query.cursor, [CURSOR_PARTS.timestamp, CURSOR_PARTS.uuid]);
        const page = await deps.queries.list({
          ...(caller.role === 'admin' ? {} : { ownerKeyId: caller.keyId }),
          ...(query.customerId ? { customerId: query.customerId } : {}),
          ...(query.status ? { status: query.status } : {}),
          limit: query.limit,
          ...(after ? { after } : {}),
        });
        return json(200, {
          items: page.jobs.map(jobView),
          nextCursor: page.next ? encodeCursor(page.next) : null,
        });
      },

      'GET /v1/jobs/{id}': async ({ caller, params }: RouteRequest) => {
        const job = await visibleJob(caller, params.id);
        return json(200, await withResults(job));
      },

      'GET /v1/jobs/{id}/report': async ({
        caller,
        params,
        query,
      }: RouteRequest<undefined, { format: ReportFormat }>) => {
        const job = await visibleJob(caller, params.id);
        const rows = await deps.ledger.forJob(job.id);
        const [proofs, directories, brand] = await Promise.all([
          deps.proofs.forSubmissions(rows.map((r) => r.id)),
          deps.directories.getMany([...new Set(rows.map((r) => r.directoryId))]),
          // The owner's brand, whoever asks: an admin sees the report its customer sees.
          deps.brands.get(job.ownerKeyId),
        ]);
        const report = reportRows(rows, new Map(directories.map((d) => [d.id, d.name])), proofs);
        const body =
          query.format === 'csv'
            ? renderReportCsv(report)
            : renderReportHtml(brand, job, reportSummary(rows), report);
        return reportResponse(query.format, job.id, body);
      },

      'POST /v1/jobs/{id}/cancel': async ({ caller, params }: RouteRequest) => {
        const job = await visibleJob(caller, params.id);
        const outcome = await deps.queries.cancel(job.id, caller.keyId);
        if (outcome.kind === 'missing') throw notFound('job');
        if (outcome.kind === 'ended')
          throw conflict(
            `job is already ${outcome.status}; only a pending, queued or running job can be cancelled`,
          );
        metrics.addMetric('JobsCancelled', MetricUnit.Count, 1);
        logger.info('job cancelled', { jobId: job.id });
        return json(200, await withResults(outcome.job));
      },

      'POST /v1/jobs/{id}/retry': async ({ caller, params }: RouteRequest) => {
        const job = await visibleJob(caller, params.id);
        const outcome = await deps.queries.retry(job.id, caller.keyId);
        if (outcome.kind === 'missing') throw notFound('job');
        if (outcome.kind === 'running')
          throw conflict(`job is ${outcome.status}; only a finished job can be retried`);
        if (outcome.kind === 'nothing') {
          throw new HttpError(
            409,
            'conflict',
            'nothing to retry: no directory of this job can be sent or looked up again',
            outcome.plan.map((d) => ({
              field: `directories.${d.directoryId}`,
              message: `${d.from}: ${d.reason}`,
            })),
          );
        }
        const status = await enqueue(outcome.job);
        metrics.addMetric('JobsRetried', MetricUnit.Count, 1);
        logger.info('job retried', { jobId: job.id, directories: outcome.directoryIds.length });
        return json(202, {
          id: job.id,
          status,
          priority: outcome.job.priority,
          tier: tierFor(outcome.job.priority).name,
          retried: outcome.directoryIds,
          plan: outcome.plan,
        });
      },

      'GET /v1/customers/{id}/queue': async ({ caller, params }: RouteRequest) => {
        const id = params.id ?? '';
        const customer = await deps.customers.get(id);
        if (!customer || !canSee(caller, customer.ownerKeyId)) throw notFound('customer');
        const [entries, throughput] = await Promise.all([
          deps.queries.queue(customer.id),
          deps.queries.throughput(),
        ]);
        return json(200, {
          customerId: customer.id,
          jobs: entries.map((e) => ({
            jobId: e.jobId,
            status: e.status,
            priority: e.priority,
            tier: tierFor(e.priority).name,
            position: e.position,
            estimatedWaitSeconds: estimateWaitSeconds(e.position, throughput.get(e.priority)),
          })),
        });
      },
    },
    deps,
  );
}
