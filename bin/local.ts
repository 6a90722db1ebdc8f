/**
 * `npm start`: the whole formfleet system on this machine (local/runtime.ts), a banner saying where it is,
 * `.formfleet/runtime.json` for `npm run demo` and `npm run ops`, and a clean stop on Ctrl-C, SIGTERM or
 * SIGHUP: running jobs start no new directory, the ones in flight get LOCAL.pollerStopGraceMs to finish and
 * their jobs continue in a fresh message (re-sent at the next start if moto's queue is gone with it); then
 * the browser, gateway, fixture sites, moto and Postgres stop, and the process exits 0 with nothing left
 * running.
 *
 * `npm start -- --fast` runs the schedules LOCAL.fastSpeedUp times faster and the listing lifecycle's ages
 * LOCAL.fastLifecycleSpeedUp times faster. `--stage <name>` runs the worker pollers with that cdk.json stage's
 * tiers' concurrency and the worker's K (what CDK deploys), to try a change locally first. Port, keys and
 * database come from PORT, FORMFLEET_ADMIN_KEY, FORMFLEET_CLIENT_KEY and DATABASE_URL (docs/configuration.md).
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { StageCapacity } from '#lib/stage-config';
import { banner } from '#local/banner';
import { overridesFrom } from '#local/configuration/environment';
import { type LatencyProfileName, latencyProfile } from '#local/fixtures/latency';
import type { LocalSystem } from '#local/runtime';
import {
  localWebhookKey,
  readRuntimeFile,
  removeRuntimeFile,
  stateDir,
  writeRuntimeFile,
} from '#local/runtime-file';
import { ALERTS, LOCAL } from '#policy';
import { intEnv } from '#shared/env';

const USAGE = `usage: npm start [-- --fast] [-- --stage <name>]

  --fast   run the schedules ${LOCAL.fastSpeedUp}x faster (stale-jobs, dlq-check, promote-jobs, recheck-listings),
           retry failed alert deliveries sooner, and pass a day of the listing lifecycle in
           ${86_400 / LOCAL.fastLifecycleSpeedUp} s (rechecks at +1, +7, +28 days come after seconds), to watch
           recovery and listings going live
  --stage  run the worker pollers with a cdk.json stage's tiers' concurrency and the worker's K
           (formfleet:stages.<name>.concurrency.tiers and .worker; default: policy's), as CDK deploys them;
           see docs/runbooks/scale-workers.md
  --help   this text

Environment: PORT (default ${LOCAL.defaultPort}; 0 picks a free port), FORMFLEET_ADMIN_KEY, FORMFLEET_CLIENT_KEY
(generated when unset), DATABASE_URL (a throwaway cluster under the state directory when unset),
SLACK_WEBHOOK_URL, LOG_LEVEL, FORMFLEET_STATE_DIR (default .formfleet/). See docs/configuration.md.`;

// Local log volume: warnings and errors unless asked for more (LOG_LEVEL=INFO); metrics stay off stdout.
process.env.POWERTOOLS_LOG_LEVEL ??= process.env.LOG_LEVEL ?? 'WARN';
process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';
// Lambda runs Node.js 22; Node 20.19+ is supported locally, so the SDK's upgrade notice is noise here.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const say = (line: string) => process.stderr.write(`[formfleet] ${line}\n`);

function fail(message: string, code = 1): never {
  say(message);
  process.exit(code);
}

let flags: { fast: boolean; help: boolean; stage: string | undefined };
try {
  const { values } = parseArgs({
    options: {
      fast: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
      stage: { type: 'string' },
    },
    strict: true,
  });
  flags = { fast: values.fast === true, help: values.help === true, stage: values.stage };
} catch (err) {
  process.stderr.write(`${(err as Error).message}\n\n${USAGE}\n`);
  process.exit(2);
}
if (flags.help) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}

const dir = stateDir();
await mkdir(dir, { recursive: true });
const previous = await readRuntimeFile(dir);
if (previous.kind === 'running') {
  fail(
    `formfleet is already running (pid ${previous.info.pid}) at ${previous.info.url}: stop it first, ` +
      'or give this one its own FORMFLEET_STATE_DIR',
  );
}

// The stage's capacity, validated as cdk deploy validates it (a bad entry is refused here, naming the field).
let capacity: StageCapacity | undefined;
if (flags.stage !== undefined) {
  const { cdkJsonContext } = await import('#lib/deploy/cdk-context');
  const { selectStage } = await import('#lib/stage-config');
  try {
    const { concurrency, worker } = selectStage(flags.stage, cdkJsonContext()['formfleet:stages']);
    capacity = { concurrency, worker };
  } catch (err) {
    fail((err as Error).message, 2);
  }
}

const speedUp = flags.fast ? LOCAL.fastSpeedUp : 1;
let port: number;
try {
  port = intEnv(process.env, 'PORT', LOCAL.defaultPort);
} catch (err) {
  fail((err as Error).message, 2);
}
// How long the fixture sites take to answer: 'real' makes them answer as typical small-business sites do.
const fixtureLatency = (process.env.FORMFLEET_FIXTURE_LATENCY || 'none') as LatencyProfileName;
try {
  latencyProfile(fixtureLatency);
} catch (err) {
  fail(`FORMFLEET_FIXTURE_LATENCY: ${(err as Error).message}`, 2);
}

say(
  `starting${flags.fast ? ' (--fast)' : ''}: the first run creates .venv and a Postgres cluster; later runs take a few seconds`,
);
// Loaded only now: a refused start (above) answers at once instead of loading the whole system first.
const { startLocalSystem } = await import('#local/runtime');
let system: LocalSystem;
try {
  system = await startLocalSystem({
    port,
    ...(process.env.DATABASE_URL ? { databaseUrl: process.env.DATABASE_URL } : { dataDir: join(dir, 'pg') }),
    ...(process.env.FORMFLEET_ADMIN_KEY ? { adminKey: process.env.FORMFLEET_ADMIN_KEY } : {}),
    ...(process.env.FORMFLEET_CLIENT_KEY ? { clientKey: process.env.FORMFLEET_CLIENT_KEY } : {}),
    // Client keys made with POST /v1/keys (or npm run ops -- keys create) outlive a restart.
    keyTableFile: join(dir, 'api-keys.json'),
    // Webhook endpoints (in the persistent cluster) keep secrets sealed with this key across restarts.
    webhookKey: await localWebhookKey(dir),
    schedules: { speedUp },
    fixtureLatency,
    // Tuning variables (RATE_LIMIT_CLIENT_PER_MINUTE, HEARTBEAT_INTERVAL_MS, ...) reach the handlers, as a
    // stage's function configuration would: a changed limit can be tried here first. --fast also shortens the
    // listing lifecycle's ages (days to seconds), so listings can be watched going live.
    env: {
      ...overridesFrom(process.env),
      ...(flags.fast ? { LIFECYCLE_SPEED_UP: String(LOCAL.fastLifecycleSpeedUp) } : {}),
    },
    alerts: {
      // A real Slack channel instead of the local sink.
      ...(process.env.SLACK_WEBHOOK_URL ? { slackWebhookUrl: process.env.SLACK_WEBHOOK_URL } : {}),
      retryDelaySeconds: Math.max(1, Math.round(ALERTS.localRetryDelaySeconds / speedUp)),
    },
    log: say,
    // The tiers' concurrency and the worker's memory and K of --stage's cdk.json entry (policy's without).
    ...(capacity ? { capacity } : {}),
  });
} catch (err) {
  const e = err as NodeJS.ErrnoException;
  fail(
    e.code === 'EADDRINUSE'
      ? `failed to start: port ${port} is in use (another npm start?); set PORT to another port, or 0 for any free one`
      : `failed to start: ${e.message}`,
  );
}

const runtimeFile = await writeRuntimeFile(dir, {
  pid: process.pid,
  url: system.url,
  dashboardUrl: system.dashboardUrl,
  slackSinkUrl: system.alerts.sink?.url ?? null,
  ...(system.env.FORMFLEET_WEBHOOK_SINK_URL ? { webhookSinkUrl: system.env.FORMFLEET_WEBHOOK_SINK_URL } : {}),
  keys: system.keys,
  startedAt: system.startedAt,
  speedUp,
});

const scheduled = ['stale-jobs', 'dlq-check', 'promote-jobs'];
process.stdout.write(
  banner({
    url: system.url,
    dashboardUrl: system.dashboardUrl,
    slackSinkUrl: system.alerts.sink?.url ?? null,
    keys: system.keys,
    databaseUrl: system.databaseUrl,
    databaseNote: system.databaseDir ? `kept in ${system.databaseDir}` : 'DATABASE_URL',
    motoEndpoint: system.motoEndpoint,
    directories: [...system.fixtures.sites.keys()],
    schedules: scheduled.map((name) => ({ name, everyMs: system.scheduler.intervalMs(name) })),
    speedUp,
    runtimeFile,
    capacity: system.capacity,
    ...(flags.stage ? { stageName: flags.stage } : {}),
  }),
);

/**
 * npm and tsx both pass a Ctrl-C on, so one keypress can arrive two or three times within milliseconds; only
 * a signal a while after the first means "do not wait for running jobs".
 */
const REPEAT_SIGNAL_MS = 2_000;
let stoppingSince: number | undefined;
async function shutdown(reason: string, code = 0): Promise<void> {
  if (stoppingSince !== undefined) {
    if (Date.now() - stoppingSince < REPEAT_SIGNAL_MS) return;
    say(`${reason} again: exiting without waiting`);
    process.exit(1);
  }
  stoppingSince = Date.now();
  say(
    `${reason}: stopping (no new directory starts; those in flight get ${LOCAL.pollerStopGraceMs / 1000} s to ` +
      'finish, and their jobs continue at the next start)',
  );
  const force = setTimeout(() => {
    say(`forced exit: stopping took longer than ${LOCAL.shutdownGraceMs / 1000} s`);
    process.exit(1);
  }, LOCAL.shutdownGraceMs);
  force.unref();
  await system.stop();
  await removeRuntimeFile(dir).catch(() => {});
  say('stopped');
  process.exit(code);
}
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(signal, () => void shutdown(signal));
}
process.on('uncaughtException', (err) => {
  say(`unexpected error: ${err.message}`);
  void shutdown('uncaught exception', 1);
});
process.on('unhandledRejection', (err) => {
  say(`unexpected error: ${err instanceof Error ? err.message : String(err)}`);
  void shutdown('unhandled rejection', 1);
});
