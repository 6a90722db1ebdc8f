/** `npm run db:migrate`: applies sql/ migrations to DATABASE_URL. */
import pg from 'pg';
import { requireEnv } from '#shared/env';
import { migrate } from '#shared/migrate';

const { DATABASE_URL } = requireEnv(process.env, ['DATABASE_URL']);
const client = new pg.Client({ connectionString: DATABASE_URL });
try {
  await client.connect();
  const report = await migrate(client, { log: (line) => console.log(line) });
  console.log(`migrations: ${report.applied.length} applied, ${report.skipped.length} already applied`);
} catch (err) {
  console.error(`db:migrate failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
} finally {
  await client.end().catch(() => {});
}
