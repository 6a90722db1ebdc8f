/**
 * `npm start`: the whole formfleet system on this machine. Ports, keys and database come from PORT,
 * FORMFLEET_ADMIN_KEY, FORMFLEET_CLIENT_KEY and DATABASE_URL; keys are generated when unset.
 * Ctrl-C or SIGTERM stops everything it started.
 */
import { join } from 'node:path';
import { startLocalSystem } from '#local/runtime';
import { PROJECT_ROOT } from '#local/services/python';
import { intEnv } from '#shared/env';

// Local log volume: warnings and errors unless asked for more (LOG_LEVEL=INFO); metrics stay off stdout.
process.env.POWERTOOLS_LOG_LEVEL ??= process.env.LOG_LEVEL ?? 'WARN';
process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';

const say = (line: string) => process.stderr.write(`[formfleet] ${line}\n`);

say('starting (first run creates .venv and a Postgres cluster; later runs take a few seconds)');
const system = await startLocalSystem({
  port: intEnv(process.env, 'PORT', 3000),
  ...(process.env.DATABASE_URL
    ? { databaseUrl: process.env.DATABASE_URL }
    : { dataDir: join(PROJECT_ROOT, '.formfleet', 'pg') }),
  ...(process.env.FORMFLEET_ADMIN_KEY ? { adminKey: process.env.FORMFLEET_ADMIN_KEY } : {}),
  ...(process.env.FORMFLEET_CLIENT_KEY ? { clientKey: process.env.FORMFLEET_CLIENT_KEY } : {}),
  // A real Slack channel instead of the local sink that prints alerts here.
  ...(process.env.SLACK_WEBHOOK_URL ? { alerts: { slackWebhookUrl: process.env.SLACK_WEBHOOK_URL } } : {}),
  log: say,
}).catch((err: unknown) => {
  say(`failed to start: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});

const directories = [...system.fixtures.sites.keys()];
console.log(`
formfleet is running

  API          ${system.url}
  health       ${system.url}/health
  admin key    ${system.keys.admin}
  client key   ${system.keys.client}
  directories  ${directories.join(', ')}
  alerts       ${system.alerts.sink ? 'printed here as "slack: ..." (SLACK_WEBHOOK_URL posts to a real channel)' : 'posted to SLACK_WEBHOOK_URL'}

Try it:
  curl -s -X POST ${system.url}/v1/customers -H 'x-api-key: ${system.keys.client}' \\
    -H 'content-type: application/json' -d '{"name":"Acme Plumbing","email":"owner@acme.test"}'
  curl -s -X POST ${system.url}/v1/jobs -H 'x-api-key: ${system.keys.client}' \\
    -H 'content-type: application/json' -d '{"customerId":"<id from above>","directoryIds":["${directories[0]}"]}'
  curl -s ${system.url}/v1/jobs/<job id> -H 'x-api-key: ${system.keys.client}'

Ctrl-C stops everything.
`);

let stopping = false;
async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  say(`${signal}: stopping`);
  const force = setTimeout(() => {
    say('forced exit after 20 s');
    process.exit(1);
  }, 20_000);
  force.unref();
  await system.stop();
  say('stopped');
  process.exit(0);
}
process.on('SIGINT', () => void shutdown('SIGINT'));
process.on('SIGTERM', () => void shutdown('SIGTERM'));
