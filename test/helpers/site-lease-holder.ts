/**
 * A process that takes one site's politeness lease and keeps visiting forever, for the crash test: it
 * prints "held" once the lease is its own, renews it like a worker mid-visit, and is then SIGKILLed.
 *
 * Environment: DATABASE_URL, SITE, SITE_LEASE_MS.
 */
import { PgSitePoliteness } from '#functions/worker/site-politeness';
import { createDatabase } from '#shared/db';
import { requireEnv } from '#shared/env';

const env = requireEnv(process.env, ['DATABASE_URL', 'SITE', 'SITE_LEASE_MS']);
const db = createDatabase({ connectionString: env.DATABASE_URL, max: 2 });
const politeness = new PgSitePoliteness(db, 0, { leaseMs: Number(env.SITE_LEASE_MS) });
await politeness.acquire(env.SITE, { holder: `doomed:${process.pid}`, maxWaitMs: 10_000 });
process.stdout.write('held\n');
// The visit never ends on its own: only the lease's renewal timer and this keep the process busy.
setInterval(() => {}, 60_000);
