/**
 * The preflight: what a stage's first (or next) deploy needs of the AWS account, checked before `cdk deploy`
 * rather than discovered by a rollback. Each check says what it found and, when it fails, the exact command
 * (or cdk.json change) that fixes it. The account is read through small ports (aws-account.ts has the SDK
 * adapters; the tests point them at moto), the database through `checkDatabase`.
 */
import { FUNCTIONS } from '#functions/manifest';
import { CONCURRENCY, DEPLOY } from '#policy';
import { connectionStringFromSecret } from '#shared/database-config';
import { certificatesIn, type NamedCa } from '#shared/database-tls';
import type { StageConfig } from '../stage-config.ts';
import type { DeploymentNeeds } from './deployment.ts';

export interface CheckResult {
  readonly name: string;
  readonly ok: boolean;
  /** What was found. */
  readonly detail: string;
  /** For a failure: the command or change that fixes it. */
  readonly fix?: string;
}

/** Lambda's concurrency settings of the account and region. */
export interface LambdaAccountSettings {
  readonly concurrentExecutions: number;
  readonly unreservedConcurrentExecutions: number;
}

/** A secret as read: its value, or why there is none. */
export type SecretRead =
  | { readonly value: string }
  | { readonly missing: true; readonly existingArn?: string };

/** The account, as the preflight reads it. */
export interface AccountPorts {
  /** Whose credentials these are. */
  callerIdentity(): Promise<{ account: string; arn: string }>;
  /** The SSM parameter's value, undefined when it does not exist. */
  parameter(name: string): Promise<string | undefined>;
  lambdaSettings(): Promise<LambdaAccountSettings>;
  /** A function's reserved concurrency now: 0 when it has none or does not exist yet. */
  functionReservation(functionName: string): Promise<number>;
  /** The API Gateway account setting, undefined when unset. */
  apiGatewayCloudWatchRole(): Promise<string | undefined>;
  /** The secret by ARN; when missing, the ARN of a secret with the same name, if one exists. */
  secret(arn: string): Promise<SecretRead>;
}

/** Postgres reachable with verified TLS (against the stage's CA when it names one), and what is pending. */
export type CheckDatabase = (
  connectionString: string,
  ca?: NamedCa,
) => Promise<{ ok: boolean; detail: string; fix?: string }>;

export interface PreflightInput {
  readonly stage: StageConfig;
  readonly needs: DeploymentNeeds;
  readonly account: AccountPorts;
  readonly checkDatabase: CheckDatabase;
}

const failed = (name: string, detail: string, fix: string): CheckResult => ({ name, ok: false, detail, fix });
const passed = (name: string, detail: string): CheckResult => ({ name, ok: true, detail });
const reason = (err: unknown) => {
  const e = err as { name?: string; message?: string };
  return `${e.name && e.name !== 'Error' ? `${e.name}: ` : ''}${e.message ?? String(err)}`;
};

export async function preflight(input: PreflightInput): Promise<CheckResult[]> {
  const { stage, account } = input;
  let identity: { account: string; arn: string };
  try {
    identity = await account.callerIdentity();
  } catch (err) {
    const skipped = ['bootstrap', 'lambda concurrency', 'API Gateway logging role', 'secrets', 'database'];
    return [
      failed(
        'credentials',
        `no usable AWS credentials for ${stage.env.region}: ${reason(err)}`,
        `aws configure sso   (or export AWS_PROFILE=<a profile of account ${stage.env.account ?? '<account>'}>), then: aws sts get-caller-identity`,
      ),
      ...skipped.map((name) => failed(name, 'not checked: no credentials', 'fix the credentials first')),
    ];
  }
  const results: CheckResult[] = [credentialsCheck(stage, identity)];
  const checks: [string, () => Promise<CheckResult | CheckResult[]>][] = [
    ['bootstrap', () => bootstrapCheck(input, identity.account)],
    ['lambda concurrency', () => concurrencyCheck(input)],
    ['API Gateway logging role', () => apiGatewayRoleCheck(input, identity.account)],
    ['secrets', () => secretsAndDatabaseChecks(input, identity.account)],
  ];
  for (const [name, check] of checks) {
    try {
      results.push(...[await check()].flat());
    } catch (err) {
      results.push(
        failed(
          name,
          `could not check: ${reason(err)}`,
          'give the deploying role read access to this (see docs/infrastructure.md)',
        ),
      );
    }
  }
  return results;
}

function credentialsCheck(stage: StageConfig, identity: { account: string; arn: string }): CheckResult {
  if (stage.env.account && stage.env.account !== identity.account) {
    return failed(
      'credentials',
      `${identity.arn} is in account ${identity.account}, but stage ${stage.name} deploys to ${stage.env.account}`,
      `export AWS_PROFILE=<a profile of account ${stage.env.account}>   (or change formfleet:stages.${stage.name}.account in cdk.json)`,
    );
  }
  return passed(
    'credentials',
    `${identity.arn} (account ${identity.account}${stage.env.account ? ', as the stage names' : ', the stage names none'})`,
  );
}

async function bootstrapCheck(input: PreflightInput, accountId: string): Promise<CheckResult> {
  const { parameter, version } = input.needs.bootstrap;
  const region = input.stage.env.region;
  const fix = `npx cdk bootstrap aws://${accountId}/${region}`;
  const found = await input.account.parameter(parameter);
  if (found === undefined) {
    return failed(
      'bootstrap',
      `${parameter} does not exist: ${accountId}/${region} is not bootstrapped`,
      fix,
    );
  }
  const have = Number(found);
  if (!Number.isInteger(have) || have < version) {
    return failed(
      'bootstrap',
      `version ${found} in ${parameter}; the templates need ${version} or later`,
      fix,
    );
  }
  return passed('bootstrap', `version ${have} (the templates need ${version} or later)`);
}

async function concurrencyCheck(input: PreflightInput): Promise<CheckResult> {
  const { stage, account } = input;
  const settings = await account.lambdaSettings();
  const quota = settings.concurrentExecutions;
  const reserved = Object.entries(stage.concurrency.reserved);
  // Reservations this stage already holds are in the account's figures; a redeploy only replaces them.
  const current = await Promise.all(
    reserved.map(([name]) => account.functionReservation(`formfleet-${stage.name}-${name}`)),
  );
  const asked = reserved.reduce((sum, [, n]) => sum + n, 0);
  const pool = settings.unreservedConcurrentExecutions + current.reduce((a, b) => a + b, 0) - asked;
  const minimumUnreserved = Math.min(CONCURRENCY.unreservedMinimum, quota);
  const tiers = Object.values(stage.concurrency.tiers).reduce((a, b) => a + b, 0);
  const workerReserved = FUNCTIONS.some(
    (f) => f.kind === 'worker' && stage.concurrency.reserved[f.name] !== undefined,
  );
  const othersNeed = CONCURRENCY.othersMinimum + (workerReserved ? 0 : tiers);
  const quotaFix =
    `aws service-quotas request-service-quota-increase --region ${stage.env.region} --service-code lambda ` +
    `--quota-code ${DEPLOY.lambdaConcurrencyQuotaCode} --desired-value ${DEPLOY.lambdaConcurrencyToRequest}`;
  const found = `quota ${quota}, ${settings.unreservedConcurrentExecutions} unreserved; the stage reserves ${asked}${
    reserved.length > 0 ? ` (${reserved.map(([n, c]) => `${n} ${c}`).join(', ')})` : ''
  }, its worker tiers run up to ${tiers} at once (${stage.worker.directoriesInFlight} directories in flight and ${stage.worker.memoryMb} MB each)`;
  if (asked > 0 && pool < minimumUnreserved) {
    return failed(
      'lambda concurrency',
      `${found}: Lambda refuses reservations that leave less than ${minimumUnreserved} unreserved (${pool} would be left)`,
      `${quotaFix}   (or drop formfleet:stages.${stage.name}.concurrency.reserved from cdk.json)`,
    );
  }
  if (pool < othersNeed) {
    const fitting = pool - CONCURRENCY.othersMinimum;
    return failed(
      'lambda concurrency',
      `${found}: ${pool} unreserved cannot hold ${workerReserved ? '' : `the tiers (${tiers}) and `}the API and schedules (${CONCURRENCY.othersMinimum})`,
      fitting >= CONCURRENCY.mappingMin * 3
        ? `${quotaFix}   (or lower formfleet:stages.${stage.name}.concurrency.tiers in cdk.json to ${fitting} in all)`
        : quotaFix,
    );
  }
  return passed('lambda concurrency', `${found}: ${pool - othersNeed} to spare`);
}

async function apiGatewayRoleCheck(input: PreflightInput, accountId: string): Promise<CheckResult> {
  const { stage } = input;
  const role = await input.account.apiGatewayCloudWatchRole();
  if (role) {
    return passed(
      'API Gateway logging role',
      stage.apiGatewayCloudWatchRole
        ? `${role} (formfleet-${stage.name}-account will set its own; set apiGatewayCloudWatchRole false to keep this one)`
        : role,
    );
  }
  if (stage.apiGatewayCloudWatchRole) {
    return passed(
      'API Gateway logging role',
      `not set yet: formfleet-${stage.name}-account sets it before the app stack`,
    );
  }
  return failed(
    'API Gateway logging role',
    `the account has no API Gateway CloudWatch Logs role in ${stage.env.region}, so the API stage's access logging would fail the deploy`,
    `set "apiGatewayCloudWatchRole": true under formfleet:stages.${stage.name} in cdk.json (formfleet-${stage.name}-account creates and sets the role), ` +
      `or set yours: aws apigateway update-account --region ${stage.env.region} --patch-operations op=replace,path=/cloudwatchRoleArn,value=arn:aws:iam::${accountId}:role/<a role API Gateway assumes, with AmazonAPIGatewayPushToCloudWatchLogs>`,
  );
}

/** The secret's name, from its complete ARN (`...:secret:<name>-AbCdEf`). */
export const secretNameOf = (arn: string) => arn.replace(/^.*:secret:/, '').replace(/-[A-Za-z0-9]{6}$/, '');

interface NamedSecret {
  readonly field:
    | 'databaseSecretArn'
    | 'databaseDirectSecretArn'
    | 'databaseCaSecretArn'
    | 'slackWebhookSecretArn';
  readonly arn: string;
  readonly example: string;
  /** Throws with what is wrong with the value. */
  readonly parse: (value: string) => string;
}

async function secretsAndDatabaseChecks(input: PreflightInput, accountId: string): Promise<CheckResult[]> {
  const { stage, account } = input;
  const elsewhere = (arn: string) => {
    const owner = /^arn:[^:]+:secretsmanager:[^:]+:(\d{12}):/.exec(arn)?.[1];
    return owner && owner !== accountId
      ? ` (the ARN names account ${owner}; the credentials are in ${accountId})`
      : '';
  };
  const url = "'postgres://user:password@host:5432/db?sslmode=verify-full'";
  const named: NamedSecret[] = [
    {
      field: 'databaseSecretArn',
      arn: stage.databaseSecretArn,
      example: url,
      parse: connectionStringFromSecret,
    },
    ...(stage.databaseDirectSecretArn
      ? [
          {
            field: 'databaseDirectSecretArn' as const,
            arn: stage.databaseDirectSecretArn,
            example: url,
            parse: connectionStringFromSecret,
          },
        ]
      : []),
    ...(stage.databaseCaSecretArn
      ? [
          {
            field: 'databaseCaSecretArn' as const,
            arn: stage.databaseCaSecretArn,
            example: 'file://<the CA certificate>.pem',
            parse: (v: string) => {
              if (certificatesIn({ pem: v, source: 'databaseCaSecretArn' }).length === 0) {
                throw new Error('holds no PEM certificate (-----BEGIN CERTIFICATE-----)');
              }
              return v;
            },
          },
        ]
      : []),
    {
      field: 'slackWebhookSecretArn',
      arn: stage.slackWebhookSecretArn,
      example: "'https://hooks.slack.com/services/T…/B…/…'",
      parse: (v: string) => {
        if (!/^https:\/\/hooks\.slack\.com\/services\/\S+$/.test(v.trim())) {
          throw new Error('is not a Slack incoming-webhook URL (https://hooks.slack.com/services/...)');
        }
        return v.trim();
      },
    },
  ];
  const results: CheckResult[] = [];
  const values = new Map<NamedSecret['field'], string>();
  for (const s of named) {
    const name = `secret ${s.field}`;
    const read = await account.secret(s.arn);
    if ('missing' in read) {
      results.push(
        read.existingArn
          ? failed(
              name,
              `${s.arn} does not exist, but ${read.existingArn} has its name`,
              `set formfleet:stages.${stage.name}.${s.field} to ${read.existingArn} in cdk.json`,
            )
          : failed(
              name,
              `${s.arn} does not exist${elsewhere(s.arn)}`,
              `aws secretsmanager create-secret --region ${stage.env.region} --name ${secretNameOf(s.arn)} --secret-string ${s.example}   (then put its ARN, with the 6-character suffix, in cdk.json)`,
            ),
      );
      continue;
    }
    try {
      values.set(s.field, s.parse(read.value));
      results.push(passed(name, `${secretNameOf(s.arn)} exists and parses`));
    } catch (err) {
      results.push(
        failed(
          name,
          `${secretNameOf(s.arn)}: ${(err as Error).message}`,
          `aws secretsmanager put-secret-value --region ${stage.env.region} --secret-id ${s.arn} --secret-string ${s.example}`,
        ),
      );
    }
  }
  const pem = values.get('databaseCaSecretArn');
  const ca: NamedCa | undefined = pem ? { pem, source: `the stage's databaseCaSecretArn` } : undefined;
  // The request path's connection, and the migrations' direct one when the stage names it apart.
  const connections: [string, NamedSecret['field']][] = [
    ['database', 'databaseSecretArn'],
    ...(stage.databaseDirectSecretArn
      ? [['database (direct, for migrations)', 'databaseDirectSecretArn'] as [string, NamedSecret['field']]]
      : []),
  ];
  for (const [name, field] of connections) {
    const connectionString = values.get(field);
    if (connectionString === undefined || (stage.databaseCaSecretArn && !ca)) {
      results.push(
        failed(
          name,
          `not checked: the secrets it needs are missing or do not parse`,
          'fix those secrets first',
        ),
      );
      continue;
    }
    const db = await input.checkDatabase(connectionString, ca);
    results.push(
      db.ok ? passed(name, db.detail) : failed(name, db.detail, db.fix ?? 'see docs/infrastructure.md'),
    );
  }
  return results;
}

/** The checklist a person reads: one line per check, the fix under each failure, a verdict at the end. */
export function renderChecklist(stage: StageConfig, results: readonly CheckResult[]): string {
  const width = Math.max(...results.map((r) => r.name.length));
  const lines = results.map((r) => {
    const head = `  ${r.ok ? '✓' : '✗'} ${r.name.padEnd(width)}  ${r.detail}`;
    return r.ok ? head : `${head}\n    ${' '.repeat(width)}  fix: ${r.fix ?? ''}`;
  });
  const failures = results.filter((r) => !r.ok).length;
  const target = `${stage.env.account ?? "(the credentials' account)"}, ${stage.env.region}`;
  return [
    `formfleet preflight: stage ${stage.name} → ${target}`,
    '',
    ...lines,
    '',
    failures === 0
      ? `all ${results.length} checks passed: npx cdk deploy --all -c stage=${stage.name}`
      : `${failures} of ${results.length} checks failed: fix them, then run npm run preflight -- -c stage=${stage.name} again`,
    '',
  ].join('\n');
}
