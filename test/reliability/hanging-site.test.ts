/**
 * Sites that hang: one never answers at all, one accepts the submission and then never answers it. The
 * first costs each attempt one step timeout and ends failed (timeout) with nothing sent; the second is
 * judged "maybe sent" after its timeout, looked up on the site's listing page instead of being sent
 * again, and recorded submitted exactly once. Jobs on healthy sites do not wait for either.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FixtureVariant, SiteContext } from '#local/fixtures/sites';
import { hangingSite, simpleForm } from '#local/fixtures/variants';
import { type LocalSystem, startLocalSystem } from '#local/runtime';
import { expectNothingLostNothingTwice } from '#test/invariants';
import { motoEndpoint, type TestDatabase, testDatabase, uniqueName } from '#test/services';
import { createCustomer, enqueueJob, FAST_WORKER_ENV, ledger, profile, waitForJob } from '#test/worker-jobs';

/** simple-form's page and listing, but a POST is recorded and listed and then never answered. */
const hangsAfterSubmit: FixtureVariant = {
  ...simpleForm,
  id: 'hangs-after-submit',
  name: 'Black Hole Directory',
  handle(req: IncomingMessage, res: ServerResponse, body: string, ctx: SiteContext) {
    if (req.method === 'POST') {
      const fields = Object.fromEntries(new URLSearchParams(body));
      ctx.record(fields);
      ctx.list(fields.business_name ?? '');
      ctx.hold(res);
      return;
    }
    return simpleForm.handle(req, res, body, ctx);
  },
};

const STEP_TIMEOUT_MS = 1_500;
let t: TestDatabase;
let system: LocalSystem;

beforeAll(async () => {
  t = await testDatabase('hanging_site', { migrate: false });
  system = await startLocalSystem({
    port: 0,
    databaseUrl: t.url,
    motoEndpoint: motoEndpoint(),
    queuePrefix: `${uniqueName('hang')}-`,
    fixtures: [simpleForm, hangingSite, hangsAfterSubmit],
    env: { ...FAST_WORKER_ENV, STEP_TIMEOUT_MS: String(STEP_TIMEOUT_MS) },
    schedules: { timers: false },
  });
});
afterAll(async () => {
  await system?.stop();
  await t?.close();
});

describe('hanging directory sites', () => {
  it('time out, verify instead of resubmitting, and hold up no other job', async () => {
    const stuck = await createCustomer(system, profile('Patience Plumbing'));
    const healthy = await createCustomer(system, profile('Quick Quilts'));
    const started = Date.now();
    const slowJob = await enqueueJob(
      system,
      stuck.id,
      ['hanging-site', 'hangs-after-submit', 'simple-form'],
      1,
    );
    const quickJob = await enqueueJob(system, healthy.id, ['simple-form'], 1);

    const quick = await waitForJob(system, quickJob.id, 'completed', 30_000);
    const slow = await waitForJob(system, slowJob.id, 'completed', 90_000);

    // The healthy job finished while the hanging sites still held the other one.
    expect(Date.parse(quick.finishedAt as string)).toBeLessThan(Date.parse(slow.finishedAt as string));
    const rows = Object.fromEntries((await ledger(system, slowJob.id)).map((r) => [r.directoryId, r]));
    expect(rows['hanging-site']).toMatchObject({ status: 'failed', errorClass: 'timeout' });
    expect(rows['hanging-site']?.evidence).toMatchObject({ attempts: 3 });
    expect(rows['hangs-after-submit']).toMatchObject({ status: 'submitted' });
    expect(rows['hangs-after-submit']?.evidence).toMatchObject({ verification: 'found', attempts: 1 });
    expect(rows['simple-form']).toMatchObject({ status: 'submitted' });
    expect(system.fixtures.site('hangs-after-submit').countsByName()).toEqual({ 'Patience Plumbing': 1 });
    expect(system.fixtures.site('hanging-site').submissions).toEqual([]);
    await expectNothingLostNothingTwice(system, [slowJob.id, quickJob.id]);
    // Bounded by the step timeouts: 3 attempts at the hanging site, one wait after the click.
    expect(Date.now() - started).toBeLessThan(60_000);
  });
});
