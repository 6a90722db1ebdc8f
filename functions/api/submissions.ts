/**
 * GET /v1/submissions, and the task routes (tasks.ts) beside it: the ledger rows of one job (?jobId=) or of every job of one customer (?customerId=),
 * visible on the same terms as the job or customer itself (its owner key, or an admin), by keyset cursor,
 * each with its proofs (presigned screenshot links).
 */
import type { CustomerStore } from '#shared/customer-store';
import type { JobStore } from '#shared/job-store';
import type { ListingState, SubmissionStatus } from '#shared/submission-ledger';
import { CURSOR_PARTS, decodeCursor, encodeCursor } from './cursor.ts';
import { canSee, json, notFound } from './http.ts';
import type { ProofLinks } from './proofs.ts';
import { type ApiBaseDeps, type ApiHandler, makeApiHandler, type RouteRequest } from './router.ts';
import type { SubmissionQueries } from './submission-queries.ts';
import { type TasksApiDeps, taskRoutes } from './tasks.ts';

/** The ledger's function: its rows (GET /v1/submissions) and the tasks made of them (functions/api/tasks.ts). */
export interface SubmissionsApiDeps extends ApiBaseDeps, TasksApiDeps {
  submissions: SubmissionQueries;
  jobs: Pick<JobStore, 'get'>;
  customers: Pick<CustomerStore, 'get'>;
  proofs: ProofLinks;
}

interface SubmissionQuery {
  jobId?: string;
  customerId?: string;
  status?: SubmissionStatus;
  lifecycle?: ListingState;
  cursor?: string;
  limit: number;
}

export function makeSubmissionsApi(deps: SubmissionsApiDeps): ApiHandler {
  return makeApiHandler(
    'submissions',
    {
      'GET /v1/submissions': async ({ caller, query }: RouteRequest<undefined, SubmissionQuery>) => {
        if (query.jobId) {
          const job = await deps.jobs.get(query.jobId);
          if (!job || !canSee(caller, job.ownerKeyId)) throw notFound('job');
        } else {
          const customer = await deps.customers.get(query.customerId ?? '');
          if (!customer || !canSee(caller, customer.ownerKeyId)) throw notFound('customer');
        }
        const after = decodeCursor(query.cursor, [CURSOR_PARTS.bigint]);
        const page = await deps.submissions.list({
          ...(query.jobId ? { jobId: query.jobId } : { customerId: query.customerId as string }),
          ...(query.status ? { status: query.status } : {}),
          ...(query.lifecycle ? { lifecycle: query.lifecycle } : {}),
          limit: query.limit,
          ...(after ? { afterId: after[0] } : {}),
        });
        const proofs = await deps.proofs.forSubmissions(page.submissions.map((s) => s.id));
        return json(200, {
          items: page.submissions.map(({ id, ...view }) => ({ ...view, proofs: proofs.get(id) ?? [] })),
          nextCursor: page.next ? encodeCursor([page.next]) : null,
        });
      },
      ...taskRoutes(deps),
    },
    deps,
  );
}
