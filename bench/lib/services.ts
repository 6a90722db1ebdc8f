/**
 * The services a benchmark runs against, as the tests get them: one Postgres server (DATABASE_URL's, or a
 * throwaway one from the installed binaries) with a fresh database per benchmark, and one moto server. All
 * on loopback; everything started here is stopped by `stop()`.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { type LocalSystem, type LocalSystemOptions, startLocalSystem } from '#local/runtime';
import { startMoto } from '#local/services/moto';
import { createScratchDatabase, type PostgresKind, startPostgres } from '#local/services/postgres';

export interface BenchServices {
  pgServerUrl: string;
  postgresKind: PostgresKind;
  postgresVersion: string;
  motoEndpoint: string;
  /** A fresh, empty database on the server (dropped by stop()). */
  database(label: string): Promise<string>;
  /** The local system on a fresh database, with a unique queue prefix (stopped by stop()). */
  system(label: string, options?: LocalSystemOptions): Promise<LocalSystem>;
  stop(): Promise<void>;
}

const suffix = () => randomBytes(3).toString('hex');

export async function startBenchServices(): Promise<BenchServices> {
  const [postgres, moto] = await Promise.all([startPostgres(), startMoto()]);
  const stops: Array<() => Promise<void>> = [() => moto.stop(), () => postgres.stop()];
  const client = new pg.Client({ connectionString: postgres.url });
  await client.connect();
  const { rows } = await client.query<{ v: string }>('SHOW server_version');
  await client.end();
  const services: BenchServices = {
    pgServerUrl: postgres.url,
    postgresKind: postgres.kind,
    postgresVersion: rows[0]?.v ?? 'unknown',
    motoEndpoint: moto.endpoint,
    async database(label) {
      const scratch = await createScratchDatabase(
        postgres.url,
        `ffbench_${label.replace(/[^a-z0-9]+/g, '_')}_${suffix()}`,
      );
      stops.unshift(() => scratch.drop());
      return scratch.url;
    },
    async system(label, options = {}) {
      const system = await startLocalSystem({
        port: 0,
        databaseUrl: await services.database(label),
        motoEndpoint: moto.endpoint,
        queuePrefix: `bench-${label}-${suffix()}-`,
        schedules: { timers: false },
        ...options,
      });
      stops.unshift(() => system.stop());
      return system;
    },
    async stop() {
      for (const stop of stops.splice(0)) await stop().catch(() => {});
    },
  };
  return services;
}
