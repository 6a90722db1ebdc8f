/**
 * The events outbox (sql/080_webhooks.sql): every change a webhook reports writes its event, and a delivery per
 * subscribed endpoint, in the same transaction as the change, through the real stores (the worker's finish,
 * the ledger's settle, the API's cancel, the DLQ's final failure): nothing when nobody subscribed, nothing when
 * the change rolls back, only the owner key's events for a key's endpoint (all for an admin's `all` scope),
 * numbered per job in commit order, with the resource as the API returns it at that moment; and the listing
 * lifecycle's moves (recheck-listings' record) write listing.live / listing.not_found the same way.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PgAlertOutbox } from '#functions/alerts/alert-outbox';
import { PgJobQueries } from '#functions/api/job-queries';
import { jobWithResults } from '#functions/api/jobs';
import { PgSubmissionQueries } from '#functions/api/submission-queries';
import { PgListingLifecycle } from '#functions/lifecycle/listing-lifecycle';
import { EVENT_TYPES } from '#functions/webhooks/events';
import { renderEvent, type StoredEvent } from '#functions/webhooks/render';
import { type EndpointScope, PgWebhookStore } from '#functions/webhooks/store';
import { PgCustomerStore } from '#shared/customer-store';
import { type Claim, PgJobStore } from '#shared/job-store';
import { PgSubmissionLedger } from '#shared/submission-ledger';
import { PgTaskStore } from '#shared/task-store';
import { type TestDatabase, testDatabase } from '#test/services';

let t: TestDatabase;
let jobs: PgJobStore;
let ledger: PgSubmissionLedger;
let store: PgWebhookStore;

beforeAll(async () => {
  t = await testDatabase('webhook_events');
  jobs = new PgJobStore(t.db);
  ledger = new PgSubmissionLedger(t.db);
  store = new PgWebhookStore(t.db, new PgAlertOutbox(t.db));
  for (const id of ['alpha', 'beta', 'gamma']) {
    await t.db.query(
      `INSERT INTO directories (id, name, site, submission_url, category, tier, domain_authority, definition)
       VALUES ($1, $1, 'http://127.0.0.1', 'http://127.0.0.1/add', 'general', 1, 50, '{}')`,
      [id],
    );
  }
});
afterAll(async () => t?.close());

async function endpoint(owner: string, events: string[], scope: EndpointScope = 'own') {
  const e = await store.createEndpoint({
    id: randomUUID(),
    ownerKeyId: owner,
    scope,
    url: 'https://receiver.example/hooks',
    events,
    description: null,
    secretSealed: 'local:v1:x.y.z',
  });
  if (!e) throw new Error('no endpoint');
  return e;
}

async function newJob(owner: string, directories = ['alpha', 'beta']) {
  const customer = await new PgCustomerStore(t.db).create(owner, {
    name: 'Acme',
    email: 'a@acme.test',
  } as never);
  return jobs.create({
    customerId: customer.id,
    ownerKeyId: owner,
    priority: 2,
    requestedPriority: 2,
    package: null,
    directoryIds: directories,
  });
}

async function claimed(jobId: string): Promise<Claim> {
  const job = await jobs.get(jobId);
  const claim = await jobs.claim(jobId, job?.enqueueToken ?? 1, 'worker-1');
  if (!claim) throw new Error('not claimed');
  return claim;
}

interface EventRow extends StoredEvent {
  ownerKeyId: string;
  endpoints: string[];
}

async function eventsOf(jobId: string): Promise<EventRow[]> {
  const { rows } = await t.db.query<{
    id: string;
    type: string;
    owner_key_id: string;
    job_id: string;
    sequence: number;
    occurred_at: Date;
    resource: Record<string, unknown>;
    endpoints: string[];
  }>(
    `SELECT e.*, coalesce((SELECT array_agg(d.endpoint_id::text ORDER BY d.endpoint_id) FROM webhook_deliveries d
                          WHERE d.event_id = e.id), '{}') AS endpoints
     FROM webhook_events e WHERE job_id = $1 ORDER BY sequence`,
    [jobId],
  );
  return rows.map((r) => ({
    id: r.id,
    type: r.type,
    ownerKeyId: r.owner_key_id,
    jobId: r.job_id,
    sequence: r.sequence,
    occurredAt: r.occurred_at,
    resource: r.resource,
    endpoints: r.endpoints,
  }));
}

const data = (e: StoredEvent) => JSON.parse(renderEvent(e)).data;

describe('the catalogue', () => {
  it('is the same in TypeScript and in the database trigger', async () => {
    for (const spec of EVENT_TYPES) {
      for (const jobEvent of spec.jobEventTypes) {
        const { rows } = await t.db.query<{ t: string }>('SELECT webhook_event_type($1) AS t', [jobEvent]);
        expect({ jobEvent, type: rows[0]?.t }).toEqual({ jobEvent, type: spec.type });
      }
    }
    const { rows } = await t.db.query<{ t: string | null }>(
      `SELECT webhook_event_type(x) AS t FROM unnest(ARRAY['created','queued','claimed','continued','retried',
         'requeued','resend','promoted','superseded','attempt_failed','redriven']) AS x`,
    );
    expect(rows.every((r) => r.t === null)).toBe(true);
  });
});

describe('events written with the change', () => {
  it('writes nothing while nobody subscribed', async () => {
    const job = await newJob('key-nobody');
    const claim = await claimed(job.id);
    await ledger.settle(claim, 'alpha', { status: 'failed', errorClass: 'site_down', error: 'down' });
    await jobs.finish(claim, { status: 'completed', progress: {} });
    expect(await eventsOf(job.id)).toEqual([]);
  });

  it("numbers a job's events in order, with the job as GET /v1/jobs/{id} returned it at that moment", async () => {
    const mine = await endpoint('key-a', ['job.completed', 'submission.settled']);
    const job = await newJob('key-a');
    const claim = await claimed(job.id);
    expect(await ledger.begin(claim, 'alpha')).toBe(1);
    await ledger.settle(claim, 'alpha', { status: 'submitted', evidence: { confirmation: 'ok' } });
    await ledger.settle(claim, 'beta', { status: 'needs_manual', errorClass: 'captcha', error: 'a captcha' });
    await jobs.finish(claim, { status: 'completed', progress: { total: 2, done: 2 } });
    const asApi = jobWithResults((await jobs.get(job.id)) as never, await ledger.forJob(job.id));
    // The API's items without the ledger row id (which it uses to look up proofs, and does not show).
    const asSubmissions = (
      await new PgSubmissionQueries(t.db).list({ jobId: job.id, limit: 10 })
    ).submissions.map(({ id: _, ...view }) => view);

    const events = await eventsOf(job.id);
    expect(events.map((e) => [e.sequence, e.type, e.endpoints])).toEqual([
      [1, 'submission.settled', [mine.id]],
      [2, 'submission.settled', [mine.id]],
      [3, 'job.completed', [mine.id]],
    ]);
    expect(data(events[2] as EventRow)).toEqual(asApi);
    expect([data(events[0] as EventRow), data(events[1] as EventRow)]).toEqual(asSubmissions);

    // Later changes do not change what the event said: a retry moves the job on, the event stays.
    await new PgJobQueries(t.db).retry(job.id, 'key-a');
    expect(data((await eventsOf(job.id))[2] as EventRow)).toEqual(asApi);
    const body = JSON.parse(renderEvent(events[2] as EventRow));
    expect(body).toMatchObject({ id: events[2]?.id, type: 'job.completed', jobId: job.id, sequence: 3 });
    expect(body.id).toMatch(/^evt_[0-9a-f]{32}$/);
  });

  it("gives a key's endpoint only that key's events, and an admin's 'all' endpoint everyone's", async () => {
    const a = await endpoint('key-b', ['job.cancelled']);
    const other = await endpoint('key-c', ['job.cancelled']);
    const admin = await endpoint('admin-1', ['job.cancelled'], 'all');
    const job = await newJob('key-b');
    await new PgJobQueries(t.db).cancel(job.id, 'key-b');
    const [event] = await eventsOf(job.id);
    expect(event?.type).toBe('job.cancelled');
    expect(event?.endpoints).toEqual([a.id, admin.id].sort());
    expect(event?.endpoints).not.toContain(other.id);
    // The cancel's transaction set the ledger rows skipped before the event: the event shows them so.
    expect(data(event as EventRow).results.map((r: { status: string }) => r.status)).toEqual([
      'skipped',
      'skipped',
    ]);
  });

  it('writes nothing when the change is rolled back', async () => {
    await endpoint('key-d', ['job.failed']);
    const job = await newJob('key-d');
    const claim = await claimed(job.id);
    await t.db
      .transaction(async (tx) => {
        await tx.query(`UPDATE jobs SET status = 'failed' WHERE id = $1 AND fencing_token = $2`, [
          claim.jobId,
          claim.fencingToken,
        ]);
        await tx.query(`INSERT INTO job_events (job_id, type) VALUES ($1, 'failed')`, [job.id]);
        expect(
          (await tx.query('SELECT 1 FROM webhook_events WHERE job_id = $1', [job.id])).rows,
        ).toHaveLength(1);
        throw new Error('roll back');
      })
      .catch(() => {});
    expect(await eventsOf(job.id)).toEqual([]);
    // The real final failure (the DLQ's last receive) writes job.failed.
    await jobs.releaseAfterFailure(claim, { error: 'poison', errorClass: 'internal' }, { final: true });
    expect((await eventsOf(job.id)).map((e) => e.type)).toEqual(['job.failed']);
  });

  it('holds the deliveries of a disabled endpoint, and writes a listing event with its ledger row', async () => {
    const e = await endpoint('key-e', ['listing.live']);
    await t.db.query(
      `UPDATE webhook_endpoints SET status = 'disabled', disabled_reason = 'gone' WHERE id = $1`,
      [e.id],
    );
    const job = await newJob('key-e', ['gamma']);
    await t.db.query(`INSERT INTO job_events (job_id, type, detail) VALUES ($1, 'listing.live', $2)`, [
      job.id,
      { directoryId: 'gamma', url: 'https://directory.example/acme' },
    ]);
    const [event] = await eventsOf(job.id);
    expect(data(event as EventRow)).toMatchObject({
      jobId: job.id,
      directoryId: 'gamma',
      status: 'prepared',
    });
    const { rows } = await t.db.query('SELECT status FROM webhook_deliveries WHERE event_id = $1', [
      event?.id,
    ]);
    expect(rows).toEqual([{ status: 'held' }]);
  });

  it('disables an endpoint once, with one alert, when two attempts in flight both fail past the policy days', async () => {
    const e = await endpoint('key-twice', ['job.completed']);
    // Two events, so two deliveries an endpoint's two slots can attempt at the same time.
    for (let i = 0; i < 2; i++) {
      const job = await newJob('key-twice', ['alpha']);
      await jobs.finish(await claimed(job.id), { status: 'completed', progress: { total: 1, done: 1 } });
    }
    const now = new Date(Date.now() + 1_000);
    const first = await store.claimNext(e.id, now, 60);
    const second = await store.claimNext(e.id, now, 60);
    if (!first || !second) throw new Error('two claims expected');
    expect(first.deliveryId).not.toBe(second.deliveryId);
    const since = new Date(now.getTime() - 10 * 86_400_000);
    const result = { status: 500, response: '', durationMs: 5, error: 'answered 500' };
    // Each attempt decided from the endpoint as it claimed it: failing for days, so each decides to disable.
    const decision = {
      delivery: { retryAt: new Date(now.getTime() + 3_600_000) },
      pausedUntil: new Date(now.getTime() + 60_000),
      disable: 'failing' as const,
    };
    await Promise.all([
      store.recordFailed(
        { ...first, endpoint: { ...first.endpoint, failingSince: since } },
        result,
        now,
        decision,
      ),
      store.recordFailed(
        { ...second, endpoint: { ...second.endpoint, failingSince: since } },
        result,
        new Date(now.getTime() + 1),
        decision,
      ),
    ]);
    expect(await store.getEndpoint(e.id)).toMatchObject({ status: 'disabled', disabledReason: 'failing' });
    const alerts = await t.db.query(
      `SELECT id FROM alert_outbox WHERE kind = 'webhook_disabled' AND alert::text LIKE '%' || $1 || '%'`,
      [e.id],
    );
    expect(alerts.rows).toHaveLength(1);
    const deliveries = await t.db.query(`SELECT status FROM webhook_deliveries WHERE endpoint_id = $1`, [
      e.id,
    ]);
    expect(deliveries.rows.map((r) => r.status)).toEqual(['held', 'held']);
  });

  it('writes task.created when a row waits for a person and task.resolved when a person resolves it, each with the row', async () => {
    const e = await endpoint('key-t', ['task.created', 'task.resolved']);
    const job = await newJob('key-t', ['gamma']);
    await t.db.query(
      `UPDATE submissions SET status = 'needs_manual', error_class = 'captcha', error = 'a captcha before the submit',
              finished_at = now()
       WHERE job_id = $1 AND directory_id = 'gamma'`,
      [job.id],
    );
    const [created] = await eventsOf(job.id);
    expect(created).toMatchObject({ type: 'task.created', endpoints: [e.id] });
    expect(data(created as EventRow)).toMatchObject({ directoryId: 'gamma', status: 'needs_manual' });

    const tasks = new PgTaskStore(t.db);
    const { rows } = await t.db.query<{ id: string }>('SELECT id FROM tasks WHERE job_id = $1', [job.id]);
    const resolved = await tasks.resolve((rows[0] as { id: string }).id, { outcome: 'failed', by: 'pat' });
    expect(resolved.kind).toBe('ok');
    const after = await eventsOf(job.id);
    expect(after.map((x) => x.type)).toEqual(['task.created', 'task.resolved']);
    expect(after.map((x) => x.sequence)).toEqual([1, 2]);
    expect(data(after[1] as EventRow)).toMatchObject({ directoryId: 'gamma', status: 'failed' });
  });

  it('writes listing.live and listing.not_found with the lifecycle move that makes them, as GET /v1/submissions shows the row', async () => {
    const live = await endpoint('key-f', ['listing.live']);
    const both = await endpoint('key-f', ['listing.live', 'listing.not_found']);
    const job = await newJob('key-f', ['alpha', 'beta']);
    const claim = await claimed(job.id);
    for (const dir of ['alpha', 'beta']) {
      await ledger.begin(claim, dir);
      await ledger.settle(claim, dir, { status: 'submitted', evidence: { confirmation: 'ok' } });
    }
    await jobs.finish(claim, { status: 'completed', progress: { total: 2, done: 2 } });
    const lifecycle = new PgListingLifecycle(t.db, { agesSeconds: [60, 3600] });
    expect(await lifecycle.enter(job.id, 'alpha')).toBe(true);
    expect(await lifecycle.enter(job.id, 'beta')).toBe(true);
    // Entering (under_review) is no webhook event.
    expect(await eventsOf(job.id)).toEqual([]);

    const due = (await lifecycle.claimDue(new Date(Date.now() + 86_400_000), 1000, 60)).filter(
      (r) => r.jobId === job.id,
    );
    const row = (dir: string) => due.find((r) => r.directoryId === dir) as (typeof due)[number];
    expect(due).toHaveLength(2);
    const checkedAt = new Date();
    const found = {
      to: 'live' as const,
      nextCheckAt: null,
      inconclusiveChecks: 0,
      listingUrl: 'https://directory.example/acme',
      reason: 'found on the directory',
    };
    // A move rolled back writes no event.
    await t.db
      .transaction(async (tx) => {
        expect(
          await new PgListingLifecycle(tx, { agesSeconds: [60] }).record(row('alpha'), found, checkedAt),
        ).toBe(true);
        throw new Error('roll back');
      })
      .catch(() => {});
    expect(await eventsOf(job.id)).toEqual([]);

    expect(await lifecycle.record(row('alpha'), found, checkedAt)).toBe(true);
    expect(
      await lifecycle.record(
        row('beta'),
        { ...found, to: 'not_found', listingUrl: null, reason: 'not listed after every recheck' },
        checkedAt,
      ),
    ).toBe(true);

    const asApi = (await new PgSubmissionQueries(t.db).list({ jobId: job.id, limit: 10 })).submissions.map(
      ({ id: _, ...view }) => view,
    );
    const events = await eventsOf(job.id);
    expect(events.map((e) => [e.sequence, e.type, e.endpoints])).toEqual([
      [1, 'listing.live', [live.id, both.id].sort()],
      [2, 'listing.not_found', [both.id]],
    ]);
    expect(events.map((e) => data(e))).toEqual(asApi);
    expect(data(events[0] as EventRow)).toMatchObject({
      directoryId: 'alpha',
      lifecycle: 'live',
      listingUrl: 'https://directory.example/acme',
      lifecycleReason: 'found on the directory',
    });
    expect(data(events[1] as EventRow)).toMatchObject({ directoryId: 'beta', lifecycle: 'not_found' });
  });
});
