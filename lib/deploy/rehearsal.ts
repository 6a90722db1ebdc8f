/**
 * The deploy rehearsal (`npm run rehearse`): the real CDK CLI bootstraps an account and deploys a stage's
 * stacks into moto server on loopback, exactly as it would into AWS (bundled functions, cdk-nag, assets
 * published to the bootstrap bucket, CloudFormation with strong cross-stack references), the migrate trigger
 * migrating a throwaway Postgres; then what was created is read back and checked against the templates, and
 * a second synth and deploy must change nothing. Nothing here can reach a real account: the CLI and the
 * clients get moto's endpoint, dummy credentials and no AWS configuration files.
 *
 * The stage is cdk.json's (dev by default) with two substitutions: no account (moto's), and the two
 * secrets, which the rehearsal creates in moto (the Postgres URL, a Slack URL nothing calls).
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { APIGatewayClient } from '@aws-sdk/client-api-gateway';
import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { S3Client } from '@aws-sdk/client-s3';
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SNSClient } from '@aws-sdk/client-sns';
import { SQSClient } from '@aws-sdk/client-sqs';
import { App } from 'aws-cdk-lib';
import pg from 'pg';
import { PATCHED_MOTO, startMoto } from '#local/services/moto';
import { createScratchDatabase, startPostgres } from '#local/services/postgres';
import { loadMigrations } from '#shared/migrate';
import { buildStage } from '../app.ts';
import { PROJECT_ROOT } from '../constructs/house-function.ts';
import { parseStageConfig } from '../stage-config.ts';
import { cdkJsonContext } from './cdk-context.ts';
import { type Inventory, type InventoryClients, type Template, takeInventory } from './inventory.ts';
import { type CustomResourceOutcome, startRehearsalProvider } from './rehearsal-provider.ts';

export interface RehearsalOptions {
  /** A stage of cdk.json. @default 'dev' */
  readonly stageName?: string;
  readonly log: (line: string) => void;
  /** Longest one `cdk` command may take. @default 10 minutes */
  readonly commandTimeoutMs?: number;
}

export interface RehearsalReport {
  readonly stage: string;
  readonly stacks: readonly string[];
  readonly first: Inventory;
  readonly second: Inventory;
  readonly customResources: readonly CustomResourceOutcome[];
  /** sql/ files recorded in the rehearsal database's schema_migrations after the deploy. */
  readonly migrated: readonly string[];
  readonly problems: readonly string[];
  readonly seconds: number;
}

/** The environment of a process that must only ever reach moto. */
function motoOnly(endpoint: string, region: string): Record<string, string> {
  const env = Object.fromEntries(
    Object.entries(process.env).filter(
      ([k, v]) => v !== undefined && !k.startsWith('AWS_') && k !== 'CDK_DEFAULT_ACCOUNT',
    ),
  ) as Record<string, string>;
  return {
    ...env,
    AWS_ENDPOINT_URL: endpoint,
    // The CLI hands CloudFormation S3 URLs of the templates; moto finds them by host name.
    AWS_ENDPOINT_URL_S3_FOR_CLOUDFORMATION: endpoint.replace('127.0.0.1', 'localhost'),
    AWS_ACCESS_KEY_ID: 'testing',
    AWS_SECRET_ACCESS_KEY: 'testing',
    AWS_REGION: region,
    AWS_DEFAULT_REGION: region,
    AWS_CONFIG_FILE: '/dev/null',
    AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    CDK_DISABLE_VERSION_CHECK: 'true',
    CI: 'true',
  };
}

/** Runs the CDK CLI; rejects with its output on a non-zero exit, a timeout, or when `abort` settles first. */
function cdk(
  args: string[],
  env: Record<string, string>,
  timeoutMs: number,
  abort: Promise<CustomResourceOutcome>,
): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(join(PROJECT_ROOT, 'node_modules/.bin/cdk'), [...args, '--no-notices'], {
      cwd: PROJECT_ROOT,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    let output = '';
    child.stdout.on('data', (c: Buffer) => {
      output += c.toString('utf8');
    });
    child.stderr.on('data', (c: Buffer) => {
      output += c.toString('utf8');
    });
    const stop = (why: string) => {
      try {
        if (child.pid) process.kill(-child.pid, 'SIGKILL');
      } catch {}
      reject(new Error(`cdk ${args[0]}: ${why}\n${output.slice(-4_000)}`));
    };
    const timer = setTimeout(() => stop(`no answer after ${timeoutMs / 1000} s`), timeoutMs);
    abort.then((o) => stop(`custom resource ${o.logicalId} (${o.type}) failed: ${o.detail}`));
    child.on('exit', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(output);
      else stop(`exit ${code}`);
    });
  });
}

async function synthesize(
  raw: Record<string, unknown>,
  stageName: string,
  outdir: string,
): Promise<Record<string, Template>> {
  const context = { ...cdkJsonContext(), 'formfleet:stages': { [stageName]: raw } };
  const app = new App({ outdir, context });
  buildStage(app, parseStageConfig(stageName, raw));
  const assembly = app.synth();
  const templates: Record<string, Template> = {};
  for (const stack of assembly.stacksRecursively) {
    templates[stack.stackName] = JSON.parse(await readFile(stack.templateFullPath, 'utf8')) as Template;
  }
  return templates;
}

export async function rehearse(options: RehearsalOptions): Promise<RehearsalReport> {
  const started = Date.now();
  const log = options.log;
  const stageName = options.stageName ?? 'dev';
  const timeoutMs = options.commandTimeoutMs ?? 10 * 60_000;
  const stages = (cdkJsonContext()['formfleet:stages'] ?? {}) as Record<string, Record<string, unknown>>;
  const configured = stages[stageName];
  if (!configured)
    throw new Error(`unknown stage "${stageName}": cdk.json defines ${Object.keys(stages).join(', ')}`);
  const region = parseStageConfig(stageName, configured).env.region;
  const stops: (() => Promise<void>)[] = [];
  const scratch = await mkdtemp(join(tmpdir(), 'ff-rehearsal-'));
  stops.push(() => rm(scratch, { recursive: true, force: true }));
  try {
    const postgres = await startPostgres({ log });
    stops.push(() => postgres.stop());
    const database = await createScratchDatabase(
      postgres.url,
      `ff_rehearsal_${randomBytes(4).toString('hex')}`,
    );
    stops.push(() => database.drop());

    // The provider must know moto's environment, and moto the provider's URL: the provider learns it late.
    const awsEnv: Record<string, string> = {};
    const provider = await startRehearsalProvider({
      migrateFunction: `formfleet-${stageName}-migrate`,
      awsEnv,
      log,
    });
    stops.push(() => provider.stop());
    const moto = await startMoto({
      launcher: { script: PATCHED_MOTO, env: { REHEARSAL_PROVIDER_URL: provider.url } },
      log,
    });
    stops.push(() => moto.stop());
    const env = motoOnly(moto.endpoint, region);
    Object.assign(awsEnv, {
      AWS_ENDPOINT_URL: env.AWS_ENDPOINT_URL,
      AWS_REGION: region,
      AWS_ACCESS_KEY_ID: env.AWS_ACCESS_KEY_ID,
      AWS_SECRET_ACCESS_KEY: env.AWS_SECRET_ACCESS_KEY,
    });
    const config = {
      region,
      endpoint: moto.endpoint,
      credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
    };
    const secrets = new SecretsManagerClient(config);
    const secret = async (name: string, value: string) =>
      (await secrets.send(new CreateSecretCommand({ Name: name, SecretString: value }))).ARN as string;
    const raw: Record<string, unknown> = {
      ...configured,
      databaseSecretArn: await secret(`formfleet/${stageName}/database`, database.url),
      slackWebhookSecretArn: await secret(
        `formfleet/${stageName}/slack-webhook`,
        'https://hooks.slack.com/services/T0/B0/rehearsal',
      ),
    };
    delete raw.account;
    secrets.destroy();

    log(`synth of stage ${stageName} (bundling every function, cdk-nag on)`);
    const first = join(scratch, 'first');
    const templates = await synthesize(raw, stageName, first);
    const stacks = Object.keys(templates);
    log(`cdk bootstrap into moto at ${moto.endpoint}`);
    await cdk(['bootstrap', '--app', first], env, timeoutMs, provider.failure);
    log(`cdk deploy --all (${stacks.join(', ')})`);
    await cdk(
      [
        'deploy',
        '--all',
        '--app',
        first,
        '--method=direct',
        '--require-approval',
        'never',
        '--progress',
        'events',
      ],
      env,
      timeoutMs,
      provider.failure,
    );

    const clients: InventoryClients = {
      cloudformation: new CloudFormationClient(config),
      lambda: new LambdaClient(config),
      sqs: new SQSClient(config),
      sns: new SNSClient(config),
      dynamodb: new DynamoDBClient(config),
      apigateway: new APIGatewayClient(config),
      // moto has no per-bucket host names.
      s3: new S3Client({ ...config, forcePathStyle: true }),
    };
    stops.push(async () => {
      for (const c of Object.values(clients)) c.destroy();
    });
    log('inventory of what the deploy created, against the templates');
    const firstInventory = await takeInventory(clients, templates);

    log('synth again and redeploy: nothing may change');
    const second = join(scratch, 'second');
    const again = await synthesize(raw, stageName, second);
    const problems = [...firstInventory.problems];
    if (JSON.stringify(again) !== JSON.stringify(templates))
      problems.push('a second synth made different templates');
    const output = await cdk(
      ['deploy', '--all', '--app', second, '--method=direct', '--require-approval', 'never'],
      env,
      timeoutMs,
      provider.failure,
    );
    for (const stack of stacks) {
      if (!output.includes(`${stack} (no changes)`)) problems.push(`the redeploy changed ${stack}`);
    }
    const secondInventory = await takeInventory(clients, templates);
    problems.push(...secondInventory.problems.filter((p) => !firstInventory.problems.includes(p)));
    if (JSON.stringify(secondInventory.physicalIds) !== JSON.stringify(firstInventory.physicalIds)) {
      problems.push('the redeploy replaced resources (physical ids differ)');
    }

    // Counted at the far end: what the migrate trigger left in the rehearsal's Postgres.
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    const migrated = (
      await client.query<{ name: string; version: string }>(
        'SELECT version FROM schema_migrations ORDER BY version',
      )
    ).rows;
    await client.end();
    const files = await loadMigrations();
    const appliedFiles = files
      .filter((m) => migrated.some((r) => r.version === m.version))
      .map((m) => m.file);
    if (appliedFiles.length !== files.length) {
      problems.push(`the migrate trigger applied ${appliedFiles.length} of ${files.length} migrations`);
    }
    for (const o of provider.outcomes)
      if (o.outcome === 'failed') problems.push(`custom resource ${o.logicalId}: ${o.detail}`);

    return {
      stage: stageName,
      stacks,
      first: firstInventory,
      second: secondInventory,
      customResources: [...provider.outcomes],
      migrated: appliedFiles,
      problems,
      seconds: Math.round((Date.now() - started) / 1000),
    };
  } finally {
    for (const stop of stops.reverse()) await stop().catch(() => {});
  }
}

/** The report a person reads. */
export function renderRehearsal(
  report: RehearsalReport,
  notRehearsed: Readonly<Record<string, string>>,
): string {
  const sum = (m: Readonly<Record<string, number>>) => Object.values(m).reduce((a, b) => a + b, 0);
  const list = (m: Readonly<Record<string, number>>) =>
    Object.entries(m)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(
        ([type, n]) =>
          `    ${String(n).padStart(3)}  ${type}${notRehearsed[type] ? `  (${notRehearsed[type]})` : ''}`,
      )
      .join('\n');
  return [
    `formfleet rehearsal: stage ${report.stage} deployed into moto (${report.stacks.join(', ')}) in ${report.seconds} s`,
    '',
    `  read back from their services and matching the templates: ${sum(report.first.verified)}`,
    list(report.first.verified),
    `  created and listed by CloudFormation: ${sum(report.first.listed)}`,
    list(report.first.listed),
    `  custom resources answered by the rehearsal: ${report.customResources.length}`,
    ...report.customResources.map((c) => `    ${c.logicalId} (${c.type}): ${c.outcome}, ${c.detail}`),
    `  migrations applied by the deploy: ${report.migrated.length} (${report.migrated.join(', ')})`,
    `  redeploy: ${report.problems.some((p) => p.startsWith('the redeploy')) ? 'changed something' : 'no changes, same physical ids'}`,
    `  not rehearsed (moto does not model them; template tests cover them): ${sum(report.first.notRehearsed)}`,
    list(report.first.notRehearsed),
    '',
    report.problems.length === 0
      ? 'rehearsal passed'
      : `rehearsal FAILED:\n${report.problems.map((p) => `  - ${p}`).join('\n')}`,
    '',
  ].join('\n');
}
