/**
 * The jobs API: create a job (ledger rows + one FIFO message), read and list jobs, cancel and retry them,
 * and show a customer's place in the queue.
 */
import { PACKAGES, type PackageName, type Priority, tierFor } from '#policy';
import { type CustomerStore, isUuid } from '#shared/customer-store';
import type { DirectoryStore } from '#shared/directory-store';
import { type JobQueue, sendStoredJob } from '#shared/job-queue';
import type { Job, JobStatus, JobStore } from '#shared/job-store';
import type { Submission, SubmissionLedger } from '#shared/submission-ledger';
import { describeError, MetricUnit } from '#shared/telemetry';
import { CURSOR_PARTS, decodeCursor, encodeCursor } from './cursor.ts';
import { type Caller, canSee, conflict, json, notFound } from './http.ts';
import { estimateWaitSeconds, type JobQueries } from './job-queries.ts';
import { type ApiBaseDeps, type ApiHandler, makeApiHandler, type RouteRequest } from './router.ts';

export interface JobsApiDeps extends ApiBaseDeps {
  jobs: JobStore;
  queries: JobQueries;
  ledger: Pick<SubmissionLedger, 'forJob'>;
  customers: Pick<CustomerStore, 'get'>;
  directories: Pick<DirectoryStore, 'getMany' | 'selectForPackage'>;
  queue: JobQueue;
}

interface CreateJobBody {
  customerId: string;
  directoryIds?: string[];
  package?: PackageName;
  priority?: Priority;
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

export function jobWithResults(job: Job, submissions: readonly Submission[]) {
  return {
    ...jobView(job),
    results: submissions.map((s) => ({
      directoryId: s.directoryId,
      status: s.status,
      attempt: s.attempt,
      errorClass: s.errorClass,
      error: s.error,
      finishedAt: s.finishedAt,
    })),
  };
}

export function makeJobsApi(deps: JobsApiDeps): ApiHandler {
  const { logger, metrics } = deps;

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

  return makeApiHandler(
    'jobs',
    {
      'POST /v1/jobs': async ({ caller, body }: RouteRequest<CreateJobBody>) => {
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
        const priority: Priority =
          body.priority ?? (body.package ? PACKAGES[body.package].defaultPriority : 2);
        const job = await deps.jobs.create({
          customerId: customer.id,
          ownerKeyId: customer.ownerKeyId,
          priority,
          requestedPriority: priority,
          package: body.package ?? null,
          directoryIds,
        });
        const status = await enqueue(job);
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
        return json(200, jobWithResults(job, await deps.ledger.forJob(job.id)));
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
        return json(200, jobWithResults(outcome.job, await deps.ledger.forJob(job.id)));
      },

      'POST /v1/jobs/{id}/retry': async ({ caller, params }: RouteRequest) => {
        const job = await visibleJob(caller, params.id);
        const outcome = await deps.queries.retry(job.id, caller.keyId);
        if (outcome.kind === 'missing') throw notFound('job');
        if (outcome.kind === 'running')
          throw conflict(`job is ${outcome.status}; only a finished job can be retried`);
        if (outcome.kind === 'nothing')
          throw conflict('nothing to retry: no directory of this job failed or ended unknown');
        const status = await enqueue(outcome.job);
        metrics.addMetric('JobsRetried', MetricUnit.Count, 1);
        logger.info('job retried', { jobId: job.id, directories: outcome.directoryIds.length });
        return json(202, {
          id: job.id,
          status,
          priority: outcome.job.priority,
          tier: tierFor(outcome.job.priority).name,
          retried: outcome.directoryIds,
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
