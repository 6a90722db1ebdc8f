/**
 * What `npm start` prints once the system is up: where everything is, the keys, what runs when, and one
 * request to try that works as pasted (it names a seeded demo customer and two fixture directories).
 */
import type { StageCapacity } from '#lib/stage-config';
import { PRIORITY_TIERS } from '#policy';
import { DEMO_CUSTOMERS } from './seed.ts';

export interface BannerInput {
  url: string;
  dashboardUrl: string;
  /** The local Slack sink's webhook, or null when alerts go to SLACK_WEBHOOK_URL. */
  slackSinkUrl: string | null;
  keys: { admin: string; client: string };
  databaseUrl: string;
  /** Where the database lives, in words ("cluster in .formfleet/pg", "DATABASE_URL"). */
  databaseNote: string;
  motoEndpoint: string;
  directories: readonly string[];
  schedules: readonly { name: string; everyMs: number }[];
  speedUp: number;
  runtimeFile: string;
  /** The tiers' concurrency and the worker's memory and K the pollers run with; the stage they come from. */
  capacity: StageCapacity;
  stageName?: string;
}

const every = (ms: number) =>
  ms >= 60_000 && ms % 60_000 === 0 ? `${ms / 60_000} min` : `${Math.round(ms / 100) / 10} s`;

/** A connection string without its password, for printing. */
export function withoutPassword(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '****';
    return u.toString();
  } catch {
    return url;
  }
}

export function banner(b: BannerInput): string {
  const customer = DEMO_CUSTOMERS[0] as (typeof DEMO_CUSTOMERS)[number];
  const tryDirectories = ['simple-form', 'multi-step-wizard'].filter((d) => b.directories.includes(d));
  const body = JSON.stringify({
    customerId: customer.id,
    directoryIds: tryDirectories.length > 0 ? tryDirectories : b.directories.slice(0, 2),
    priority: 1,
  });
  const schedules = b.schedules.map((s) => `${s.name} every ${every(s.everyMs)}`).join(', ');
  const { tiers } = b.capacity.concurrency;
  const { directoriesInFlight, memoryMb } = b.capacity.worker;
  const workers = PRIORITY_TIERS.map((t) => `${t.name} ×${tiers[t.name]}`).join(', ');
  const sizing = `${directoriesInFlight} directories in flight each, ${memoryMb} MB in Lambda (${b.stageName ? `stage ${b.stageName}` : 'policy defaults'})`;
  return `
formfleet is running${b.speedUp !== 1 ? ` (--fast: schedules ${b.speedUp}x faster)` : ''}

  API          ${b.url}
  dashboard    ${b.dashboardUrl}
  Slack sink   ${b.slackSinkUrl ?? 'none: alerts are posted to SLACK_WEBHOOK_URL'}
  admin key    ${b.keys.admin}
  client key   ${b.keys.client}
  database     ${withoutPassword(b.databaseUrl)} (${b.databaseNote})
  moto         ${b.motoEndpoint} (SQS, SNS, DynamoDB)
  directories  ${b.directories.length} fixture sites: ${b.directories.join(', ')}
  customers    ${DEMO_CUSTOMERS.map((c) => `${c.name} ${c.id}`).join('\n               ')}
  workers      ${workers} concurrent invocations per tier; ${sizing}
  schedules    ${schedules}
  alerts       SNS → slack-notifier → ${b.slackSinkUrl ? 'the Slack sink: printed here as "slack: ...", on the dashboard and in npm run ops -- alerts' : 'Slack'}

Try it (${customer.name}, a demo customer, at priority 1):
  curl -s -X POST ${b.url}/v1/jobs -H 'x-api-key: ${b.keys.client}' \\
    -H 'content-type: application/json' -d '${body}'
then follow the job:  npm run ops -- jobs show <id> --wait
a whole workload:     npm run demo
(demo and ops find this system through ${b.runtimeFile})

Ctrl-C stops everything.
`;
}
