/** The dead-letter routes (admin keys only): inspect every tier's DLQ, and redrive by error class. */

import { type DlqService, InvalidRedriveRequest } from '#functions/recovery/dlq';
import { PRIORITY_TIERS, type Priority } from '#policy';
import type { ErrorClass } from '#shared/submission-ledger';
import { MetricUnit } from '#shared/telemetry';
import { badRequest, json } from './http.ts';
import { type ApiBaseDeps, type ApiHandler, makeApiHandler, type RouteRequest } from './router.ts';

export interface DlqApiDeps extends ApiBaseDeps {
  dlq: DlqService;
}

interface RedriveBody {
  errorClasses: ErrorClass[] | 'all';
  tiers?: ('P1' | 'P2' | 'P3')[];
  limit?: number;
}

export function makeDlqApi(deps: DlqApiDeps): ApiHandler {
  return makeApiHandler(
    'dlq',
    {
      'GET /v1/dlq': async ({ query }: RouteRequest<undefined, { maxPerTier: number }>) =>
        json(200, { tiers: await deps.dlq.inspect({ maxPerTier: query.maxPerTier }) }),

      'POST /v1/dlq/redrive': async ({ caller, body }: RouteRequest<RedriveBody>) => {
        const tiers = body.tiers?.map(
          (name) => (PRIORITY_TIERS.find((t) => t.name === name) as { priority: Priority }).priority,
        );
        const report = await deps.dlq
          .redrive({
            errorClasses: body.errorClasses,
            ...(tiers ? { tiers } : {}),
            ...(body.limit !== undefined ? { limit: body.limit } : {}),
          })
          .catch((err: unknown) => {
            // The request schema already refuses what the service would; this keeps the two honest.
            if (err instanceof InvalidRedriveRequest) throw badRequest(err.message);
            throw err;
          });
        deps.metrics.addMetric('DlqRedriven', MetricUnit.Count, report.moved);
        deps.logger.info('DLQ redrive', { byKeyId: caller.keyId, ...report });
        return json(200, report);
      },
    },
    deps,
  );
}
