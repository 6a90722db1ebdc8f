/**
 * The Slack webhook client against the local Slack sink on loopback: which answers are retried, how long it
 * waits, that formatting refusals fall back to text, that the URL never shows in an error, and the pacing
 * that keeps Slack at about one message per second.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Pacer } from '#functions/alerts/pacer';
import type { SlackMessage } from '#functions/alerts/slack-blocks';
import { SlackDeliveryError, WebhookSlackClient } from '#functions/alerts/slack-webhook';
import { type SlackSink, startSlackSink } from '#local/slack-sink';

let sink: SlackSink;
const message: SlackMessage = {
  text: 'hello',
  blocks: [{ type: 'section', text: { type: 'mrkdwn', text: 'hello' } }],
};
const waits: number[] = [];

function client(overrides: ConstructorParameters<typeof WebhookSlackClient>[1] = {}, url = sink.url) {
  return new WebhookSlackClient(url, {
    timeoutMs: 300,
    retryBaseMs: 10,
    pacer: new Pacer(0),
    sleep: async (ms) => {
      waits.push(ms);
      await new Promise((r) => setTimeout(r, Math.min(ms, 20)));
    },
    ...overrides,
  });
}

beforeAll(async () => {
  sink = await startSlackSink();
});
afterAll(async () => sink?.stop());
beforeEach(() => {
  waits.length = 0;
});

describe('Slack webhook client', () => {
  it('retries 5xx with doubling backoff and delivers once', async () => {
    const before = { messages: sink.messages.length, attempts: sink.attempts };
    sink.failNext(2, 503);
    await client().post(message);
    expect(sink.messages.length - before.messages).toBe(1);
    expect(sink.attempts - before.attempts).toBe(3);
    expect(waits).toEqual([10, 20]);
  });

  it("honours a 429's Retry-After when it is short, and gives up inline when it is long", async () => {
    sink.rateLimitNext(1, 1);
    await client().post(message);
    expect(waits).toEqual([1_000]);

    sink.rateLimitNext(1, 30);
    const err = await client()
      .post(message)
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SlackDeliveryError);
    expect(err).toMatchObject({ retryable: true, status: 429, retryAfterMs: 30_000 });
  });

  it('abandons a post that gets no answer and retries it', async () => {
    const before = sink.messages.length;
    sink.hangNext(1);
    const started = Date.now();
    await client().post(message);
    expect(sink.messages.length - before).toBe(1);
    expect(Date.now() - started).toBeGreaterThanOrEqual(300);
  });

  it('throws a retryable error after the inline retries, naming no URL', async () => {
    sink.failNext(3, 500);
    const err = (await client()
      .post(message)
      .catch((e: unknown) => e)) as SlackDeliveryError;
    expect(err).toMatchObject({ name: 'SlackDeliveryError', retryable: true, status: 500 });
    expect(err.message).toBe('Slack webhook answered 500 (service_unavailable)');

    const refused = (await client({}, 'http://127.0.0.1:9/services/T/B/secretsecret')
      .post(message)
      .catch((e: unknown) => e)) as SlackDeliveryError;
    expect(refused).toMatchObject({ retryable: true, status: null });
    expect(refused.message).toMatch(/^Slack webhook: connection failed/);
    expect(refused.message).not.toContain('secretsecret');
  });

  it('does not retry an answer that will not change (404 no_service)', async () => {
    const before = sink.attempts;
    const wrong = `${sink.url.slice(0, -4)}0000`;
    const err = (await client({}, wrong)
      .post(message)
      .catch((e: unknown) => e)) as SlackDeliveryError;
    expect(err).toMatchObject({ retryable: false, status: 404 });
    expect(err.message).not.toContain(new URL(wrong).pathname);
    expect(sink.attempts).toBe(before); // the sink counts only posts to the right path
    expect(waits).toEqual([]);
  });

  it('falls back to plain text when Slack refuses the blocks', async () => {
    const before = sink.messages.length;
    const tooMany = Array.from({ length: 60 }, () => ({ type: 'divider' }));
    await client().post({ text: 'the words still arrive', blocks: tooMany });
    expect(sink.messages.slice(before)).toEqual([
      expect.objectContaining({ text: 'the words still arrive', blocks: [] }),
    ]);
  });
});

describe('pacing', () => {
  it('spaces calls at least the minimum interval apart, in order', async () => {
    let now = 0;
    const slept: number[] = [];
    const pacer = new Pacer(
      1_000,
      () => now,
      async (ms) => {
        slept.push(ms);
        now += ms;
      },
    );
    const order: number[] = [];
    await Promise.all([1, 2, 3].map((i) => pacer.wait().then(() => order.push(i))));
    expect(order).toEqual([1, 2, 3]);
    expect(slept).toEqual([1_000, 1_000]);
    now += 5_000;
    await pacer.wait();
    expect(slept).toEqual([1_000, 1_000]);
  });

  it('paces real posts to about one per interval', async () => {
    const paced = client({ pacer: new Pacer(100) });
    const started = Date.now();
    for (let i = 0; i < 4; i++) await paced.post(message);
    expect(Date.now() - started).toBeGreaterThanOrEqual(300);
  });
});
