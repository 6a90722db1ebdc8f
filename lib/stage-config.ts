/**
 * The stage configuration (dev, prod): read from cdk.json context once in bin/, validated here into a typed,
 * readonly object that stacks receive as props. Numbers of behaviour (tiers, limits, schedules) are not here:
 * they are in the policy module and the same for every stage. What differs per stage is where it runs, what
 * it connects to, how long it keeps things, how much of the account's Lambda concurrency it may take, and how
 * its worker is sized (memory, K): the defaults of these last come from policy.
 */
import { FUNCTIONS } from '#functions/manifest';
import { CONCURRENCY, PRIORITY_TIERS, type PriorityTier, WORKER } from '#policy';

type TierName = PriorityTier['name'];

/**
 * How much Lambda concurrency a stage takes (cdk.json `concurrency`). Every number is the stage's choice,
 * because the account decides what fits: a new account may have a quota of 10, where any reservation fails.
 */
export interface StageConcurrency {
  /**
   * Maximum concurrency of each tier's event source mapping (2..1000).
   * @default PRIORITY_TIERS' maxConcurrency (P1 10, P2 5, P3 2)
   */
  readonly tiers: Readonly<Record<TierName, number>>;
  /**
   * Reserved concurrency by manifest function name, e.g. `{ "worker": 17 }`. A reserved worker must hold
   * every tier at its maximum at once (at least the sum of `tiers`).
   * @default {} (no function reserves concurrency)
   */
  readonly reserved: Readonly<Record<string, number>>;
}
/**
 * The browser worker of a stage (cdk.json `worker`): its Lambda memory and K, how many of a job's directories
 * one worker runs at once. More K uses the waiting time of network-bound sites, and needs memory for each
 * directory's browser context: a K whose estimated peak exceeds WORKER.memoryPeakShare of the memory is refused.
 */
export interface StageWorker {
  /**
   * Memory of the worker function in MB (Lambda's 128..10240, and at least WORKER.memoryMb for Chromium).
   * Memory buys CPU too. @default WORKER.memoryMb (2048)
   */
  readonly memoryMb: number;
  /**
   * K: a job's directories in flight at once per worker (1..WORKER.directoriesInFlightMax), set on the worker
   * as WORKER_DIRECTORIES_IN_FLIGHT. @default WORKER.directoriesInFlight (6)
   */
  readonly directoriesInFlight: number;
}

/** What sizes the worker fleet: the tiers' concurrency and the worker's memory and K (CDK and npm start alike). */
export type StageCapacity = Pick<StageConfig, 'concurrency' | 'worker'>;

export interface StageConfig {
  readonly name: string;
  /** Prefix of every physical name, so stages can share an account. */
  readonly prefix: string;
  readonly env: { readonly account?: string; readonly region: string };
  /** ARN of the Secrets Manager secret holding the Postgres connection string (Supabase, RDS, ...). */
  readonly databaseSecretArn: string;
  /**
   * ARN of a secret with the direct (session) connection string that migrations use, when the main secret
   * names a transaction pooler (Supabase's port 6543, PgBouncer, RDS Proxy). @default the main secret
   */
  readonly databaseDirectSecretArn?: string;
  /**
   * ARN of a secret holding the CA certificate(s), PEM, that sign the Postgres server's certificate, when
   * they are not public or Amazon RDS CAs (Supabase's root, a private CA). Trusted instead of the defaults.
   * @default none: Node's CAs plus the Amazon RDS CAs Lambda ships
   */
  readonly databaseCaSecretArn?: string;
  /** ARN of the Secrets Manager secret holding the Slack incoming-webhook URL. */
  readonly slackWebhookSecretArn: string;
  /**
   * ARN of a secret holding a PagerDuty Events API v2 routing key (an integration key of a PagerDuty
   * service): critical alerts (policy ALERTS.critical) page through the pagerduty-notifier function.
   * @default none: no function is built, alerts go to Slack only
   */
  readonly pagerDutyRoutingKeySecretArn?: string;
  /**
   * Keep stateful resources (queues, tables, the alerts topic and key) when the stack is deleted or they are
   * replaced, and protect the table from deletion. @default true (only a throwaway stage sets false)
   */
  readonly retainData: boolean;
  /** Retention of every log group (function logs, API access logs). @default 30 */
  readonly logRetentionDays: number;
  /**
   * Prefix of runbook links in alarm descriptions: `<runbookBaseUrl><name>.md`, e.g. a repository URL
   * ending in `/docs/runbooks/`. @default 'docs/runbooks/'
   */
  readonly runbookBaseUrl: string;
  /** Lambda concurrency: the tiers' maximum and any reservations. */
  readonly concurrency: StageConcurrency;
  /** The worker's memory and K (directories in flight per worker). */
  readonly worker: StageWorker;
  /**
   * Create the API Gateway CloudWatch Logs role and set it on the account (stack `formfleet-<stage>-account`),
   * which REST API access logging requires. One stage per account and region should own it; leave it off
   * where the account already has the role (the preflight checks). @default false
   */
  readonly apiGatewayCloudWatchRole: boolean;
  /**
   * The domain formfleet receives verification mail on (per-job aliases `v-<alias>@<domain>` that a
   * definition with `emailMode: 'alias'` types). Set, the stage gets an SES receipt rule set for it (stored
   * in the records bucket under mail/, then mail-inbound); the domain must be verified in SES and its MX
   * record point at SES's inbound endpoint, and the rule set activated (docs/infrastructure.md).
   * @default none: a definition with emailMode alias fails its directory with that reason
   */
  readonly inboundMailDomain?: string;
}

/** A mail domain: lower-case DNS labels, at least two. */
export const MAIL_DOMAIN =
  /^(?=.{4,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,61}[a-z0-9]$/;

/** The SES receipt rule set and rule of a stage (named, so the bucket policy can name the rule). */
export const inboundMailNames = (prefix: string) => ({
  ruleSet: `${prefix}formfleet-inbound-mail`,
  rule: `${prefix}formfleet-verification-mail`,
});

/** The retention periods CloudWatch Logs accepts. */
export const LOG_RETENTION_DAYS = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
] as const;

const ARN = (service: string) => new RegExp(`^arn:aws[a-z-]*:${service}:[a-z0-9-]+:\\d{12}:.+$`);

/** Validates raw context; every problem is reported in one error. */
export function parseStageConfig(name: string, raw: unknown): StageConfig {
  const problems: string[] = [];
  const at = (field: string) => `formfleet:stages.${name}.${field}`;
  if (typeof raw !== 'object' || raw === null) {
    throw new Error(`${at('')} is missing from cdk.json context (known stages are keys of formfleet:stages)`);
  }
  const r = raw as Record<string, unknown>;
  if (typeof r.prefix !== 'string' || !/^[a-z][a-z0-9-]{0,20}-$/.test(r.prefix)) {
    problems.push(`${at('prefix')} must be lowercase, end with "-" and be at most 22 characters`);
  }
  if (typeof r.region !== 'string' || !/^[a-z]{2}(-[a-z]+)+-\d$/.test(r.region)) {
    problems.push(`${at('region')} must be an AWS region such as us-east-1`);
  }
  if (r.account !== undefined && (typeof r.account !== 'string' || !/^\d{12}$/.test(r.account))) {
    problems.push(`${at('account')} must be a 12-digit account id when given`);
  }
  if (typeof r.databaseSecretArn !== 'string' || !ARN('secretsmanager').test(r.databaseSecretArn)) {
    problems.push(`${at('databaseSecretArn')} must be a Secrets Manager secret ARN`);
  }
  for (const field of [
    'databaseDirectSecretArn',
    'databaseCaSecretArn',
    'pagerDutyRoutingKeySecretArn',
  ] as const) {
    const value = r[field];
    if (value !== undefined && (typeof value !== 'string' || !ARN('secretsmanager').test(value))) {
      problems.push(`${at(field)} must be a Secrets Manager secret ARN when given`);
    }
  }
  if (typeof r.slackWebhookSecretArn !== 'string' || !ARN('secretsmanager').test(r.slackWebhookSecretArn)) {
    problems.push(`${at('slackWebhookSecretArn')} must be a Secrets Manager secret ARN`);
  }
  if (r.retainData !== undefined && typeof r.retainData !== 'boolean') {
    problems.push(`${at('retainData')} must be true or false when given`);
  }
  if (
    r.logRetentionDays !== undefined &&
    !(LOG_RETENTION_DAYS as readonly unknown[]).includes(r.logRetentionDays)
  ) {
    problems.push(`${at('logRetentionDays')} must be one of ${LOG_RETENTION_DAYS.join(', ')}`);
  }
  if (
    r.runbookBaseUrl !== undefined &&
    (typeof r.runbookBaseUrl !== 'string' || !r.runbookBaseUrl.endsWith('/'))
  ) {
    problems.push(`${at('runbookBaseUrl')} must be a URL or path ending in "/" when given`);
  }
  if (r.apiGatewayCloudWatchRole !== undefined && typeof r.apiGatewayCloudWatchRole !== 'boolean') {
    problems.push(`${at('apiGatewayCloudWatchRole')} must be true or false when given`);
  }
  if (
    r.inboundMailDomain !== undefined &&
    (typeof r.inboundMailDomain !== 'string' || !MAIL_DOMAIN.test(r.inboundMailDomain))
  ) {
    problems.push(
      `${at('inboundMailDomain')} must be a lower-case domain name such as mail.example.com when given`,
    );
  }
  const concurrency = parseConcurrency(r.concurrency, at, problems);
  const worker = parseWorker(r.worker, at, problems);
  if (problems.length > 0) throw new Error(`invalid stage config:\n  ${problems.join('\n  ')}`);
  return {
    name,
    prefix: r.prefix as string,
    env: { region: r.region as string, ...(r.account ? { account: r.account as string } : {}) },
    databaseSecretArn: r.databaseSecretArn as string,
    ...(r.databaseDirectSecretArn ? { databaseDirectSecretArn: r.databaseDirectSecretArn as string } : {}),
    ...(r.databaseCaSecretArn ? { databaseCaSecretArn: r.databaseCaSecretArn as string } : {}),
    slackWebhookSecretArn: r.slackWebhookSecretArn as string,
    ...(r.pagerDutyRoutingKeySecretArn
      ? { pagerDutyRoutingKeySecretArn: r.pagerDutyRoutingKeySecretArn as string }
      : {}),
    retainData: (r.retainData as boolean | undefined) ?? true,
    logRetentionDays: (r.logRetentionDays as number | undefined) ?? 30,
    runbookBaseUrl: (r.runbookBaseUrl as string | undefined) ?? 'docs/runbooks/',
    concurrency,
    worker,
    apiGatewayCloudWatchRole: (r.apiGatewayCloudWatchRole as boolean | undefined) ?? false,
    ...(r.inboundMailDomain ? { inboundMailDomain: r.inboundMailDomain as string } : {}),
  };
}

const isWhole = (v: unknown, min: number, max: number): v is number =>
  typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max;

/** `concurrency`: the tiers' maximum concurrency (policy by default) and reservations (none by default). */
function parseConcurrency(raw: unknown, at: (field: string) => string, problems: string[]): StageConcurrency {
  const defaults = policyTiers();
  if (raw === undefined) return { tiers: defaults, reserved: {} };
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    problems.push(`${at('concurrency')} must be an object with "tiers" and/or "reserved"`);
    return { tiers: defaults, reserved: {} };
  }
  const { tiers: rawTiers = {}, reserved: rawReserved = {}, ...unknown } = raw as Record<string, unknown>;
  for (const key of Object.keys(unknown)) problems.push(`${at(`concurrency.${key}`)} is not a setting`);
  const tiers = { ...defaults };
  const { mappingMin, mappingMax } = CONCURRENCY;
  for (const [name, value] of Object.entries(rawTiers as Record<string, unknown>)) {
    if (!Object.hasOwn(defaults, name)) {
      problems.push(`${at(`concurrency.tiers.${name}`)}: no such tier (${Object.keys(defaults).join(', ')})`);
    } else if (!isWhole(value, mappingMin, mappingMax)) {
      problems.push(
        `${at(`concurrency.tiers.${name}`)} must be a whole number from ${mappingMin} to ${mappingMax} (an SQS event source mapping's maximum concurrency)`,
      );
    } else {
      tiers[name as TierName] = value;
    }
  }
  const reserved: Record<string, number> = {};
  for (const [name, value] of Object.entries(rawReserved as Record<string, unknown>)) {
    if (isWhole(value, 1, CONCURRENCY.reservedMax)) reserved[name] = value;
    else {
      problems.push(
        `${at(`concurrency.reserved.${name}`)} must be a whole number from 1 to ${CONCURRENCY.reservedMax} (0 would disable the function)`,
      );
    }
  }
  problems.push(
    ...concurrencyProblems({ tiers, reserved }, FUNCTIONS).map((p) => `${at('concurrency')}: ${p}`),
  );
  return { tiers, reserved };
}

/**
 * The estimated peak memory (MB) of a worker with `k` directories in flight (policy WORKER.memoryBaseMb and
 * memoryPerDirectoryMb), and the least worker memory that keeps it within WORKER.memoryPeakShare.
 */
export function workerMemoryNeed(k: number): { peakMb: number; memoryMb: number } {
  const peakMb = WORKER.memoryBaseMb + k * WORKER.memoryPerDirectoryMb;
  return { peakMb, memoryMb: Math.max(WORKER.memoryMb, Math.ceil(peakMb / WORKER.memoryPeakShare)) };
}

/** The largest K whose estimated peak fits `memoryMb` (0 when not even one directory fits). */
export function directoriesInFlightFitting(memoryMb: number): number {
  const room = memoryMb * WORKER.memoryPeakShare - WORKER.memoryBaseMb;
  return Math.min(WORKER.directoriesInFlightMax, Math.max(0, Math.floor(room / WORKER.memoryPerDirectoryMb)));
}

/** The capacity of a stage that says nothing: the tiers, memory and K of policy, nothing reserved. */
export function defaultCapacity(): StageCapacity {
  return { concurrency: { tiers: policyTiers(), reserved: {} }, worker: POLICY_WORKER };
}

const POLICY_WORKER: StageWorker = {
  memoryMb: WORKER.memoryMb,
  directoriesInFlight: WORKER.directoriesInFlight,
};

/** Each tier's maximum concurrency as policy sets it (PRIORITY_TIERS). */
const policyTiers = () =>
  Object.fromEntries(PRIORITY_TIERS.map((t) => [t.name, t.maxConcurrency])) as Record<TierName, number>;

/** `worker`: memory and K (policy by default), each in its range, and K's estimated peak within the memory. */
function parseWorker(raw: unknown, at: (field: string) => string, problems: string[]): StageWorker {
  const defaults = POLICY_WORKER;
  if (raw === undefined) return defaults;
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    problems.push(`${at('worker')} must be an object with "memoryMb" and/or "directoriesInFlight"`);
    return defaults;
  }
  const {
    memoryMb = defaults.memoryMb,
    directoriesInFlight = defaults.directoriesInFlight,
    ...unknown
  } = raw as Record<string, unknown>;
  for (const key of Object.keys(unknown)) problems.push(`${at(`worker.${key}`)} is not a setting`);
  const { lambdaMemoryMinMb, lambdaMemoryMaxMb, directoriesInFlightMax } = WORKER;
  let memoryOk = false;
  if (!isWhole(memoryMb, lambdaMemoryMinMb, lambdaMemoryMaxMb)) {
    problems.push(
      `${at('worker.memoryMb')} must be a whole number of MB from ${lambdaMemoryMinMb} to ${lambdaMemoryMaxMb} (Lambda's memory settings)`,
    );
  } else if (memoryMb < WORKER.memoryMb) {
    problems.push(
      `${at('worker.memoryMb')} (${memoryMb}) is below ${WORKER.memoryMb} MB, the least Chromium is stable with (policy WORKER.memoryMb)`,
    );
  } else memoryOk = true;
  let kOk = false;
  if (!isWhole(directoriesInFlight, 1, directoriesInFlightMax)) {
    problems.push(
      `${at('worker.directoriesInFlight')} must be a whole number from 1 to ${directoriesInFlightMax} (policy WORKER.directoriesInFlightMax)`,
    );
  } else kOk = true;
  if (memoryOk && kOk) {
    const k = directoriesInFlight as number;
    const need = workerMemoryNeed(k);
    if (need.memoryMb > (memoryMb as number)) {
      const fitting = directoriesInFlightFitting(memoryMb as number);
      problems.push(
        `${at('worker')}: ${k} directories in flight need about ${need.peakMb} MB at peak (policy WORKER.memoryBaseMb + K x memoryPerDirectoryMb), more than ${Math.round(WORKER.memoryPeakShare * 100)} % of memoryMb ${memoryMb}: set memoryMb to at least ${need.memoryMb}${fitting > 0 ? ` or directoriesInFlight to at most ${fitting}` : ''}`,
      );
    }
  }
  return memoryOk && kOk
    ? { memoryMb: memoryMb as number, directoriesInFlight: directoriesInFlight as number }
    : defaults;
}

/**
 * What cannot hold between a stage's concurrency and a set of functions: a reservation for a function that
 * does not exist, a reserved worker smaller than its tiers at their maximum together, or a scheduled function
 * (stale-jobs, recheck-listings' Chromium run ...) reserving more than the one run it ever has at a time. Used on the stage
 * config (against the manifest) and by the function fleet (against the functions it builds).
 */
export function concurrencyProblems(
  concurrency: StageConcurrency,
  functions: readonly { readonly name: string; readonly kind: string }[],
): string[] {
  const problems: string[] = [];
  const sum = Object.values(concurrency.tiers).reduce((a, b) => a + b, 0);
  for (const [name, reservation] of Object.entries(concurrency.reserved)) {
    const fn = functions.find((f) => f.name === name);
    if (!fn) problems.push(`reserved.${name}: no function of that name in the manifest`);
    else if (fn.kind === 'scheduled' && reservation > 1) {
      problems.push(
        `reserved.${name} (${reservation}): a scheduled function runs once at a time (its timeout fits its interval), so a reservation above 1 only takes concurrency from the account`,
      );
    } else if (fn.kind === 'worker' && reservation < sum) {
      problems.push(
        `reserved.${name} (${reservation}) is below the tiers' combined maximum concurrency (${sum}): every tier must fit at its maximum at once, or the mappings are throttled`,
      );
    }
  }
  return problems;
}

/**
 * The stage named by `-c stage=<name>` (dev when none) among cdk.json's `formfleet:stages`, validated: the one
 * way bin/formfleet.ts, the preflight and the rehearsal pick a stage.
 */
export function selectStage(name: string | undefined, stages: unknown): StageConfig {
  const stageName = name ?? 'dev';
  const known = (typeof stages === 'object' && stages !== null ? stages : {}) as Record<string, unknown>;
  if (!Object.hasOwn(known, stageName)) {
    throw new Error(
      `unknown stage "${stageName}": cdk.json context formfleet:stages defines ${Object.keys(known).join(', ') || 'none'}`,
    );
  }
  return parseStageConfig(stageName, known[stageName]);
}
