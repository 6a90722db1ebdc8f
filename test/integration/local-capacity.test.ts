/**
 * Issue 16 item 4, the local half: the local runtime sizes its worker from the same stage entry CDK deploys
 * (`npm start -- --stage <name>`), or from policy: the tier pollers' maximum concurrency and K reach the
 * worker handler (built from the environment, as in Lambda) with the numbers the template has. A job then
 * runs through those pollers to the fixture site's own counter.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cdkJsonContext } from '#lib/deploy/cdk-context';
import { SIMPLE_ONLY } from '#local/fixtures/sites';
import { type LocalSystem, startLocalSystem } from '#local/runtime';
import { DEMO_CUSTOMERS } from '#local/seed';
import { PROJECT_ROOT } from '#local/services/python';
import { PRIORITY_TIERS } from '#policy';
import { eventually, motoEndpoint, type TestDatabase, testDatabase, uniqueName } from '#test/services';
import { synthesizedWorker, synthStage, testStage } from '../infra/support.ts';

const ENTRY = {
  concurrency: { tiers: { P1: 3, P2: 4 } },
  worker: { memoryMb: 3008, directoriesInFlight: 3 },
};

let t: TestDatabase;
let system: LocalSystem;

beforeAll(async () => {
  t = await testDatabase('local_capacity', { migrate: false });
  const stage = testStage(ENTRY);
  system = await startLocalSystem({
    port: 0,
    databaseUrl: t.url,
    motoEndpoint: motoEndpoint(),
    queuePrefix: `${uniqueName('capacity')}-`,
    fixtures: SIMPLE_ONLY,
    schedules: { timers: false },
    capacity: { concurrency: stage.concurrency, worker: stage.worker },
  });
});
afterAll(async () => {
  await system?.stop();
  await t?.close();
});

describe('the local runtime sized by a stage', () => {
  it('runs the pollers and the worker with the numbers the same stage entry synthesizes', async () => {
    const s = synthStage({ stage: testStage(ENTRY) });
    const deployed = synthesizedWorker(s.appTemplate, s.data);
    expect(deployed).toEqual({ memoryMb: 3008, k: '3', tiers: { P1: 3, P2: 4, P3: 2 } });

    expect(
      Object.fromEntries(PRIORITY_TIERS.map((tier, i) => [tier.name, system.pollers[i]?.maxConcurrency])),
    ).toEqual(deployed.tiers);
    // The worker handler read K from its environment, as the Lambda reads the variable CDK set.
    expect(system.env.WORKER_DIRECTORIES_IN_FLIGHT).toBe(deployed.k);
    expect(system.worker.options.directoriesInFlight).toBe(Number(deployed.k));
    expect(system.capacity.worker.memoryMb).toBe(deployed.memoryMb);

    // And the pollers so sized do the work: a job through P1 reaches the fixture site once.
    const res = await fetch(`${system.url}/v1/jobs`, {
      method: 'POST',
      headers: { 'x-api-key': system.keys.client, 'content-type': 'application/json' },
      body: JSON.stringify({ customerId: DEMO_CUSTOMERS[0]?.id, directoryIds: ['simple-form'], priority: 1 }),
    });
    expect(res.status).toBe(202);
    const { id } = (await res.json()) as { id: string };
    await eventually(
      'the job to complete',
      async () => {
        const job = (await (
          await fetch(`${system.url}/v1/jobs/${id}`, { headers: { 'x-api-key': system.keys.client } })
        ).json()) as { status: string };
        return job.status === 'completed' ? job : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 250 },
    );
    expect(system.fixtures.site('simple-form').submissions).toHaveLength(1);
  });

  it('npm start -- --stage refuses an unknown stage before starting anything, naming the stages there are', async () => {
    const state = await mkdtemp(join(tmpdir(), 'formfleet-capacity-'));
    try {
      const known = Object.keys(cdkJsonContext()['formfleet:stages'] as object);
      const refused = await promisify(execFile)(
        process.execPath,
        ['--import', 'tsx', 'bin/local.ts', '--stage', 'nope'],
        { cwd: PROJECT_ROOT, env: { ...process.env, FORMFLEET_STATE_DIR: state, PORT: '0' } },
      ).then(
        () => ({ code: 0, stderr: '' }),
        (err: { code: number; stderr: string }) => err,
      );
      expect(refused.code).toBe(2);
      expect(refused.stderr).toContain(
        `unknown stage "nope": cdk.json context formfleet:stages defines ${known.join(', ')}`,
      );
    } finally {
      await rm(state, { recursive: true, force: true });
    }
  });
});
