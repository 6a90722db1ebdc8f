/**
 * GET /health: unauthenticated liveness for load balancers and uptime checks; status only, never cached,
 * rate limited per client IP. GET /v1/health (any key): the detailed report of health-report.ts.
 */
import { HEALTH } from '#policy';
import type { Sql } from '#shared/db';
import { buildHealthReport, pingDatabase } from './health-report.ts';
import { json } from './http.ts';
import type { QueueStats } from './queue-stats.ts';
import { type ApiBaseDeps, type ApiHandler, makeApiHandler } from './router.ts';

export interface HealthApiDeps extends ApiBaseDeps {
  sql: Pick<Sql, 'query'>;
  queues: QueueStats;
  /** How long the database may take to answer before it counts as down. */
  timeoutMs?: number;
}

export function makeHealthApi(deps: HealthApiDeps): ApiHandler {
  const timeoutMs = deps.timeoutMs ?? HEALTH.databaseTimeoutMs;
  return makeApiHandler(
    'health',
    {
      'GET /health': async () => {
        const database = await pingDatabase(deps.sql, timeoutMs);
        if (database.status === 'down') {
          deps.logger.warn('health check: database unavailable', { error: database.error });
        }
        const up = database.status === 'up';
        return json(up ? 200 : 503, { status: up ? 'ok' : 'unavailable' });
      },
      'GET /v1/health': async () => {
        const report = await buildHealthReport({
          sql: deps.sql,
          queues: deps.queues,
          databaseTimeoutMs: timeoutMs,
        });
        if (report.status !== 'healthy') deps.logger.warn('health: not healthy', { reasons: report.reasons });
        return json(report.status === 'unhealthy' ? 503 : 200, report);
      },
    },
    deps,
  );
}
