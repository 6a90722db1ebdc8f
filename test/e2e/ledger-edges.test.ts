/**
 * The ledger at the edges of its state machine (issue 18), each case on real parts: the HTTP API, Postgres,
 * moto's SQS and DynamoDB, the real worker handler driving Chromium, and steerable fixture sites that count
 * every post they receive. Every case ends by counting at the site, not only in our tables.
 */
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { beforeAll, describe, expect, it } from 'vitest';
import { controlledSite } from '#local/fixtures/ledger-sites';
import { type LocalSystem, startLocalSystem } from '#local/runtime';
import { seedDemoData } from '#local/seed';
import { RECOVERY } from '#policy';
import { LAB_WORKER_ENV, type LabSite, type LedgerLab, useLedgerLab } from '#test/ledger-lab';
import { eventually, motoEndpoint, uniqueName } from '#test/services';

const setup = useLedgerLab('ledger_edges');
let lab: LedgerLab;
beforeAll(() => {
  lab = setup.lab;
});

async function newJob(customerId: string, directoryIds: string[], extra: Record<string, unknown> = {}) {
  const res = await lab.api('POST', '/v1/jobs', {
    body: { customerId, directoryIds, priority: 1, ...extra },
  });
  expect(res.status, JSON.stringify(res.body)).toBe(202);
  return res.body as { id: string; skipped?: { directoryId: string; heldBy: { jobId: string } }[] };
}

async function job(id: string) {
  const res = await lab.api('GET', `/v1/jobs/${id}`);
  return res.body as {
    status: string;
    results: { directoryId: string; status: string; error: string | null }[];
  };
}

const statusOf = async (jobId: string, directoryId: string) =>
  (await job(jobId)).results.find((r) => r.directoryId === directoryId)?.status;

async function evidence(jobId: string, directoryId: string): Promise<Record<string, unknown>> {
  const { rows } = await lab.system.db.query<{ evidence: Record<string, unknown> }>(
    'SELECT evidence FROM submissions WHERE job_id = $1 AND directory_id = $2',
    [jobId, directoryId],
  );
  return rows[0]?.evidence ?? {};
}

/** Runs the job to its end: every directory submitted, and each site received the business exactly once. */
async function expectAllSentOnce(jobId: string, name: string, sites: readonly LabSite[]) {
  await lab.settle([jobId]);
  expect(await job(jobId)).toMatchObject({
    status: 'completed',
    results: sites.map(() => ({ status: 'submitted' })),
  });
  for (const site of sites) expect(lab.counts(site)[name]).toBe(1);
}

const formVisits = (site: string) =>
  lab.system.fixtures.site(site).requests.filter((r) => r.method === 'GET' && r.path === '/add').length;

describe('no blind resend', () => {
  it('a job cancelled between the click and the answer, then retried: the lookup finds it, nothing is sent again', async () => {
    const c = await lab.customer('Slow Answer Plumbing');
    const created = await newJob(c.id, ['lab-a']);
    lab.control['lab-a'].answer = 'slow';
    lab.control['lab-a'].onPost = async () => {
      expect((await lab.api('POST', `/v1/jobs/${created.id}/cancel`)).status).toBe(200);
    };

    await lab.deliver();

    expect(await statusOf(created.id, 'lab-a')).toBe('unknown');
    expect(lab.counts('lab-a')[c.profile.name]).toBe(1);
    const retried = await lab.api('POST', `/v1/jobs/${created.id}/retry`);
    expect(retried.status).toBe(202);
    expect(retried.body.plan).toEqual([
      expect.objectContaining({ directoryId: 'lab-a', from: 'unknown', to: 'unverified', action: 'verify' }),
    ]);
    expect(await statusOf(created.id, 'lab-a')).toBe('unverified');

    await lab.deliver();

    expect(await job(created.id)).toMatchObject({ status: 'completed', results: [{ status: 'submitted' }] });
    expect(await evidence(created.id, 'lab-a')).toMatchObject({ verification: 'found' });
    expect(lab.counts('lab-a')[c.profile.name]).toBe(1);
  });

  it('Chromium killed after the click: the row is looked up in the same invocation, after the relaunch', async () => {
    const c = await lab.customer('Crash After Click');
    const created = await newJob(c.id, ['lab-a', 'lab-b']);
    const launches = lab.system.worker.browser.state().launches;

    // One directory at a time, so the fault fires at lab-a's post (in lanes, whichever site posts first);
    // Chromium killed with K in flight is test/reliability/browser-crash.test.ts's and the ledger model's.
    await lab.deliver({ fault: { at: 'post', what: 'kill-browser' }, lanes: 1 });

    expect(await job(created.id)).toMatchObject({
      status: 'completed',
      results: [{ status: 'submitted' }, { status: 'submitted' }],
    });
    expect(await evidence(created.id, 'lab-a')).toMatchObject({ verification: 'found' });
    expect(lab.system.worker.browser.state().launches).toBeGreaterThan(launches);
    expect(lab.counts('lab-a')[c.profile.name]).toBe(1);
    expect(lab.counts('lab-b')[c.profile.name]).toBe(1);
  });

  it('a row left submitting by a worker that died before its post: found nowhere, so sent normally, once', async () => {
    const posted = await lab.customer('Died After Post');
    const unposted = await lab.customer('Died Before Post');
    const a = await newJob(posted.id, ['lab-a']);
    const b = await newJob(unposted.id, ['lab-a']);
    expect(await lab.zombie(a.id, 'lab-a', { posted: true })).toBe(true);
    expect(await lab.zombie(b.id, 'lab-a', { posted: false })).toBe(true);

    const report = await lab.recover();
    expect(report.requeued).toBeGreaterThanOrEqual(2);
    await lab.settle([a.id, b.id]);

    expect(await job(a.id)).toMatchObject({ status: 'completed', results: [{ status: 'submitted' }] });
    expect(await evidence(a.id, 'lab-a')).toMatchObject({ verification: 'found', interrupted: true });
    expect(await job(b.id)).toMatchObject({ status: 'completed', results: [{ status: 'submitted' }] });
    expect(await evidence(b.id, 'lab-a')).toMatchObject({ verification: 'not_found' });
    expect(lab.counts('lab-a')[posted.profile.name]).toBe(1);
    expect(lab.counts('lab-a')[unposted.profile.name]).toBe(1);
  });

  it('a site that swallows posts and never lists them: sent again once on the lookup’s word, then a person’s', async () => {
    const c = await lab.customer('Dropped Twice');
    const created = await newJob(c.id, ['lab-a']);
    lab.control['lab-a'].publish = false;
    lab.control['lab-a'].answer = 'swallow';

    await lab.deliver();

    const result = (await job(created.id)).results[0];
    expect(result?.status).toBe('unknown');
    expect(result?.error).toMatch(/submitted twice.*still says it is not there/);
    expect(await evidence(created.id, 'lab-a')).toMatchObject({ verification: 'not_found', resent: true });
    // Twice: the first post, and the one the lookup's "certainly not there" allowed; never a third.
    expect(lab.counts('lab-a')[c.profile.name]).toBe(2);
  });

  it('a directory with no lookup: a row in doubt stays unknown for a person, and a retry never resends it', async () => {
    const c = await lab.customer('No Lookup Bakery');
    const created = await newJob(c.id, ['lab-noverify']);
    lab.control['lab-noverify'].answer = 'swallow';
    await lab.deliver();
    expect(await job(created.id)).toMatchObject({ status: 'completed', results: [{ status: 'unknown' }] });

    lab.control['lab-noverify'].answer = 'normal';
    const retried = await lab.api('POST', `/v1/jobs/${created.id}/retry`);
    expect(retried.status).toBe(409);
    expect(retried.body.error.details).toEqual([
      { field: 'directories.lab-noverify', message: expect.stringMatching(/offers no lookup: a person/) },
    ]);
    expect(lab.counts('lab-noverify')[c.profile.name]).toBe(1);

    // A worker that died after its post: the next run cannot look it up either, and does not resend it.
    const d = await lab.customer('No Lookup Bistro');
    const other = await newJob(d.id, ['lab-noverify']);
    await lab.zombie(other.id, 'lab-noverify', { posted: true });
    await lab.recover();
    await lab.settle([other.id]);
    const after = await job(other.id);
    expect(after.results[0]).toMatchObject({ status: 'unknown' });
    expect(after.results[0]?.error).toMatch(/offers no way to check/);
    expect(lab.counts('lab-noverify')[d.profile.name]).toBe(1);
  });

  it('a same-name listing with another business’s phone and e-mail is unknown for a person, not submitted', async () => {
    const twin = `Twin Name ${uniqueName('t').slice(-8)}`;
    // Customer A is listed; customer B has the same name, another phone and e-mail, and its post is swallowed.
    lab.control['lab-b'].listings.push({ name: twin, phone: '+1 217 555 0001', email: 'a@twin-a.test' });
    const b = await lab.customer('ignored', {
      name: twin,
      phone: '+1 312 555 0002',
      email: 'b@twin-b.test',
    });
    const created = await newJob(b.id, ['lab-b']);
    lab.control['lab-b'].publish = false;
    lab.control['lab-b'].answer = 'swallow';

    await lab.deliver();

    const result = (await job(created.id)).results[0];
    expect(result?.status).toBe('unknown');
    expect(result?.error).toMatch(/phone.*differ/);
    expect(await evidence(created.id, 'lab-b')).toMatchObject({ verification: 'mismatch' });
    expect(lab.counts('lab-b')[twin]).toBe(1);
  });
});

describe('once per business and directory', () => {
  it('an Idempotency-Key repeat answers the first job; another body is 409; concurrent repeats create one job', async () => {
    const c = await lab.customer('Retrying Client');
    const body = { customerId: c.id, directoryIds: ['lab-a'], priority: 1 };
    const first = await lab.api('POST', '/v1/jobs', { body, idempotencyKey: 'order-1' });
    const again = await lab.api('POST', '/v1/jobs', { body, idempotencyKey: 'order-1' });
    expect(first.status).toBe(202);
    expect(again.status).toBe(202);
    expect(again.body).toEqual(first.body);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    const other = await lab.api('POST', '/v1/jobs', {
      body: { ...body, directoryIds: ['lab-b'] },
      idempotencyKey: 'order-1',
    });
    expect(other.status).toBe(409);

    const burst = await Promise.all(
      Array.from({ length: 6 }, () => lab.api('POST', '/v1/jobs', { body, idempotencyKey: 'order-2' })),
    );
    expect(new Set(burst.map((r) => r.status))).toEqual(new Set([202]));
    expect(new Set(burst.map((r) => r.body.id)).size).toBe(1);
    const { rows } = await lab.system.db.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM jobs WHERE customer_id = $1',
      [c.id],
    );
    expect(rows[0]?.n).toBe(2);
    await lab.settle([first.body.id, burst[0]?.body.id]);
    expect(lab.counts('lab-a')[c.profile.name]).toBe(1);
  });

  it('two jobs racing for one business and directory: one click, the other skipped pointing at it', async () => {
    const c = await lab.customer('Ordered Twice');
    const one = await newJob(c.id, ['lab-a']);
    const two = await newJob(c.id, ['lab-a']);
    // Both were created before either was sent: both are waiting, and both messages run at once.
    lab.control['lab-a'].answer = 'slow';
    await Promise.all([lab.deliver(), lab.deliver()]);

    const results = [(await job(one.id)).results[0], (await job(two.id)).results[0]];
    expect(results.map((r) => r?.status).sort()).toEqual(['skipped', 'submitted']);
    const [winner, loser] = results[0]?.status === 'submitted' ? [one, two] : [two, one];
    expect((await job(loser.id)).results[0]?.error).toContain(winner.id);
    expect(await evidence(loser.id, 'lab-a')).toMatchObject({ skip: 'held', heldBy: { jobId: winner.id } });
    expect(lab.counts('lab-a')[c.profile.name]).toBe(1);

    // A third order is skipped as it is created, pointing at the winner, and its job visits nothing.
    const visits = formVisits('lab-a');
    const three = await newJob(c.id, ['lab-a']);
    expect(three.skipped).toEqual([
      expect.objectContaining({
        directoryId: 'lab-a',
        heldBy: expect.objectContaining({ jobId: winner.id }),
      }),
    ]);
    await lab.settle([three.id]);
    expect((await job(three.id)).status).toBe('completed');
    expect(formVisits('lab-a')).toBe(visits);
    expect(lab.counts('lab-a')[c.profile.name]).toBe(1);
  });

  it('a deliberate resubmission is sent again once, takes the earlier row over, and is recorded on both', async () => {
    const c = await lab.customer('Profile Changed');
    const first = await newJob(c.id, ['lab-a']);
    await lab.settle([first.id]);
    const again = await newJob(c.id, ['lab-a'], {
      resubmit: { directoryIds: ['lab-a'], reason: 'the listing was removed' },
    });
    await lab.settle([again.id]);

    expect(await statusOf(again.id, 'lab-a')).toBe('submitted');
    expect(lab.counts('lab-a')[c.profile.name]).toBe(2);
    const { rows } = await lab.system.db.query<{ job_id: string; superseded_by: number | null; id: number }>(
      'SELECT id, job_id, superseded_by FROM submissions WHERE customer_id = $1 ORDER BY id',
      [c.id],
    );
    expect(rows[0]?.superseded_by).toBe(rows[1]?.id);
    const events = await lab.system.db.query<{ job_id: string; type: string }>(
      `SELECT job_id, type FROM job_events WHERE job_id = ANY($1::uuid[]) AND type IN ('superseded', 'resubmission')`,
      [[first.id, again.id]],
    );
    expect(events.rows).toEqual(
      expect.arrayContaining([
        { job_id: first.id, type: 'superseded' },
        { job_id: again.id, type: 'resubmission' },
      ]),
    );
  });
});

describe('nothing stranded', () => {
  it('a job failed by stale recovery mid-submit: retry looks the submitting row up and sends the prepared one', async () => {
    const c = await lab.customer('Worker Kept Dying');
    const created = await newJob(c.id, ['lab-a', 'lab-b']);
    await lab.zombie(created.id, 'lab-a', { posted: true });
    await lab.system.db.query('UPDATE jobs SET attempts = $2 WHERE id = $1', [
      created.id,
      RECOVERY.requeueCap,
    ]);
    expect((await lab.recover()).failed).toBeGreaterThanOrEqual(1);
    expect(await job(created.id)).toMatchObject({
      status: 'failed',
      results: [{ status: 'submitting' }, { status: 'prepared' }],
    });

    const retried = await lab.api('POST', `/v1/jobs/${created.id}/retry`);

    expect(retried.status).toBe(202);
    expect(retried.body.plan).toEqual([
      expect.objectContaining({
        directoryId: 'lab-a',
        from: 'submitting',
        to: 'unverified',
        action: 'verify',
      }),
      expect.objectContaining({ directoryId: 'lab-b', from: 'prepared', to: 'prepared', action: 'send' }),
    ]);
    await expectAllSentOnce(created.id, c.profile.name, ['lab-a', 'lab-b']);
  });

  it('a dead-lettered job with only prepared rows is retryable (and redrivable)', async () => {
    const c = await lab.customer('Dead Letter Deli');
    const created = await newJob(c.id, ['lab-b']);
    expect(await lab.deadLetter(created.id)).toBe(true);
    expect((await job(created.id)).status).toBe('failed');

    expect((await lab.api('POST', `/v1/jobs/${created.id}/retry`)).status).toBe(202);
    await lab.settle([created.id]);

    expect(await job(created.id)).toMatchObject({ status: 'completed', results: [{ status: 'submitted' }] });
    expect(lab.counts('lab-b')[c.profile.name]).toBe(1);
  });

  it('a job queued whose message is gone: health reports it, stale-jobs re-sends it, the old message is refused', async () => {
    const c = await lab.customer('Lost In The Queue');
    const created = await newJob(c.id, ['lab-b']);
    const { rows } = await lab.system.db.query<{ enqueue_token: number }>(
      'SELECT enqueue_token FROM jobs WHERE id = $1',
      [created.id],
    );
    expect(await lab.loseMessage(created.id)).toBe(true);
    // Quiet for longer than the policy allows. updated_at is kept honest by a trigger: switched off for this
    // one statement, inside the transaction (as the tables' owner: CI's role is no superuser, so
    // session_replication_role is not an option), so nothing else ever runs without it.
    await lab.system.db.transaction(async (tx) => {
      await tx.query('ALTER TABLE jobs DISABLE TRIGGER jobs_touch');
      await tx.query(`UPDATE jobs SET updated_at = now() - make_interval(secs => $2) WHERE id = $1`, [
        created.id,
        RECOVERY.queuedLostAfterSeconds + 60,
      ]);
      await tx.query('ALTER TABLE jobs ENABLE TRIGGER jobs_touch');
    });
    const health = await lab.api('GET', '/v1/health');
    expect(health.body.queuedWithoutMessage.count).toBeGreaterThanOrEqual(1);
    expect(health.body.reasons.join(' ')).toMatch(/queued for over \d+ s with no message/);

    const report = await lab.recover();

    expect(report.lostResent).toBeGreaterThanOrEqual(1);
    // The old message turns up after all (it was only delayed): the worker refuses its stale token.
    await lab.system.sqs.send(
      new SendMessageCommand({
        QueueUrl: lab.system.queues.find((q) => q.priority === 1)?.url,
        MessageBody: JSON.stringify({
          jobId: created.id,
          enqueueToken: rows[0]?.enqueue_token,
          priority: 1,
          enqueuedAt: new Date().toISOString(),
        }),
        MessageGroupId: created.id,
        MessageDeduplicationId: uniqueName('late'),
      }),
    );
    await lab.settle([created.id]);
    expect(await job(created.id)).toMatchObject({ status: 'completed', results: [{ status: 'submitted' }] });
    expect(lab.counts('lab-b')[c.profile.name]).toBe(1);
  });

  it('a directory deactivated while a job waits is skipped, undone by a retry once active; running jobs honour it', async () => {
    const c = await lab.customer('Deactivated Meanwhile');
    const waiting = await newJob(c.id, ['lab-b']);
    await lab.setActive('lab-b', false);
    await lab.deliver();
    expect(await job(waiting.id)).toMatchObject({ status: 'completed', results: [{ status: 'skipped' }] });
    const refused = await lab.api('POST', `/v1/jobs/${waiting.id}/retry`);
    expect(refused.status).toBe(409);
    expect(refused.body.error.details).toEqual([
      { field: 'directories.lab-b', message: expect.stringMatching(/inactive/) },
    ]);

    await lab.setActive('lab-b', true);
    expect((await lab.api('POST', `/v1/jobs/${waiting.id}/retry`)).status).toBe(202);
    await lab.deliver();
    expect(await job(waiting.id)).toMatchObject({ status: 'completed', results: [{ status: 'submitted' }] });
    expect(lab.counts('lab-b')[c.profile.name]).toBe(1);

    // A running job: lab-b is deactivated while it submits lab-a; it does not visit lab-b.
    const d = await lab.customer('Deactivated While Running');
    const running = await newJob(d.id, ['lab-a', 'lab-b']);
    lab.control['lab-a'].onPost = () => lab.setActive('lab-b', false);
    const visits = formVisits('lab-b');
    // One directory at a time, so lab-b starts after lab-a's post (in lanes it would be in flight already).
    await lab.deliver({ lanes: 1 });
    expect(await job(running.id)).toMatchObject({
      status: 'completed',
      results: [{ status: 'submitted' }, { status: 'skipped' }],
    });
    expect(formVisits('lab-b')).toBe(visits);
  });
});

describe('graceful stop', () => {
  it('a worker told to stop after a click finishes that directory, starts no other, and the job resumes', async () => {
    const c = await lab.customer('Stopped Mid Job');
    const created = await newJob(c.id, ['lab-a', 'lab-b']);
    lab.control['lab-a'].answer = 'slow';
    const visits = formVisits('lab-b');

    // One directory at a time: lab-b waits behind lab-a (K in flight at a stop: test/e2e/worker-lanes.test.ts).
    await lab.deliver({ fault: { at: 'post', what: 'stop-worker' }, lanes: 1 });

    expect(await job(created.id)).toMatchObject({
      status: 'queued',
      results: [{ status: 'submitted' }, { status: 'prepared' }],
    });
    expect(formVisits('lab-b')).toBe(visits);
    await expectAllSentOnce(created.id, c.profile.name, ['lab-a', 'lab-b']);
  });

  it('npm start’s stop (the local runtime): running directories finish, none starts, the next start resumes', async () => {
    // A system of its own, with pollers, as npm start runs it; its sites go when it stops.
    const a = controlledSite({ id: 'lab-a' });
    const b = controlledSite({ id: 'lab-b' });
    // The answer comes after the stop, within the step timeout and the grace.
    a.control.answer = 'slow';
    a.control.answerDelayMs = 800;
    const prefix = `${uniqueName('stop')}-`;
    const first: LocalSystem = await startLocalSystem({
      port: 0,
      databaseUrl: setup.databaseUrl,
      motoEndpoint: motoEndpoint(),
      queuePrefix: prefix,
      schedules: { timers: false },
      fixtures: [a.variant, b.variant],
      // One directory at a time, so lab-b has not started when the stop comes (lanes: worker-lanes.test.ts).
      env: { ...LAB_WORKER_ENV, WORKER_DIRECTORIES_IN_FLIGHT: '1' },
    });
    const customer = await lab.customer('Stopped By SIGTERM');
    let stopping: Promise<void> | undefined;
    a.control.onPost = () => {
      stopping = first.stop();
    };
    const res = await fetch(`${first.url}/v1/jobs`, {
      method: 'POST',
      headers: { 'x-api-key': first.keys.client, 'content-type': 'application/json' },
      body: JSON.stringify({ customerId: customer.id, directoryIds: ['lab-a', 'lab-b'], priority: 1 }),
    });
    expect(res.status).toBe(202);
    const { id } = (await res.json()) as { id: string };
    await eventually('the stop to begin', async () => (stopping ? true : undefined), {
      timeoutMs: 30_000,
      intervalMs: 50,
    });
    await stopping;

    const after = await job(id);
    expect(after.results).toEqual([
      expect.objectContaining({ directoryId: 'lab-a', status: 'submitted' }),
      expect.objectContaining({ directoryId: 'lab-b', status: 'prepared' }),
    ]);
    expect(['pending', 'queued']).toContain(after.status);
    expect(first.fixtures.site('lab-a').countsByName()[customer.profile.name]).toBe(1);
    expect(first.fixtures.site('lab-b').requests).toEqual([]);

    // The next start: its queues are the same moto's (the continuation's message waits there).
    const again = await startLocalSystem({
      port: 0,
      databaseUrl: setup.databaseUrl,
      motoEndpoint: motoEndpoint(),
      queuePrefix: prefix,
      schedules: { timers: false },
      fixtures: [controlledSite({ id: 'lab-a' }).variant, controlledSite({ id: 'lab-b' }).variant],
      env: LAB_WORKER_ENV,
    });
    try {
      await eventually(
        'the job to complete after the restart',
        async () => ((await job(id)).status === 'completed' ? true : undefined),
        { timeoutMs: 60_000, intervalMs: 200 },
      );
      expect(again.fixtures.site('lab-a').countsByName()[customer.profile.name]).toBeUndefined();
      expect(again.fixtures.site('lab-b').countsByName()[customer.profile.name]).toBe(1);
    } finally {
      await again.stop();
      // The lab's directory rows point at its own sites again.
      await seedDemoData(lab.system.db, lab.system.fixtures);
    }
  });
});
