/**
 * The task routes (admin keys only; issue 14): the queue of ledger rows the robot must not finish, leased to
 * a person and resolved through the fenced ledger (functions/shared/task-store.ts). Served by the ledger's
 * API function beside GET /v1/submissions; each task carries the proofs of its row's clicks.
 */
import { isUuid } from '#shared/customer-store';
import type { Task, TaskKind, TaskOutcome, TaskResult, TaskState, TaskStore } from '#shared/task-store';
import { MetricUnit } from '#shared/telemetry';
import { CURSOR_PARTS, decodeCursor, encodeCursor } from './cursor.ts';
import { conflict, json, notFound } from './http.ts';
import type { ProofLinks } from './proofs.ts';
import type { ApiBaseDeps, RouteImplementation, RouteRequest } from './router.ts';

export interface TasksApiDeps extends ApiBaseDeps {
  tasks: TaskStore;
  proofs: ProofLinks;
}

interface TaskQuery {
  status?: TaskState;
  kind?: TaskKind;
  directoryId?: string;
  jobId?: string;
  cursor?: string;
  limit: number;
}

/** The task as the API shows it: with its row's proofs, without the ledger row id. */
async function withProofs(deps: TasksApiDeps, tasks: readonly Task[]) {
  const proofs = await deps.proofs.forSubmissions(tasks.map((t) => t.submissionId));
  return tasks.map(({ submissionId, ...view }) => ({ ...view, proofs: proofs.get(submissionId) ?? [] }));
}

/** 200 with the task, or the refusal as 404 / 409. */
async function answer(deps: TasksApiDeps, result: TaskResult) {
  if (result.kind === 'missing') throw notFound('task');
  if (result.kind === 'conflict') throw conflict(result.message);
  return json(200, (await withProofs(deps, [result.task]))[0]);
}

const taskId = (params: Record<string, string>) => {
  const id = params.id ?? '';
  if (!isUuid(id)) throw notFound('task');
  return id;
};

/** The implementations of the task routes, for the ledger function's handler. */
export function taskRoutes(deps: TasksApiDeps): Record<string, RouteImplementation> {
  return {
    'GET /v1/tasks': async ({ query }: RouteRequest<undefined, TaskQuery>) => {
      const after = decodeCursor(query.cursor, [CURSOR_PARTS.timestamp, CURSOR_PARTS.uuid]);
      const page = await deps.tasks.list({
        ...(query.status ? { status: query.status } : {}),
        ...(query.kind ? { kind: query.kind } : {}),
        ...(query.directoryId ? { directoryId: query.directoryId } : {}),
        ...(query.jobId ? { jobId: query.jobId } : {}),
        limit: query.limit,
        ...(after ? { after } : {}),
      });
      return json(200, {
        items: await withProofs(deps, page.tasks),
        nextCursor: page.next ? encodeCursor(page.next) : null,
      });
    },

    'GET /v1/tasks/{id}': async ({ params }: RouteRequest) => {
      const task = await deps.tasks.get(taskId(params));
      if (!task) throw notFound('task');
      return json(200, (await withProofs(deps, [task]))[0]);
    },

    'POST /v1/tasks/{id}/claim': async ({ caller, params, body }: RouteRequest<{ by?: string }>) =>
      answer(deps, await deps.tasks.claim(taskId(params), body.by ?? caller.keyId)),

    'POST /v1/tasks/{id}/release': async ({ params, body }: RouteRequest<{ claimToken: number }>) =>
      answer(deps, await deps.tasks.release(taskId(params), body.claimToken)),

    'POST /v1/tasks/{id}/resolve': async ({
      caller,
      params,
      body,
    }: RouteRequest<{
      outcome: TaskOutcome;
      claimToken?: number;
      by?: string;
      listingUrl?: string;
      note?: string;
    }>) => {
      const result = await deps.tasks.resolve(taskId(params), {
        outcome: body.outcome,
        by: body.by ?? caller.keyId,
        ...(body.claimToken !== undefined ? { claimToken: body.claimToken } : {}),
        ...(body.listingUrl !== undefined ? { listingUrl: body.listingUrl } : {}),
        ...(body.note !== undefined ? { note: body.note } : {}),
      });
      if (result.kind === 'ok') {
        deps.metrics.addMetric(`TasksResolved_${body.outcome}`, MetricUnit.Count, 1);
        deps.logger.info('task resolved', {
          taskId: result.task.id,
          jobId: result.task.jobId,
          directoryId: result.task.directoryId,
          outcome: body.outcome,
          byKeyId: caller.keyId,
        });
      }
      return answer(deps, result);
    },
  };
}
