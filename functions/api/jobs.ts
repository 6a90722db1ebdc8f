/** The jobs API: create a job (ledger rows + one FIFO message) and read its status and results. */
import { PACKAGES, type PackageName, type Priority, tierFor } from '#policy';
import type { CustomerStore } from '#shared/customer-store';
import { isUuid } from '#shared/customer-store';
import type { DirectoryStore } from '#shared/directory-store';
import type { JobQueue } from '#shared/job-queue';
import type { Job, JobStore } from '#shared/job-store';
import type { Submission, SubmissionLedger } from '#shared/submission-ledger';
import { describeError, type Logger, type Metrics, MetricUnit } from '#shared/telemetry';
import {
  type ApiEvent,
  badRequest,
  type Caller,
  callerOf,
  type FieldError,
  json,
  jsonBody,
  notFound,
} from './http.ts';
import { type ApiHandler, makeApiHandler } from './router.ts';

export interface JobsApiDeps {
  jobs: JobStore;
  ledger: Pick<SubmissionLedger, 'forJob'>;
  customers: Pick<CustomerStore, 'get'>;
  directories: Pick<DirectoryStore, 'getMany' | 'selectForPackage'>;
  queue: JobQueue;
  adminKeyIds: ReadonlySet<string>;
  logger: Logger;
  metrics: Metrics;
}

/** Most directories one job may name explicitly (the enterprise package size). */
export const MAX_DIRECTORIES_PER_JOB = PACKAGES.enterprise.size;

interface CreateJobInput {
  customerId: string;
  directoryIds?: string[];
  package?: PackageName;
  priority?: Priority;
}

function parseCreateJob(body: Record<string, unknown>): CreateJobInput {
  const errors: FieldError[] = [];
  const { customerId, directoryIds, package: pkg, priority } = body;
  if (typeof customerId !== 'string' || !isUuid(customerId)) {
    errors.push({ field: 'customerId', message: 'must be a customer id (uuid)' });
  }
  if (directoryIds === undefined && pkg === undefined) {
    errors.push({ field: 'directoryIds', message: 'give directoryIds or package' });
  }
  if (directoryIds !== undefined && pkg !== undefined) {
    errors.push({ field: 'package', message: 'give directoryIds or package, not both' });
  }
  if (directoryIds !== undefined) {
    if (
      !Array.isArray(directoryIds) ||
      directoryIds.length === 0 ||
      directoryIds.length > MAX_DIRECTORIES_PER_JOB ||
      !directoryIds.every((d) => typeof d === 'string' && d.length > 0 && d.length <= 64)
    ) {
      errors.push({
        field: 'directoryIds',
        message: `must be a list of 1 to ${MAX_DIRECTORIES_PER_JOB} directory ids`,
      });
    } else if (new Set(directoryIds).size !== directoryIds.length) {
      errors.push({ field: 'directoryIds', message: 'must not repeat a directory' });
    }
  }
  if (pkg !== undefined && (typeof pkg !== 'string' || !Object.hasOwn(PACKAGES, pkg))) {
    errors.push({ field: 'package', message: `must be one of ${Object.keys(PACKAGES).join(', ')}` });
  }
  if (priority !== undefined && (typeof priority !== 'number' || ![1, 2, 3].includes(priority))) {
    errors.push({ field: 'priority', message: 'must be 1, 2 or 3' });
  }
  const known = new Set(['customerId', 'directoryIds', 'package', 'priority']);
  for (const key of Object.keys(body)) {
    if (!known.has(key)) errors.push({ field: key, message: 'is not a known field' });
  }
  if (errors.length > 0) throw badRequest('invalid job request', errors);
  return body as unknown as CreateJobInput;
}

function canSee(caller: Caller, ownerKeyId: string): boolean {
  return caller.role === 'admin' || caller.keyId === ownerKeyId;
}

export function jobView(job: Job, submissions?: readonly Submission[]) {
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
    ...(submissions
      ? {
          results: submissions.map((s) => ({
            directoryId: s.directoryId,
            status: s.status,
            attempt: s.attempt,
            errorClass: s.errorClass,
            error: s.error,
            finishedAt: s.finishedAt,
          })),
        }
      : {}),
  };
}

export function makeJobsApi(deps: JobsApiDeps): ApiHandler {
  const { logger, metrics } = deps;
  return makeApiHandler(
    'jobs',
    {
      'POST /v1/jobs': async (event: ApiEvent) => {
        const caller = callerOf(event, deps.adminKeyIds);
        const input = parseCreateJob(jsonBody(event));
        const customer = await deps.customers.get(input.customerId);
        if (!customer || !canSee(caller, customer.ownerKeyId)) throw notFound('customer');

        let directoryIds: string[];
        if (input.directoryIds) {
          const found = await deps.directories.getMany(input.directoryIds);
          const usable = new Set(found.filter((d) => d.active).map((d) => d.id));
          const bad = input.directoryIds.filter((id) => !usable.has(id));
          if (bad.length > 0) {
            throw badRequest('unknown or inactive directories', [
              { field: 'directoryIds', message: `unknown or inactive: ${bad.join(', ')}` },
            ]);
          }
          directoryIds = input.directoryIds;
        } else {
          const pkg = PACKAGES[input.package as PackageName];
          directoryIds = (await deps.directories.selectForPackage(pkg.maxDirectoryTier, pkg.size)).map(
            (d) => d.id,
          );
          if (directoryIds.length === 0) {
            throw badRequest('no active directories in that package', [
              { field: 'package', message: 'selects no active directory' },
            ]);
          }
        }
        const priority: Priority =
          input.priority ?? (input.package ? PACKAGES[input.package].defaultPriority : 2);

        const job = await deps.jobs.create({
          customerId: customer.id,
          ownerKeyId: customer.ownerKeyId,
          priority,
          requestedPriority: priority,
          package: input.package ?? null,
          directoryIds,
        });
        let status = job.status;
        try {
          await deps.queue.enqueue({
            jobId: job.id,
            enqueueToken: job.enqueueToken,
            priority,
            enqueuedAt: new Date().toISOString(),
          });
          status = 'queued';
          await deps.jobs.markQueued(job.id, job.enqueueToken);
        } catch (err) {
          // The job and its ledger are stored; recovery enqueues jobs left 'pending'. Nothing is lost.
          logger.error('enqueue failed; job left pending for recovery', {
            jobId: job.id,
            error: describeError(err),
          });
          metrics.addMetric('EnqueueFailures', MetricUnit.Count, 1);
        }
        metrics.addMetric('JobsCreated', MetricUnit.Count, 1);
        logger.info('job created', { jobId: job.id, priority, directories: directoryIds.length });
        return json(202, {
          id: job.id,
          status,
          priority,
          tier: tierFor(priority).name,
          directories: directoryIds.length,
        });
      },

      'GET /v1/jobs/{id}': async (event: ApiEvent) => {
        const caller = callerOf(event, deps.adminKeyIds);
        const id = event.pathParameters?.id ?? '';
        const job = isUuid(id) ? await deps.jobs.get(id) : undefined;
        if (!job) throw notFound('job');
        if (!canSee(caller, job.ownerKeyId)) throw notFound('job');
        return json(200, jobView(job, await deps.ledger.forJob(job.id)));
      },
    },
    { logger, metrics },
  );
}
