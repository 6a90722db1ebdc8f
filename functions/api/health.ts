/** GET /health: unauthenticated liveness for load balancers and uptime checks; status only, never cached. */
import type { Sql } from '#shared/db';
import type { Logger, Metrics } from '#shared/telemetry';
import { json } from './http.ts';
import { type ApiHandler, makeApiHandler } from './router.ts';

export interface HealthApiDeps {
  sql: Pick<Sql, 'query'>;
  logger: Logger;
  metrics: Metrics;
  /** How long the database may take to answer before the service counts as unhealthy. */
  timeoutMs?: number;
}

export function makeHealthApi(deps: HealthApiDeps): ApiHandler {
  return makeApiHandler(
    'health',
    {
      'GET /health': async () => {
        const timeoutMs = deps.timeoutMs ?? 2_000;
        let healthy = false;
        try {
          await Promise.race([
            deps.sql.query('SELECT 1'),
            new Promise((_, reject) =>
              setTimeout(() => reject(new Error('database timeout')), timeoutMs).unref(),
            ),
          ]);
          healthy = true;
        } catch (err) {
          deps.logger.warn('health check: database unavailable', { error: (err as Error).message });
        }
        return json(healthy ? 200 : 503, { status: healthy ? 'ok' : 'unavailable' });
      },
    },
    deps,
  );
}
