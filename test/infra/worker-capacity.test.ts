/**
 * Issue 16 item 4: each tier's maximum concurrency, the worker's memory and K come from the stage's cdk.json
 * entry (policy by default), are validated with the other stage fields, and reach the template: the worker's
 * MemorySize, its WORKER_DIRECTORIES_IN_FLIGHT and the tiers' event source mappings' MaximumConcurrency.
 */
import { Duration } from 'aws-cdk-lib';
import { describe, expect, it } from 'vitest';
import { FUNCTIONS } from '#functions/manifest';
import { validateFunctionSpecs } from '#lib/constructs/function-fleet';
import { defaultCapacity, directoriesInFlightFitting, parseStageConfig } from '#lib/stage-config';
import { PRIORITY_TIERS, WORKER } from '#policy';
import {
  DATABASE_SECRET_ARN,
  resourcesOf,
  SLACK_SECRET_ARN,
  synthesizedWorker,
  synthStage,
  testStage,
} from './support.ts';

const BASE = {
  prefix: 'x-',
  region: 'us-east-1',
  databaseSecretArn: DATABASE_SECRET_ARN,
  slackWebhookSecretArn: SLACK_SECRET_ARN,
};
const parse = (worker: unknown, extra: Record<string, unknown> = {}) =>
  parseStageConfig('x', { ...BASE, worker, ...extra });
const refusal = (worker: unknown): string => {
  try {
    parse(worker);
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error(`worker ${JSON.stringify(worker)} was accepted`);
};

describe('the worker capacity of a stage', () => {
  it('is policy when the stage says nothing, and the default K fits the default memory with headroom', () => {
    const stage = testStage();
    expect(stage.worker).toEqual({
      memoryMb: WORKER.memoryMb,
      directoriesInFlight: WORKER.directoriesInFlight,
    });
    expect({ concurrency: stage.concurrency, worker: stage.worker }).toEqual(defaultCapacity());
    const s = synthStage();
    expect(synthesizedWorker(s.appTemplate, s.data)).toEqual({
      memoryMb: WORKER.memoryMb,
      k: String(WORKER.directoriesInFlight),
      tiers: Object.fromEntries(PRIORITY_TIERS.map((t) => [t.name, t.maxConcurrency])),
    });
    // Issue 16: the default K keeps the (estimated) peak under 75 % of the worker's memory setting.
    const peak = WORKER.memoryBaseMb + WORKER.directoriesInFlight * WORKER.memoryPerDirectoryMb;
    expect(peak).toBeLessThanOrEqual(0.75 * WORKER.memoryMb);
    expect(WORKER.memoryPeakShare).toBeLessThanOrEqual(0.75);
  });

  it("synthesizes the stage's memory, K and tier maxima on the worker, and only on the worker", () => {
    const s = synthStage({
      stage: testStage({
        worker: { memoryMb: 4096, directoriesInFlight: 12 },
        concurrency: { tiers: { P1: 7, P3: 3 } },
      }),
    });
    expect(synthesizedWorker(s.appTemplate, s.data)).toEqual({
      memoryMb: 4096,
      k: '12',
      tiers: { P1: 7, P2: PRIORITY_TIERS[1]?.maxConcurrency, P3: 3 },
    });
    // The other Chromium functions (mail-inbound, recheck-listings, ...) keep their own memory and have no K.
    const others = Object.values(resourcesOf(s.appTemplate)).filter(
      (r) =>
        r.Type === 'AWS::Lambda::Function' &&
        FUNCTIONS.some(
          (f) => f.browser && f.kind !== 'worker' && r.Properties.FunctionName === `formfleet-test-${f.name}`,
        ),
    );
    expect(others.length).toBeGreaterThan(0);
    for (const fn of others) {
      expect(fn.Properties.MemorySize, fn.Properties.FunctionName).toBe(WORKER.memoryMb);
      expect(fn.Properties.Environment?.Variables?.WORKER_DIRECTORIES_IN_FLIGHT).toBeUndefined();
    }
  });

  it('refuses memory outside Lambda or below Chromium, K outside 1..max, and unknown fields, naming each', () => {
    const at = 'formfleet:stages.x.worker';
    expect(refusal({ memoryMb: 100 })).toContain(
      `${at}.memoryMb must be a whole number of MB from 128 to 10240 (Lambda's memory settings)`,
    );
    expect(refusal({ memoryMb: 10_241 })).toContain(`${at}.memoryMb must be a whole number of MB`);
    expect(refusal({ memoryMb: 3000.5 })).toContain(`${at}.memoryMb must be a whole number of MB`);
    expect(refusal({ memoryMb: '4GB' })).toContain(`${at}.memoryMb must be a whole number of MB`);
    expect(refusal({ memoryMb: 1024, directoriesInFlight: 1 })).toContain(
      `${at}.memoryMb (1024) is below ${WORKER.memoryMb} MB, the least Chromium is stable with`,
    );
    for (const k of [0, WORKER.directoriesInFlightMax + 1, 2.5, '6']) {
      expect(refusal({ memoryMb: WORKER.lambdaMemoryMaxMb, directoriesInFlight: k })).toContain(
        `${at}.directoriesInFlight must be a whole number from 1 to ${WORKER.directoriesInFlightMax}`,
      );
    }
    expect(refusal({ memory: 4096 })).toContain(`${at}.memory is not a setting`);
    expect(refusal(3008)).toContain(`${at} must be an object with "memoryMb" and/or "directoriesInFlight"`);
    // Every problem in one error, beside the stage's other problems.
    const all = (() => {
      try {
        parse({ memoryMb: 64, directoriesInFlight: 40 }, { concurrency: { tiers: { P1: 1 } } });
      } catch (err) {
        return (err as Error).message;
      }
      return '';
    })();
    expect(all).toMatch(
      /concurrency\.tiers\.P1 must be[\s\S]*worker\.memoryMb must be[\s\S]*worker\.directoriesInFlight/,
    );
  });

  it('refuses a K whose estimated peak exceeds its share of the memory, saying what would fit', () => {
    const k = 10;
    const peak = WORKER.memoryBaseMb + k * WORKER.memoryPerDirectoryMb;
    const least = Math.ceil(peak / WORKER.memoryPeakShare);
    expect(least).toBeGreaterThan(WORKER.memoryMb); // K = 10 does not fit the default memory
    const fitting = Math.floor(
      (WORKER.memoryMb * WORKER.memoryPeakShare - WORKER.memoryBaseMb) / WORKER.memoryPerDirectoryMb,
    );
    expect(refusal({ directoriesInFlight: k })).toContain(
      `formfleet:stages.x.worker: ${k} directories in flight need about ${peak} MB at peak (policy WORKER.memoryBaseMb + K x memoryPerDirectoryMb), more than 75 % of memoryMb ${WORKER.memoryMb}: set memoryMb to at least ${least} or directoriesInFlight to at most ${fitting}`,
    );
    // The boundary: the least memory named is accepted, a megabyte less is not.
    expect(parse({ directoriesInFlight: k, memoryMb: least }).worker).toEqual({
      memoryMb: least,
      directoriesInFlight: k,
    });
    expect(() => parse({ directoriesInFlight: k, memoryMb: least - 1 })).toThrow(/need about/);
    // The fitting K named is accepted at that memory, one more is not.
    expect(directoriesInFlightFitting(WORKER.memoryMb)).toBe(fitting);
    expect(parse({ directoriesInFlight: fitting }).worker.directoriesInFlight).toBe(fitting);
    expect(() => parse({ directoriesInFlight: fitting + 1 })).toThrow(/need about/);
    // The most K there is fits Lambda's largest memory.
    expect(
      parse({ directoriesInFlight: WORKER.directoriesInFlightMax, memoryMb: WORKER.lambdaMemoryMaxMb })
        .worker,
    ).toEqual({ memoryMb: WORKER.lambdaMemoryMaxMb, directoriesInFlight: WORKER.directoriesInFlightMax });
  });

  it("keeps the worker's memory in the stage: a manifest worker with its own memoryMb is refused", () => {
    const worker = FUNCTIONS.find((f) => f.kind === 'worker');
    expect(worker).toBeDefined();
    const specs = FUNCTIONS.map((f) => (f === worker ? { ...f, memoryMb: 3008 } : f));
    const problems = validateFunctionSpecs(
      specs,
      // validateFunctionSpecs reads only the queues' visibility from the resources.
      { queues: { visibilityTimeout: Duration.seconds(WORKER.visibilityTimeoutSeconds) } } as never,
      defaultCapacity().concurrency,
    );
    expect(problems).toContain(
      "function worker: a worker's memory is the stage's (cdk.json worker.memoryMb), not the manifest's",
    );
  });
});
