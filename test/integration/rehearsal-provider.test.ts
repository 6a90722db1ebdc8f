/**
 * The rehearsal's custom-resource provider: the patched moto sends it a custom resource's event, and it
 * answers as the provider would. For the migrate trigger it runs the project's migrate handler with the
 * deployed function's environment (its secret, in moto, names a real Postgres), so the stack completes
 * only once the database is migrated; a custom resource it cannot play fails the rehearsal, never answered
 * blindly. (`npm run rehearse` does the same with the real stacks.)
 */
import { randomBytes } from 'node:crypto';
import {
  CloudFormationClient,
  CreateStackCommand,
  DescribeStacksCommand,
} from '@aws-sdk/client-cloudformation';
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RehearsalProvider, startRehearsalProvider } from '#lib/deploy/rehearsal-provider';
import { type MotoServer, motoEnv, PATCHED_MOTO, startMoto } from '#local/services/moto';
import { awsClientConfig } from '#shared/aws';
import { loadMigrations } from '#shared/migrate';
import { eventually, type TestDatabase, testDatabase } from '#test/services';

const suffix = randomBytes(3).toString('hex');
const FUNCTION = `formfleet-rp${suffix}-migrate`;
let moto: MotoServer;
let provider: RehearsalProvider;
let t: TestDatabase;
let cloudformation: CloudFormationClient;
const awsEnv: Record<string, string> = {};

/** A stack with the migrate function (its secret in the environment), its version, and a trigger of it. */
const triggerStack = (secretArn: string) => ({
  Resources: {
    Role: {
      Type: 'AWS::IAM::Role',
      Properties: {
        AssumeRolePolicyDocument: {
          Statement: [
            { Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' },
          ],
        },
      },
    },
    Migrate: {
      Type: 'AWS::Lambda::Function',
      Properties: {
        FunctionName: FUNCTION,
        Runtime: 'nodejs22.x',
        Handler: 'index.handler',
        Role: { 'Fn::GetAtt': ['Role', 'Arn'] },
        Code: { ZipFile: 'exports.handler = async () => ({})' },
        Environment: { Variables: { DATABASE_SECRET_ARN: secretArn } },
      },
    },
    Version: { Type: 'AWS::Lambda::Version', Properties: { FunctionName: { Ref: 'Migrate' } } },
    Trigger: {
      Type: 'Custom::Trigger',
      Properties: {
        ServiceToken: 'arn:aws:lambda:us-east-1:123456789012:function:trigger-provider',
        HandlerArn: { Ref: 'Version' },
      },
    },
  },
});

beforeAll(async () => {
  t = await testDatabase('rehearsal_provider', { migrate: false });
  provider = await startRehearsalProvider({ migrateFunction: FUNCTION, awsEnv, log: () => {} });
  moto = await startMoto({
    launcher: { script: PATCHED_MOTO, env: { REHEARSAL_PROVIDER_URL: provider.url } },
  });
  Object.assign(awsEnv, motoEnv(moto.endpoint));
  cloudformation = new CloudFormationClient(awsClientConfig(awsEnv));
}, 120_000);
afterAll(async () => {
  cloudformation?.destroy();
  await moto?.stop();
  await provider?.stop();
  await t?.close();
});

const statusOf = async (name: string) =>
  (await cloudformation.send(new DescribeStacksCommand({ StackName: name }))).Stacks?.[0]?.StackStatus;

describe('the rehearsal provider', () => {
  it('answers the migrate trigger by migrating the database its deployed secret names', async () => {
    const secrets = new SecretsManagerClient(awsClientConfig(awsEnv));
    const { ARN } = await secrets.send(
      new CreateSecretCommand({ Name: `rp-${suffix}/database`, SecretString: t.url }),
    );
    secrets.destroy();

    await cloudformation.send(
      new CreateStackCommand({
        StackName: `rp-${suffix}`,
        TemplateBody: JSON.stringify(triggerStack(ARN as string)),
      }),
    );

    await eventually('the stack complete', async () =>
      (await statusOf(`rp-${suffix}`)) === 'CREATE_COMPLETE' ? true : undefined,
    );
    const files = (await loadMigrations()).map((m) => m.file);
    expect(provider.outcomes).toContainEqual({
      logicalId: 'Trigger',
      type: 'Custom::Trigger',
      outcome: 'ran',
      detail: `${FUNCTION} applied ${files.length} migration(s) (0 already applied), its secret read from the deployed environment`,
    });
    // Counted in the database the secret names, not in the provider's report.
    const { rows } = await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM schema_migrations');
    expect(rows[0]?.n).toBe(files.length);
  });

  it('fails a custom resource it cannot play, and leaves its stack unfinished', async () => {
    await cloudformation.send(
      new CreateStackCommand({
        StackName: `rp-unknown-${suffix}`,
        TemplateBody: JSON.stringify({
          Resources: {
            Mystery: {
              Type: 'Custom::Mystery',
              Properties: { ServiceToken: 'arn:aws:lambda:us-east-1:1:function:x' },
            },
          },
        }),
      }),
    );

    const failure = await provider.failure;

    expect(failure).toEqual({
      logicalId: 'Mystery',
      type: 'Custom::Mystery',
      outcome: 'failed',
      detail: 'the rehearsal cannot play the provider of Custom::Mystery',
    });
    expect(await statusOf(`rp-unknown-${suffix}`)).toBe('CREATE_IN_PROGRESS');
  });
});
