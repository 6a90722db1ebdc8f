/**
 * Starts the services every test file shares: one Postgres server (DATABASE_URL's, or a throwaway one)
 * and one moto server. Files isolate themselves inside them (a database and a queue prefix each).
 */
import type { TestProject } from 'vitest/node';
import { startMoto } from '#local/services/moto';
import { startPostgres } from '#local/services/postgres';

declare module 'vitest' {
  export interface ProvidedContext {
    pgServerUrl: string;
    motoEndpoint: string;
  }
}

export default async function setup(project: TestProject) {
  const [postgres, moto] = await Promise.all([startPostgres(), startMoto()]);
  project.provide('pgServerUrl', postgres.url);
  project.provide('motoEndpoint', moto.endpoint);
  // Extract @sparticuz/chromium once, before parallel test files race to do it.
  const chromium = (await import('@sparticuz/chromium')).default;
  if (!process.env.CHROMIUM_PATH) await chromium.executablePath();
  return async () => {
    await moto.stop();
    await postgres.stop();
  };
}
