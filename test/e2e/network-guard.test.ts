/**
 * The worker's browser cannot be turned on its host. One job over friendly directories and the hostile
 * fixture sites (local/fixtures/hostile.ts), run by the local system's worker as in Lambda: the browser
 * may reach the fixture sites' own origins only (BROWSER_ALLOWED_ORIGINS, what npm start sets), while a
 * second loopback port stands for the Lambda runtime API (127.0.0.1:9001). Counted at the far end: the
 * victim's own connection counter, a UDP socket for WebRTC, each hostile site's submissions and /leak log.
 */
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hostileOutcome, hostileSites } from '#local/fixtures/sites';
import { multiStepWizard, simpleForm } from '#local/fixtures/variants';
import { type LocalSystem, startLocalSystem } from '#local/runtime';
import { METRIC_NAMES } from '#policy';
import { motoEndpoint, type TestDatabase, testDatabase, uniqueName } from '#test/services';
import { createCustomer, enqueueJob, FAST_WORKER_ENV, ledger, profile, waitForJob } from '#test/worker-jobs';

let t: TestDatabase;
let system: LocalSystem;
let victim: Server;
let udp: UdpSocket;
let secretDir: string;
const reached = { connections: 0, requests: [] as string[], datagrams: 0 };
const SECRET = 'formfleet-secret-marker';

beforeAll(async () => {
  t = await testDatabase('network_guard', { migrate: false });
  // The runtime API's stand-in listens on every address, so 127.0.0.x, 0.0.0.0 and ::1 would all reach it.
  victim = createServer((req, res) => {
    reached.requests.push(`${req.method} ${req.url}`);
    res.end('{"runtime":"api"}');
  });
  victim.on('connection', () => {
    reached.connections += 1;
  });
  await new Promise<void>((resolve) => victim.listen(0, '::', resolve));
  const victimPort = (victim.address() as { port: number }).port;
  udp = createSocket('udp4');
  udp.on('message', () => {
    reached.datagrams += 1;
  });
  await new Promise<void>((resolve) => udp.bind(0, '127.0.0.1', resolve));
  secretDir = await mkdtemp(join(tmpdir(), 'ff-guard-'));
  const file = join(secretDir, 'secret.html');
  await writeFile(file, `<p>${SECRET}</p>`);

  system = await startLocalSystem({
    port: 0,
    databaseUrl: t.url,
    motoEndpoint: motoEndpoint(),
    queuePrefix: `${uniqueName('guard')}-`,
    fixtures: [
      simpleForm,
      multiStepWizard,
      ...hostileSites({ victim: `http://127.0.0.1:${victimPort}`, udpPort: udp.address().port, file }),
    ],
    env: { ...FAST_WORKER_ENV, STEP_TIMEOUT_MS: '3000' },
    schedules: { timers: false },
  });
});
afterAll(async () => {
  await system?.stop();
  await new Promise<void>((resolve) => {
    victim?.close(() => resolve());
    victim?.closeAllConnections();
  });
  udp?.close();
  if (secretDir) await rm(secretDir, { recursive: true, force: true });
  await t?.close();
});

describe('the worker against hostile directory sites', () => {
  it('refuses every attempt on the host, ends each hostile directory blocked, and submits the rest', async () => {
    const hostile = [...system.fixtures.sites.keys()].filter((id) => id.startsWith('hostile-'));
    expect(hostile.length).toBeGreaterThanOrEqual(12);
    const customer = await createCustomer(system, profile('Guarded Plumbing'));
    // Friendly directories before and after the hostile ones: neither is touched by them.
    const ids = ['simple-form', ...hostile, 'multi-step-wizard'];
    const job = await enqueueJob(system, customer.id, ids, 1);

    const done = await waitForJob(system, job.id, 'completed', 120_000);

    const rows = new Map((await ledger(system, job.id)).map((r) => [r.directoryId, r]));
    expect(
      Object.fromEntries(
        ids.map((id) => [id, { status: rows.get(id)?.status, errorClass: rows.get(id)?.errorClass }]),
      ),
    ).toEqual(
      Object.fromEntries(
        ids.map((id) => [
          id,
          id.startsWith('hostile-') ? hostileOutcome(id) : { status: 'submitted', errorClass: null },
        ]),
      ),
    );
    expect(done.progress.counts).toMatchObject({ submitted: 2, failed: hostile.length - 1, unknown: 1 });

    // The far end: the runtime API's stand-in and the WebRTC target received nothing at all.
    expect(reached).toEqual({ connections: 0, requests: [], datagrams: 0 });
    // No hostile site was sent the profile, and none could read anything it reached for.
    for (const id of hostile) {
      const site = system.fixtures.site(id);
      expect({ id, submissions: site.submissions.length }).toEqual({ id, submissions: 0 });
      expect({ id, leaks: site.requests.filter((r) => r.path.startsWith('/leak')) }).toEqual({
        id,
        leaks: [],
      });
    }
    expect(system.fixtures.site('simple-form').countsByName()).toEqual({ 'Guarded Plumbing': 1 });
    expect(system.fixtures.site('multi-step-wizard').countsByName()).toEqual({ 'Guarded Plumbing': 1 });

    // Each refusal is on record with what was asked for and why; none was retried.
    const evidence = (id: string) =>
      rows.get(id)?.evidence as { blocked?: { target: string; reason: string }[]; attempts?: number };
    for (const id of hostile) expect({ id, attempts: evidence(id).attempts }).toEqual({ id, attempts: 1 });
    const reasons = (id: string) =>
      (evidence(id).blocked ?? []).map((b) => `${b.target} ${b.reason}`).join('\n');
    expect(reasons('hostile-redirect')).toMatch(/\/2018-06-01\/runtime\/invocation\/next loopback/);
    expect(reasons('hostile-redirect-metadata')).toMatch(
      /169\.254\.169\.254\/latest\/meta-data\/iam\/security-credentials\/ link-local/,
    );
    expect(reasons('hostile-redirect-private')).toMatch(/http:\/\/10\.0\.0\.1\/admin private/);
    expect(rows.get('hostile-redirect-file')?.error).toMatch(/ERR_UNSAFE_REDIRECT/);
    expect(reasons('hostile-iframe')).toMatch(/loopback/);
    // A page's first refusal ends the visit at the next step: later attempts are refused too (the victim's
    // count says so) but need not be in the evidence.
    expect(reasons('hostile-fetch')).toMatch(/loopback/);
    expect(reasons('hostile-form-action')).toMatch(/runtime\/invocation\/next loopback/);
    expect(reasons('hostile-meta-refresh')).toMatch(/loopback/);
    expect(reasons('hostile-location')).toMatch(/loopback/);
    expect(reasons('hostile-file')).toMatch(/file:\/\/.*secret\.html scheme file:/);
    expect(reasons('hostile-scripted')).toMatch(/loopback/);
    expect(reasons('hostile-definition')).toMatch(/runtime\/invocation\/next loopback/);
    for (const id of hostile) expect(rows.get(id)?.error ?? '').not.toContain(SECRET);

    // Operators see it: one metric per refusal; the browser itself was never harmed or relaunched.
    expect(system.metrics.get(`worker.${METRIC_NAMES.browserRequestRefused}`)).toBeGreaterThanOrEqual(
      hostile.length,
    );
    expect(system.worker.browser.state()).toMatchObject({ launches: 1, recycles: 0 });
  });
});
