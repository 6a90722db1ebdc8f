/**
 * The `workers` table: each worker process (a Lambda execution environment, or a local worker process)
 * upserts its row on every heartbeat, so health checks and the dashboard can tell live workers from gone
 * ones and see each browser's state.
 */
import type { Sql } from '#shared/db';
import type { BrowserState } from './browser-pool.ts';

export interface WorkerBeat {
  id: string;
  jobsInFlight: number;
  browser: BrowserState;
}

export interface WorkerRegistry {
  beat(beat: WorkerBeat): Promise<void>;
}

export class PgWorkerRegistry implements WorkerRegistry {
  constructor(private readonly sql: Sql) {}

  async beat({ id, jobsInFlight, browser }: WorkerBeat): Promise<void> {
    await this.sql.query(
      `INSERT INTO workers (id, last_seen_at, jobs_in_flight, browser) VALUES ($1, now(), $2, $3)
       ON CONFLICT (id) DO UPDATE SET last_seen_at = now(), jobs_in_flight = $2, browser = $3`,
      [id, jobsInFlight, browser],
    );
  }
}
