/**
 * How the app stack connects functions to Postgres, from the real manifest and policy: every function with
 * the database need trusts the Amazon RDS CAs (NODE_EXTRA_CA_CERTS at Lambda's bundle), gets its pool size
 * by kind from policy DATABASE.poolMax, and, when the stage names them, the CA secret and (migrations only)
 * the direct-connection secret, each with GetSecretValue on exactly the secrets it names.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { FUNCTIONS, type FunctionSpec } from '#functions/manifest';
import { LAMBDA_CA_BUNDLE } from '#lib/constructs/house-function';
import { parseStageConfig } from '#lib/stage-config';
import { DATABASE } from '#policy';
import {
  DATABASE_SECRET_ARN,
  type Loose,
  logicalIdOf,
  resourcesFor,
  resourcesOf,
  type SynthesizedStage,
  synthStage,
  testStage,
} from './support.ts';

const DIRECT_ARN = 'arn:aws:secretsmanager:us-east-1:111111111111:secret:db-direct-AbCdEf';
const CA_ARN = 'arn:aws:secretsmanager:us-east-1:111111111111:secret:db-ca-AbCdEf';

const fnName = (spec: FunctionSpec) => `formfleet-test-${spec.name}`;
const withDatabase = FUNCTIONS.filter((f) => f.needs.database);

function variables(s: SynthesizedStage, spec: FunctionSpec): Record<string, Loose> {
  const id = logicalIdOf(s.appTemplate, 'AWS::Lambda::Function', { FunctionName: fnName(spec) });
  return resourcesOf(s.appTemplate)[id]?.Properties.Environment?.Variables ?? {};
}

describe('database wiring', () => {
  let plain: SynthesizedStage;
  let named: SynthesizedStage;
  beforeAll(() => {
    plain = synthStage();
    named = synthStage({
      stage: testStage({ databaseDirectSecretArn: DIRECT_ARN, databaseCaSecretArn: CA_ARN }),
    });
  });

  it('gives every database function the RDS CAs, its pool size from policy, and only its own secret', () => {
    expect(withDatabase.map((f) => f.name)).toContain('migrate');
    for (const spec of withDatabase) {
      const env = variables(plain, spec);
      expect(env, spec.name).toMatchObject({
        DATABASE_SECRET_ARN,
        NODE_EXTRA_CA_CERTS: LAMBDA_CA_BUNDLE,
        DATABASE_POOL_MAX: String(DATABASE.poolMax[spec.kind]),
      });
      expect(Number(env.DATABASE_POOL_MAX), spec.name).toBeGreaterThanOrEqual(1);
      expect(env.DATABASE_CA_SECRET_ARN, spec.name).toBeUndefined();
      expect(env.DATABASE_DIRECT_SECRET_ARN, spec.name).toBeUndefined();
      expect(resourcesFor(plain.appTemplate, fnName(spec), 'secretsmanager:GetSecretValue')).toEqual([
        DATABASE_SECRET_ARN,
      ]);
    }
    expect(LAMBDA_CA_BUNDLE).toBe('/var/runtime/ca-cert.pem');
  });

  it("adds the stage's CA to every database function, and its direct connection to migrations only", () => {
    for (const spec of withDatabase) {
      const env = variables(named, spec);
      const direct = spec.needs.database === 'direct';
      expect(env.DATABASE_CA_SECRET_ARN, spec.name).toBe(CA_ARN);
      expect(env.DATABASE_DIRECT_SECRET_ARN, spec.name).toBe(direct ? DIRECT_ARN : undefined);
      expect(
        (resourcesFor(named.appTemplate, fnName(spec), 'secretsmanager:GetSecretValue') as string[]).sort(),
        spec.name,
      ).toEqual([DATABASE_SECRET_ARN, CA_ARN, ...(direct ? [DIRECT_ARN] : [])].sort());
    }
    expect(FUNCTIONS.filter((f) => f.needs.database === 'direct').map((f) => f.name)).toEqual(['migrate']);
  });

  it('leaves functions without the database need out of it', () => {
    for (const spec of FUNCTIONS.filter((f) => !f.needs.database)) {
      const env = variables(named, spec);
      for (const name of [
        'DATABASE_SECRET_ARN',
        'DATABASE_POOL_MAX',
        'DATABASE_CA_SECRET_ARN',
        'NODE_EXTRA_CA_CERTS',
      ]) {
        expect(env[name], `${spec.name} ${name}`).toBeUndefined();
      }
    }
  });

  it('validates the optional secrets of a stage', () => {
    expect(() => testStage({ databaseDirectSecretArn: 'db-direct', databaseCaSecretArn: 42 })).toThrow(
      /databaseDirectSecretArn must be a Secrets Manager secret ARN when given[\s\S]*databaseCaSecretArn must be/,
    );
    expect(
      parseStageConfig('x', {
        prefix: 'x-',
        region: 'us-east-1',
        databaseSecretArn: DATABASE_SECRET_ARN,
        slackWebhookSecretArn: DATABASE_SECRET_ARN,
      }),
    ).not.toHaveProperty('databaseCaSecretArn');
  });
});
