/**
 * Webhook delivery under faults (issue 15): the real dispatcher, delivery queue (moto FIFO) and delivery
 * handler, events written by the database triggers from real job events, receivers on loopback that verify
 * every post with the Standard Webhooks reference library, and a clock the test moves.
 *
 * - A receiver down for a simulated hour, then back: every event arrives, and a receiver deduplicating by
 *   webhook-id processes each once (even the one it processed before failing to answer).
 * - A receiver that hangs: its attempts time out and are retried later; another endpoint's deliveries go on
 *   meanwhile, unhindered.
 * - A burst of 10,000 events drains with bounded concurrency: at most WEBHOOKS.perEndpointConcurrency posts
 *   in flight per endpoint and the event source mapping's maximum in all; nothing lost, nothing twice.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { CONSUMED_QUEUES } from '#functions/manifest';
import { WEBHOOKS } from '#policy';
import { startWebhookEngine, type WebhookEngine } from '#test/webhook-engine';
import { startTestReceiver, type TestReceiver } from '#test/webhook-receiver';

let engine: WebhookEngine | undefined;
let receiver: TestReceiver | undefined;
afterEach(async () => {
  await receiver?.stop();
  await engine?.stop();
  engine = undefined;
  receiver = undefined;
});

/** Moves the engine's clock to when the endpoint may be tried again (its pause, or its next due delivery). */
async function skipToNextAttempt(e: WebhookEngine, endpointId: string): Promise<void> {
  const { rows } = await e.t.db.query<{ at: Date | null }>(
    `SELECT greatest(
       (SELECT paused_until FROM webhook_endpoints WHERE id = $1),
       (SELECT min(next_attempt_at) FROM webhook_deliveries WHERE endpoint_id = $1 AND status = 'pending')) AS at`,
    [endpointId],
  );
  const at = rows[0]?.at;
  if (at) e.clock.advanceTo(new Date(at.getTime() + 1));
}

describe('webhook delivery under faults', () => {
  it('loses nothing while a receiver is down for an hour, and a deduplicating receiver processes each event once', async () => {
    engine = await startWebhookEngine('hook_down');
    receiver = await startTestReceiver();
    const start = engine.clock.now().getTime();
    const hour = 3_600_000;
    const { id, secret } = await engine.endpoint('key-down', `${receiver.url}/down`);
    receiver.setSecret(secret);
    const jobs = await engine.completeJobs('key-down', 20);
    let crashedOnce = false;
    receiver.behave(() => {
      const simulated = (engine as WebhookEngine).clock.now().getTime() - start;
      if (simulated < hour) return { status: 503 };
      // Back: the first event it takes it processes, then fails to answer (a crash after committing).
      if (!crashedOnce) {
        crashedOnce = true;
        return { status: 500, processed: true };
      }
      return { status: 200 };
    });

    const attemptsWhileDown: number[] = [];
    for (let round = 0; round < 40; round++) {
      await engine.round();
      const s = await engine.statuses();
      if (s.delivered === jobs.length) break;
      if (engine.clock.now().getTime() - start < hour) attemptsWhileDown.push(receiver.posts.length);
      await skipToNextAttempt(engine, id);
    }

    // Down for the hour: a probe at each step of the schedule, not a flood (one post per pause).
    const refused = await engine.t.db.query('SELECT 1 FROM webhook_attempts WHERE status_code = 503');
    expect(refused.rows.length).toBeGreaterThanOrEqual(3);
    expect(attemptsWhileDown.at(-1)).toBe(refused.rows.length);
    expect(attemptsWhileDown.at(-1)).toBeLessThanOrEqual(WEBHOOKS.retryScheduleSeconds.length);
    expect(await engine.statuses()).toEqual({ delivered: jobs.length });
    const eventIds = (await engine.t.db.query<{ id: string }>('SELECT id FROM webhook_events')).rows.map(
      (r) => r.id,
    );
    expect([...receiver.processed.keys()].sort()).toEqual(eventIds.sort());
    // Every post verified; the crashed-after-processing one came again, and was recognised by its webhook-id.
    expect(receiver.posts.every((p) => p.verified)).toBe(true);
    expect(crashedOnce).toBe(true);
    expect(receiver.duplicates).toBe(1);
    const jobIds = new Set([...receiver.processed.values()].map((p) => p.event?.jobId));
    expect(jobIds).toEqual(new Set(jobs));
    // The endpoint is healthy again.
    const endpoint = await engine.store.getEndpoint(id);
    expect(endpoint).toMatchObject({ status: 'enabled', consecutiveFailures: 0, failingSince: null });
  });

  it('times a hanging receiver out and retries it later, without holding up another endpoint', async () => {
    engine = await startWebhookEngine('hook_hang', { timeoutMs: 1_500 });
    receiver = await startTestReceiver();
    const hanging = await engine.endpoint('key-hang', `${receiver.url}/hang`);
    const healthy = await engine.endpoint('key-ok', `${receiver.url}/ok`);
    receiver.setSecret(hanging.secret, '/hang');
    receiver.setSecret(healthy.secret, '/ok');
    let hang = true;
    receiver.behave((d) => (d.path === '/hang' && hang ? 'hang' : { status: 200 }));
    await engine.completeJobs('key-hang', 5);
    await engine.completeJobs('key-ok', 30);

    const started = Date.now();
    await engine.dispatcher.look();
    // The healthy endpoint's 30 arrive while the hanging one's first attempts are still waiting to time out.
    const deadline = started + 1_500;
    for (;;) {
      if (receiver.processed.size >= 30) break;
      if (Date.now() > deadline + 5_000) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    const healthyDone = Date.now();
    expect(receiver.processed.size).toBe(30);
    expect(healthyDone).toBeLessThan(deadline);
    await engine.round();

    const attempts = await engine.t.db.query<{ error: string | null }>(
      `SELECT a.error FROM webhook_attempts a JOIN webhook_deliveries d ON d.id = a.delivery_id
       WHERE d.endpoint_id = $1`,
      [hanging.id],
    );
    // One attempt per slot at most, each abandoned at the timeout; the endpoint is paused, not hammered.
    expect(attempts.rows.length).toBeGreaterThanOrEqual(1);
    expect(attempts.rows.length).toBeLessThanOrEqual(WEBHOOKS.perEndpointConcurrency);
    expect(attempts.rows.every((a) => a.error === 'no answer within 1500 ms')).toBe(true);
    expect((await engine.store.getEndpoint(hanging.id))?.pausedUntil).not.toBeNull();

    hang = false;
    for (let round = 0; round < 10 && receiver.processed.size < 35; round++) {
      await skipToNextAttempt(engine, hanging.id);
      await engine.round();
    }
    expect(receiver.processed.size).toBe(35);
    expect(await engine.statuses()).toEqual({ delivered: 35 });
  });

  it('drains a burst of 10,000 events with bounded concurrency, each delivered once', async () => {
    engine = await startWebhookEngine('hook_burst');
    receiver = await startTestReceiver();
    const keys = ['key-1', 'key-2', 'key-3', 'key-4'];
    for (const key of keys) {
      const e = await engine.endpoint(key, `${receiver.url}/${key}`);
      receiver.setSecret(e.secret, `/${key}`);
    }
    // Each answer takes 10 ms, as a receiver's own work would: attempts overlap, and the bound shows.
    receiver.behave(() => ({ status: 200, delayMs: 10 }));
    const started = Date.now();
    for (const key of keys) await engine.completeJobs(key, 2_500);
    const written = Date.now() - started;

    for (let round = 0; round < 500; round++) {
      const s = await engine.statuses();
      if (s.delivered === 10_000) break;
      await engine.round(120_000);
    }
    const drained = Date.now() - started;
    expect(await engine.statuses()).toEqual({ delivered: 10_000 });
    expect(receiver.processed.size).toBe(10_000);
    expect(receiver.duplicates).toBe(0);
    expect(receiver.posts.length).toBe(10_000);
    for (const key of keys)
      expect(receiver.maxInFlight(`/${key}`)).toBeLessThanOrEqual(WEBHOOKS.perEndpointConcurrency);
    expect(receiver.maxInFlight()).toBeLessThanOrEqual(
      Math.min(CONSUMED_QUEUES.webhooks.maxConcurrency, keys.length * WEBHOOKS.perEndpointConcurrency),
    );
    // Bounded, yet parallel: more than one endpoint was served at once.
    expect(receiver.maxInFlight()).toBeGreaterThan(1);
    console.log(
      `10,000 events: written in ${written} ms, all delivered ${drained} ms after the burst began; ` +
        `at most ${receiver.maxInFlight()} posts in flight (${keys.map((k) => receiver?.maxInFlight(`/${k}`)).join('/')} per endpoint)`,
    );
  }, 300_000);

  it('disables an endpoint failing for the policy days with an alert, holds its events, and sends them when enabled', async () => {
    engine = await startWebhookEngine('hook_days');
    receiver = await startTestReceiver();
    const start = engine.clock.now().getTime();
    const { id, secret } = await engine.endpoint('key-days', `${receiver.url}/days`);
    receiver.setSecret(secret);
    await engine.completeJobs('key-days', 3);
    receiver.behave(() => ({ status: 500 }));

    for (let round = 0; round < 60; round++) {
      await engine.round();
      if ((await engine.store.getEndpoint(id))?.status === 'disabled') break;
      // A new event now and then, as a live system would have while the receiver is broken.
      if (round % 5 === 4) await engine.completeJobs('key-days', 1);
      await skipToNextAttempt(engine, id);
      // Past the last retry, the schedule leaves nothing due: the next event is what brings the next attempt.
      const pending = await engine.t.db.query(
        `SELECT 1 FROM webhook_deliveries WHERE endpoint_id = $1 AND status = 'pending'`,
        [id],
      );
      if (pending.rows.length === 0) await engine.completeJobs('key-days', 1);
    }
    const endpoint = await engine.store.getEndpoint(id);
    expect(endpoint).toMatchObject({ status: 'disabled', disabledReason: 'failing' });
    const failedFor = engine.clock.now().getTime() - start;
    expect(failedFor).toBeGreaterThanOrEqual(WEBHOOKS.disableAfterFailingDays * 86_400_000);
    // The alert, in the outbox in the transaction that disabled it, names the endpoint and the runbook.
    const alerts = await engine.t.db.query<{ alert: { title: string; runbook: string; items: unknown[] } }>(
      `SELECT alert FROM alert_outbox WHERE kind = 'webhook_disabled'`,
    );
    expect(alerts.rows).toHaveLength(1);
    expect(alerts.rows[0]?.alert.title).toMatch(/failing for \d+ days/);
    expect(alerts.rows[0]?.alert.runbook).toMatch(/webhook-endpoint-disabled\.md$/);
    expect(JSON.stringify(alerts.rows[0]?.alert.items)).toContain(id);
    // Nothing is sent while disabled: a new event is held.
    const postsWhenDisabled = receiver.posts.length;
    await engine.completeJobs('key-days', 2);
    await engine.round();
    expect(receiver.posts.length).toBe(postsWhenDisabled);
    const held = (await engine.statuses()).held ?? 0;
    expect(held).toBeGreaterThanOrEqual(2);

    // Fixed and enabled: every held event arrives.
    receiver.behave(() => ({ status: 200 }));
    await engine.store.enableEndpoint(id);
    for (
      let round = 0;
      round < 20 && ((await engine.statuses()).held ?? 0) + ((await engine.statuses()).pending ?? 0) > 0;
      round++
    ) {
      await engine.round();
    }
    const after = await engine.statuses();
    expect(after.held ?? 0).toBe(0);
    expect(after.pending ?? 0).toBe(0);
    expect(after.delivered).toBeGreaterThanOrEqual(held);
    expect(await engine.store.getEndpoint(id)).toMatchObject({ status: 'enabled', failingSince: null });
  }, 120_000);
});
