/**
 * Starts the services every test file shares: one Postgres server (DATABASE_URL's, or a throwaway one)
 * and one moto server. Files isolate themselves inside them (a database and a queue prefix each).
 *
 * Pooler mode (FORMFLEET_TEST_POOLER=pgbouncer): a PgBouncer in transaction pooling stands in front of the
 * server, and every test database's URL and pool go through it (testDatabase), as the request path does
 * behind Supabase's transaction port or a PgBouncer; only creating and dropping databases stays direct.
 */
import type { TestProject } from 'vitest/node';
import { startMoto } from '#local/services/moto';
import { type PgBouncer, startPgBouncer } from '#local/services/pgbouncer';
import { startPostgres } from '#local/services/postgres';

declare module 'vitest' {
  export interface ProvidedContext {
    pgServerUrl: string;
    /** PgBouncer in front of pgServerUrl in pooler mode, '' otherwise. */
    pgPoolerUrl: string;
    motoEndpoint: string;
  }
}

/** The pooler the tests run through, from FORMFLEET_TEST_POOLER ('' or unset: none). */
export function testPooler(env: NodeJS.ProcessEnv = process.env): 'pgbouncer' | undefined {
  const value = env.FORMFLEET_TEST_POOLER ?? '';
  if (value === '') return undefined;
  if (value === 'pgbouncer') return value;
  throw new Error(`FORMFLEET_TEST_POOLER must be "pgbouncer" or unset (got "${value}")`);
}

export default async function setup(project: TestProject) {
  const pooler = testPooler();
  const [postgres, moto] = await Promise.all([startPostgres(), startMoto()]);
  let bouncer: PgBouncer | undefined;
  if (pooler) bouncer = await startPgBouncer({ serverUrl: postgres.url, poolMode: 'transaction' });
  project.provide('pgServerUrl', postgres.url);
  project.provide('pgPoolerUrl', bouncer?.url ?? '');
  project.provide('motoEndpoint', moto.endpoint);
  // Extract @sparticuz/chromium once, before parallel test files race to do it.
  const chromium = (await import('@sparticuz/chromium')).default;
  if (!process.env.CHROMIUM_PATH) await chromium.executablePath();
  return async () => {
    await bouncer?.stop();
    await moto.stop();
    await postgres.stop();
  };
}
