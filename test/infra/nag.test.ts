/**
 * cdk-nag v3: the AWS Solutions and Serverless packs find nothing unacknowledged, on the real stage and on
 * the test manifest's (scheduled functions, subscriber, cached route), and every acknowledgement carries
 * its reason, sits on the construct it concerns and is listed in docs/infrastructure.md.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { App, Stack, Stage, Validations } from 'aws-cdk-lib';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import type { IConstruct } from 'constructs';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildStage } from '#lib/app';
import { PROJECT_ROOT } from '#lib/constructs/house-function';
import { nagPacks } from '#lib/nag';
import { CDK_CONTEXT, type SynthesizedStage, synthStage, testStage } from './support.ts';
import { TEST_CONCURRENCY, TEST_FUNCTIONS, TEST_ROUTES } from './test-manifest.ts';

interface Acknowledgement {
  path: string;
  id: string;
  reason: string;
  node: IConstruct;
}

function acknowledgementsIn(scope: IConstruct): Acknowledgement[] {
  return scope.node.findAll().flatMap((node) =>
    node.node.metadata
      .filter((m) => m.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
      .flatMap((m) =>
        Object.entries(m.data as Record<string, string>).map(([id, reason]) => ({
          path: node.node.path,
          id: id.replace(/^annotation::/i, ''),
          reason,
          node,
        })),
      ),
  );
}

function findings(s: SynthesizedStage): string[] {
  return nagPacks().flatMap((pack) =>
    pack
      .validateScope(s.app)
      .violations.flatMap((v) =>
        v.violatingResources.map((r) => `${v.ruleName} at ${r.constructPath}: ${v.description}`),
      ),
  );
}

describe('cdk-nag', () => {
  let real: SynthesizedStage;
  let test: SynthesizedStage;
  beforeAll(() => {
    real = synthStage();
    // The test stage also owns the account's API Gateway CloudWatch role, and reserves a function.
    test = synthStage({
      functions: TEST_FUNCTIONS,
      routes: TEST_ROUTES,
      stage: testStage({ apiGatewayCloudWatchRole: true, concurrency: TEST_CONCURRENCY }),
    });
  });

  it('finds nothing unacknowledged in the AwsSolutions and Serverless packs on the real stage', () => {
    expect(nagPacks().map((p) => p.readPackName)).toEqual(['AwsSolutions', 'Serverless']);
    expect(findings(real)).toEqual([]);
  });

  it('finds nothing unacknowledged with schedules, a subscriber, a cached route and the account stack either', () => {
    expect(test.stacks.account).toBeDefined();
    expect(findings(test)).toEqual([]);
  });

  it('fails the synth of a stage on an unacknowledged finding', () => {
    const app = new App({ context: { ...CDK_CONTEXT, 'aws:cdk:bundling-stacks': [] } });
    const stacks = buildStage(app, testStage());
    new sqs.Queue(stacks.app, 'PlainQueue');

    expect(() => app.synth()).toThrow(/PlainQueue[\s\S]*AwsSolutions-SQS4/);
  });

  it('gives every acknowledgement its reason, on the construct concerned, and lists it in docs/infrastructure.md', () => {
    const acks = [...acknowledgementsIn(real.app), ...acknowledgementsIn(test.app)];
    const docs = readFileSync(join(PROJECT_ROOT, 'docs/infrastructure.md'), 'utf8');
    expect(acks.length).toBeGreaterThan(0);
    for (const ack of acks) {
      expect(ack.reason.length, `${ack.id} at ${ack.path}`).toBeGreaterThanOrEqual(40);
      expect(
        Stack.isStack(ack.node) || Stage.isStage(ack.node),
        `${ack.id} is acknowledged for a whole stack`,
      ).toBe(false);
      expect(docs, `${ack.id} is not explained in docs/infrastructure.md`).toContain(
        ack.id.replace(/\[.*$/, ''),
      );
    }
  });
});
