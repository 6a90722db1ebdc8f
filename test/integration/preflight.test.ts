/**
 * `npm run preflight` against moto (the rehearsal's patched moto, which adds Lambda's GetAccountSettings)
 * standing in for two AWS accounts: one ready for the stage, where every check passes, and one where every
 * check fails and names its fix. The account is read with the real SDK calls; the database is a real
 * Postgres (reachable, migrations pending) or a closed port.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { APIGatewayClient, UpdateAccountCommand } from '@aws-sdk/client-api-gateway';
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '#lib/constructs/house-function';
import { type AwsAccountOptions, awsAccount } from '#lib/deploy/aws-account';
import { checkDatabase } from '#lib/deploy/database-check';
import { type DeploymentNeeds, deploymentNeeds } from '#lib/deploy/deployment';
import { type CheckResult, preflight, renderChecklist } from '#lib/deploy/preflight';
import { parseStageConfig, type StageConfig } from '#lib/stage-config';
import { type MotoServer, PATCHED_MOTO, startMoto } from '#local/services/moto';
import { WORKER } from '#policy';
import { loadMigrations } from '#shared/migrate';
import { type TestDatabase, testDatabase } from '#test/services';
import { CDK_CONTEXT } from '../infra/support.ts';

const run = promisify(execFile);
const REGION = 'us-east-1';
const GOOD = '123456789012'; // moto's default account
const BAD = '111111111111';

let moto: MotoServer;
let t: TestDatabase;
let needs: DeploymentNeeds;
let bad: AwsAccountOptions;
const good = (): AwsAccountOptions => ({
  endpoint: moto.endpoint,
  credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
});

/** Secrets Manager, SSM and API Gateway of one account, to set an account up as a person would. */
function setUp(options: AwsAccountOptions) {
  const config = { region: REGION, ...options };
  const secrets = new SecretsManagerClient(config);
  return {
    secret: async (name: string, value: string) =>
      (await secrets.send(new CreateSecretCommand({ Name: name, SecretString: value }))).ARN as string,
    bootstrapped: (version: string) =>
      new SSMClient(config).send(
        new PutParameterCommand({ Name: needs.bootstrap.parameter, Value: version, Type: 'String' }),
      ),
    cloudWatchRole: (arn: string) =>
      new APIGatewayClient(config).send(
        new UpdateAccountCommand({
          patchOperations: [{ op: 'replace', path: '/cloudwatchRoleArn', value: arn }],
        }),
      ),
  };
}

const stageFor = (
  account: string,
  secrets: { db: string; slack: string },
  extra: Record<string, unknown> = {},
) =>
  parseStageConfig('pre', {
    prefix: 'pre-',
    region: REGION,
    account,
    databaseSecretArn: secrets.db,
    slackWebhookSecretArn: secrets.slack,
    concurrency: { reserved: { worker: 17 } },
    ...extra,
  });

const byName = (results: readonly CheckResult[]) => Object.fromEntries(results.map((r) => [r.name, r]));

beforeAll(async () => {
  [moto, t] = await Promise.all([
    startMoto({
      launcher: { script: PATCHED_MOTO, env: { REHEARSAL_LAMBDA_QUOTAS: JSON.stringify({ [BAD]: 10 }) } },
    }),
    testDatabase('preflight', { migrate: false }),
  ]);
  const base = parseStageConfig('pre', {
    prefix: 'pre-',
    region: REGION,
    databaseSecretArn: `arn:aws:secretsmanager:${REGION}:${GOOD}:secret:x-AbCdEf`,
    slackWebhookSecretArn: `arn:aws:secretsmanager:${REGION}:${GOOD}:secret:y-AbCdEf`,
  });
  needs = deploymentNeeds(base, CDK_CONTEXT);
  // The second account, reached as a person would: credentials of a role assumed in it.
  const sts = new STSClient({ region: REGION, ...good() });
  const assumed = await sts.send(
    new AssumeRoleCommand({ RoleArn: `arn:aws:iam::${BAD}:role/deployer`, RoleSessionName: 'preflight' }),
  );
  const c = assumed.Credentials;
  bad = {
    endpoint: moto.endpoint,
    credentials: {
      accessKeyId: c?.AccessKeyId as string,
      secretAccessKey: c?.SecretAccessKey as string,
      sessionToken: c?.SessionToken as string,
    },
  };
}, 120_000);
afterAll(async () => {
  await moto?.stop();
  await t?.close();
});

async function check(stage: StageConfig, options: AwsAccountOptions) {
  const account = awsAccount(REGION, options);
  try {
    return await preflight({ stage, needs, account, checkDatabase });
  } finally {
    account.destroy();
  }
}

describe('preflight', () => {
  it('reads what the templates need of the account from the synthesized stacks', () => {
    expect(needs.stacks).toEqual(['formfleet-pre-data', 'formfleet-pre-app']);
    expect(needs.bootstrap.parameter).toBe('/cdk-bootstrap/hnb659fds/version');
    expect(needs.bootstrap.version).toBeGreaterThanOrEqual(6);
  });

  it('passes every check on an account ready for the stage, and lists the migrations the deploy will apply', async () => {
    const account = setUp(good());
    await account.bootstrapped('30');
    await account.cloudWatchRole(`arn:aws:iam::${GOOD}:role/api-gateway-logs`);
    const stage = stageFor(
      GOOD,
      {
        db: await account.secret('pre/database', t.url),
        slack: await account.secret('pre/slack', 'https://hooks.slack.com/services/T000/B000/XXXX'),
      },
      // The migrations' own connection, as a stage behind a transaction pooler names it.
      { databaseDirectSecretArn: await account.secret('pre/database-direct', t.url) },
    );

    const results = await check(stage, good());

    expect(results.filter((r) => !r.ok)).toEqual([]);
    expect(results.map((r) => r.name)).toEqual([
      'credentials',
      'bootstrap',
      'lambda concurrency',
      'API Gateway logging role',
      'secret databaseSecretArn',
      'secret databaseDirectSecretArn',
      'secret slackWebhookSecretArn',
      'database',
      'database (direct, for migrations)',
    ]);
    const r = byName(results);
    expect(r.credentials?.detail).toContain(`account ${GOOD}, as the stage names`);
    expect(r.bootstrap?.detail).toMatch(/version 30/);
    expect(r['lambda concurrency']?.detail).toMatch(
      /quota 1000, 1000 unreserved; the stage reserves 17 \(worker 17\)/,
    );
    // The worker's sizing the tiers are checked for: the stage's K and memory (policy's here).
    expect(r['lambda concurrency']?.detail).toContain(
      `its worker tiers run up to 17 at once (${WORKER.directoriesInFlight} directories in flight and ${WORKER.memoryMb} MB each)`,
    );
    const files = (await loadMigrations()).map((m) => m.file);
    for (const name of ['database', 'database (direct, for migrations)']) {
      expect(r[name]?.detail).toContain(
        `${files.length} migration(s) the deploy will apply: ${files.join(', ')}`,
      );
    }
    // Secrets stay secret: the connection string (its password) is never printed.
    const text = renderChecklist(stage, results);
    expect(text).toContain(`all ${results.length} checks passed: npx cdk deploy --all -c stage=pre`);
    expect(text).not.toContain(new URL(t.url).password || 'no-password');
  });

  it('fails each check on an account that is not ready, with the command that fixes it', async () => {
    const account = setUp(bad);
    await account.bootstrapped('5');
    const stage = stageFor('999999999999', {
      db: await account.secret('pre/database', 'postgres://app:pw@127.0.0.1:1/formfleet'),
      slack: await account.secret('pre/slack', 'not a webhook'),
    });

    const results = await check(stage, bad);
    const r = byName(results);

    expect(results.filter((x) => !x.ok).map((x) => x.name)).toEqual([
      'credentials',
      'bootstrap',
      'lambda concurrency',
      'API Gateway logging role',
      'secret slackWebhookSecretArn',
      'database',
    ]);
    expect(r.credentials).toMatchObject({
      detail: expect.stringContaining(`is in account ${BAD}, but stage pre deploys to 999999999999`),
      fix: expect.stringContaining('export AWS_PROFILE=<a profile of account 999999999999>'),
    });
    expect(r.bootstrap).toMatchObject({
      detail: `version 5 in ${needs.bootstrap.parameter}; the templates need ${needs.bootstrap.version} or later`,
      fix: `npx cdk bootstrap aws://${BAD}/${REGION}`,
    });
    expect(r['lambda concurrency']).toMatchObject({
      detail: expect.stringContaining('Lambda refuses reservations that leave less than 10 unreserved'),
      fix: expect.stringMatching(
        /^aws service-quotas request-service-quota-increase --region us-east-1 --service-code lambda --quota-code L-B99A9384 --desired-value 1000/,
      ),
    });
    expect(r['API Gateway logging role']?.fix).toMatch(
      /"apiGatewayCloudWatchRole": true[\s\S]*aws apigateway update-account --region us-east-1 --patch-operations op=replace,path=\/cloudwatchRoleArn,value=arn:aws:iam::111111111111:role\//,
    );
    expect(r['secret slackWebhookSecretArn']?.fix).toMatch(
      /^aws secretsmanager put-secret-value --region us-east-1 --secret-id arn:/,
    );
    expect(r.database).toMatchObject({
      detail: expect.stringContaining('cannot connect to Postgres at 127.0.0.1:1/formfleet'),
    });
    expect(renderChecklist(stage, results)).toMatch(
      /6 of 7 checks failed: fix them, then run npm run preflight -- -c stage=pre again/,
    );
  });

  it('names the fix for each missing or wrong secret: the real ARN when only the suffix is wrong, create-secret, put-secret-value', async () => {
    const account = setUp(good());
    const real = await account.secret('pre/renamed', t.url);
    const stage = stageFor(
      GOOD,
      {
        db: real.replace(/-[A-Za-z0-9]{6}$/, '-ZZZZZZ'),
        slack: `arn:aws:secretsmanager:${REGION}:${BAD}:secret:pre/nowhere-AbCdEf`,
      },
      { databaseCaSecretArn: await account.secret('pre/database-ca', 'not a certificate') },
    );

    const r = byName(await check(stage, good()));

    expect(r['secret databaseSecretArn']?.fix).toBe(
      `set formfleet:stages.pre.databaseSecretArn to ${real} in cdk.json`,
    );
    expect(r['secret slackWebhookSecretArn']).toMatchObject({
      detail: expect.stringContaining(`(the ARN names account ${BAD}; the credentials are in ${GOOD})`),
      fix: expect.stringMatching(
        /^aws secretsmanager create-secret --region us-east-1 --name pre\/nowhere --secret-string/,
      ),
    });
    expect(r['secret databaseCaSecretArn']).toMatchObject({
      detail: expect.stringContaining('holds no PEM certificate'),
      fix: expect.stringMatching(/^aws secretsmanager put-secret-value .* --secret-string file:\/\//),
    });
    expect(r.database?.detail).toBe('not checked: the secrets it needs are missing or do not parse');
  });

  it('fails a stage whose tiers cannot fit beside the API, and one with no credentials at all', async () => {
    const small = awsAccount(REGION, bad);
    try {
      const stage = stageFor(
        BAD,
        {
          db: `arn:aws:secretsmanager:us-east-1:${GOOD}:secret:a-AbCdEf`,
          slack: `arn:aws:secretsmanager:us-east-1:${GOOD}:secret:b-AbCdEf`,
        },
        {
          concurrency: {},
        },
      );
      const [, , concurrency] = await preflight({ stage, needs, account: small, checkDatabase });
      expect(concurrency).toMatchObject({
        name: 'lambda concurrency',
        ok: false,
        detail: expect.stringContaining(
          '10 unreserved cannot hold the tiers (17) and the API and schedules (20)',
        ),
      });
    } finally {
      small.destroy();
    }
    const nobody = awsAccount(REGION, {
      endpoint: 'http://127.0.0.1:1',
      credentials: { accessKeyId: 'x', secretAccessKey: 'y' },
    });
    try {
      const results = await preflight({
        stage: stageFor(GOOD, {
          db: `arn:aws:secretsmanager:us-east-1:${GOOD}:secret:a-AbCdEf`,
          slack: `arn:aws:secretsmanager:us-east-1:${GOOD}:secret:b-AbCdEf`,
        }),
        needs,
        account: nobody,
        checkDatabase,
      });
      expect(results[0]).toMatchObject({
        name: 'credentials',
        ok: false,
        fix: expect.stringContaining('aws sts get-caller-identity'),
      });
      expect(results.slice(1).every((x) => !x.ok && x.detail === 'not checked: no credentials')).toBe(true);
    } finally {
      nobody.destroy();
    }
  });

  it('is `npm run preflight -- -c stage=<name>`: a checklist, exit 1 on a failure, exit 2 on a wrong stage', async () => {
    const env = {
      ...process.env,
      AWS_ENDPOINT_URL: moto.endpoint,
      AWS_ACCESS_KEY_ID: 'testing',
      AWS_SECRET_ACCESS_KEY: 'testing',
      AWS_REGION: REGION,
    };
    const tsx = `${PROJECT_ROOT}node_modules/.bin/tsx`;
    const failing = await run(tsx, ['bin/preflight.ts', '-c', 'stage=dev'], { cwd: PROJECT_ROOT, env }).catch(
      (err: { code: number; stdout: string }) => err,
    );
    expect((failing as { code?: number }).code).toBe(1);
    expect(failing.stdout).toMatch(
      /formfleet preflight: stage dev[\s\S]*✗ secret databaseSecretArn[\s\S]*fix: aws secretsmanager create-secret/,
    );

    const wrong = await run(tsx, ['bin/preflight.ts', '-c', 'stage=nope'], { cwd: PROJECT_ROOT, env }).catch(
      (err: { code: number; stderr: string }) => err,
    );
    expect((wrong as { code?: number }).code).toBe(2);
    expect((wrong as { stderr: string }).stderr).toMatch(
      /unknown stage "nope": cdk.json context formfleet:stages defines dev, prod/,
    );
  }, 60_000);
});
