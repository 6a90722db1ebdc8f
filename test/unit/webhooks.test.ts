/**
 * The webhook building blocks: the retry schedule (more than a day at the shortest jitter, then given up),
 * when an endpoint is paused and disabled, Standard Webhooks signatures as the specification's reference
 * library makes them, the URL rules (deployed and local), sealed secrets, wakes, and a receiver's text made
 * safe to keep.
 */
import fc from 'fast-check';
import { Webhook } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import {
  admitUrl,
  endpointUrlProblem,
  urlFormProblem,
  urlPolicyFromEnv,
} from '#functions/webhooks/destination';
import { EVENT_TYPES, SUBSCRIBABLE_EVENT_TYPES } from '#functions/webhooks/events';
import { reviveRow } from '#functions/webhooks/render';
import {
  afterFailure,
  DEFAULT_RETRY_POLICY,
  retryDelaySeconds,
  shortestRetrySpanSeconds,
} from '#functions/webhooks/retry';
import { generateLocalKey, LocalSecretSealer, sealerFromEnv } from '#functions/webhooks/secrets';
import { excerpt } from '#functions/webhooks/sender';
import { generateSigningSecret, sign, signatureHeaders, signingKey } from '#functions/webhooks/signature';
import { parseWake, wakeGroup } from '#functions/webhooks/wake-queue';
import { WEBHOOKS } from '#policy';

describe('the retry schedule', () => {
  it('keeps retrying for more than a day even at the shortest jitter', () => {
    expect(shortestRetrySpanSeconds(DEFAULT_RETRY_POLICY)).toBeGreaterThanOrEqual(
      WEBHOOKS.minimumRetrySeconds,
    );
  });

  it('waits each step of the schedule, jittered within bounds, growing', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 20 }),
        fc.double({ min: 0, max: 0.9999999, noNaN: true }),
        (n, r) => {
          const base = WEBHOOKS.retryScheduleSeconds[
            Math.min(n, WEBHOOKS.retryScheduleSeconds.length) - 1
          ] as number;
          const d = retryDelaySeconds(n, DEFAULT_RETRY_POLICY, () => r);
          expect(d).toBeGreaterThanOrEqual(base * (1 - WEBHOOKS.retryJitter));
          expect(d).toBeLessThanOrEqual(base * (1 + WEBHOOKS.retryJitter));
        },
      ),
    );
    const mid = () => 0.5;
    const waits = WEBHOOKS.retryScheduleSeconds.map((_, i) =>
      retryDelaySeconds(i + 1, DEFAULT_RETRY_POLICY, mid),
    );
    expect(waits).toEqual([...WEBHOOKS.retryScheduleSeconds]);
  });

  it('gives a delivery up after its last retry, and disables an endpoint at 410 or after days of failing', () => {
    const now = new Date('2026-05-01T00:00:00Z');
    const retries = WEBHOOKS.retryScheduleSeconds.length;
    const base = { endpointFailures: 1, failingSince: now, gone: false, now };
    expect(afterFailure({ ...base, attempts: retries }).delivery).toHaveProperty('retryAt');
    expect(afterFailure({ ...base, attempts: retries + 1 }).delivery).toEqual({ giveUp: true });
    expect(afterFailure({ ...base, attempts: 1, gone: true }).disable).toBe('gone');
    const days = WEBHOOKS.disableAfterFailingDays;
    const since = (d: number) => new Date(now.getTime() - d * 86_400_000);
    expect(afterFailure({ ...base, attempts: 1, failingSince: since(days - 0.01) }).disable).toBeUndefined();
    expect(afterFailure({ ...base, attempts: 1, failingSince: since(days) }).disable).toBe('failing');
    // The endpoint is left alone by its own failures in a row: 5 s after the first, 5 min after the second.
    const mid = () => 0.5;
    expect(
      afterFailure({ ...base, attempts: 1 }, DEFAULT_RETRY_POLICY, mid).pausedUntil.getTime() - now.getTime(),
    ).toBe(5_000);
    expect(
      afterFailure(
        { ...base, attempts: 1, endpointFailures: 2 },
        DEFAULT_RETRY_POLICY,
        mid,
      ).pausedUntil.getTime() - now.getTime(),
    ).toBe(300_000);
  });
});

describe('Standard Webhooks signatures', () => {
  it('are the reference library’s, for any id, time and body', () => {
    fc.assert(
      fc.property(
        fc.stringMatching(/^evt_[0-9a-f]{32}$/),
        fc.integer({ min: 1_600_000_000, max: 2_000_000_000 }),
        fc.string({ unit: 'grapheme', maxLength: 300 }),
        (id, seconds, body) => {
          const secret = generateSigningSecret();
          const library = new Webhook(secret);
          expect(sign(secret, id, seconds, body)).toBe(library.sign(id, new Date(seconds * 1000), body));
        },
      ),
      { numRuns: 200 },
    );
  });

  it('verify with the library now, and not with another secret or a changed body', () => {
    const secret = generateSigningSecret();
    const body = JSON.stringify({ id: 'evt_1', type: 'job.completed', data: {} });
    const headers = signatureHeaders(secret, 'evt_1', body, new Date());
    expect(new Webhook(secret).verify(body, headers)).toEqual(JSON.parse(body));
    expect(() => new Webhook(generateSigningSecret()).verify(body, headers)).toThrow();
    expect(() => new Webhook(secret).verify(body.replace('completed', 'failed'), headers)).toThrow();
  });

  it('use a secret of whsec_ and 32 random bytes, refusing anything shorter', () => {
    const secret = generateSigningSecret();
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(signingKey(secret)).toHaveLength(WEBHOOKS.secretBytes);
    expect(() => signingKey('whsec_c2hvcnQ=')).toThrow(/24 bytes/);
    expect(() => signingKey('not-a-secret')).toThrow(/whsec_/);
  });
});

describe('endpoint URLs', () => {
  const deployed = {
    allowLoopback: false,
    resolve: async (h: string) => (h === 'ok.example' ? ['93.184.216.34'] : ['10.1.2.3']),
  };
  const local = { allowLoopback: true };

  it('must be https with neither credentials nor a fragment in AWS; http is allowed locally', () => {
    expect(urlFormProblem('https://ok.example/hook?x=1', deployed)).toBeUndefined();
    expect(urlFormProblem('http://ok.example/hook', deployed)).toBe('must be https');
    expect(urlFormProblem('http://127.0.0.1:4000/hook', local)).toBeUndefined();
    expect(urlFormProblem('ftp://ok.example/x', local)).toBe('must be https or http');
    expect(urlFormProblem('https://u:p@ok.example/', deployed)).toMatch(/user name/);
    expect(urlFormProblem('https://ok.example/#x', deployed)).toMatch(/fragment/);
    expect(urlFormProblem(`https://ok.example/${'x'.repeat(3000)}`, deployed)).toMatch(/longer/);
  });

  it('are refused in AWS when the name resolves to a private address; locally loopback only is allowed', async () => {
    expect(await endpointUrlProblem('https://ok.example/x', deployed)).toBeUndefined();
    expect(await endpointUrlProblem('https://bad.example/x', deployed)).toMatch(/10\.1\.2\.3, private/);
    expect(await admitUrl(new URL('http://127.0.0.1:9/x'), local)).toEqual({ address: '127.0.0.1' });
    expect(await admitUrl(new URL('http://[::1]:9/x'), local)).toEqual({ address: '::1' });
    expect(await admitUrl(new URL('http://10.0.0.1:9/x'), local)).toEqual({ refused: 'private' });
    expect(await admitUrl(new URL('http://169.254.169.254/latest'), local)).toMatchObject({
      refused: expect.stringMatching(/link-local/),
    });
    expect(await admitUrl(new URL('https://127.0.0.1/x'), deployed)).toEqual({ refused: 'loopback' });
  });

  it('allow loopback only by the local setting, which Lambda refuses', () => {
    expect(urlPolicyFromEnv({}).allowLoopback).toBe(false);
    expect(urlPolicyFromEnv({ WEBHOOK_ALLOW_LOOPBACK: 'true' }).allowLoopback).toBe(true);
    expect(() => urlPolicyFromEnv({ WEBHOOK_ALLOW_LOOPBACK: 'yes' })).toThrow(/true or false/);
    expect(() => urlPolicyFromEnv({ WEBHOOK_ALLOW_LOOPBACK: 'true', AWS_LAMBDA_FUNCTION_NAME: 'x' })).toThrow(
      /local runtime only/,
    );
  });
});

describe('sealed secrets', () => {
  it('open only for the endpoint they were sealed for, and never hold the secret in the clear', async () => {
    const sealer = new LocalSecretSealer(Buffer.from(generateLocalKey(), 'base64'));
    const secret = generateSigningSecret();
    const sealed = await sealer.seal(secret, 'endpoint-1');
    expect(sealed).toMatch(/^local:v1:/);
    expect(sealed).not.toContain(secret.slice(6));
    expect(await sealer.open(sealed, 'endpoint-1')).toBe(secret);
    await expect(sealer.open(sealed, 'endpoint-2')).rejects.toThrow();
    await expect(
      new LocalSecretSealer(Buffer.from(generateLocalKey(), 'base64')).open(sealed, 'endpoint-1'),
    ).rejects.toThrow();
    await expect(sealer.open('kms:v1:AAAA', 'endpoint-1')).rejects.toThrow(/sealed by KMS/);
  });

  it('take the local key only outside Lambda, and need one of the two keys', () => {
    const key = generateLocalKey();
    expect(sealerFromEnv({ WEBHOOK_LOCAL_KEY: key })).toBeInstanceOf(LocalSecretSealer);
    expect(() => sealerFromEnv({ WEBHOOK_LOCAL_KEY: key, AWS_LAMBDA_FUNCTION_NAME: 'f' })).toThrow(
      /local runtime only/,
    );
    expect(() => sealerFromEnv({})).toThrow(/WEBHOOK_KMS_KEY_ID or WEBHOOK_LOCAL_KEY/);
  });
});

describe('pieces of delivery', () => {
  it('reads back only wakes it wrote, grouped per endpoint slot', () => {
    const wake = {
      endpointId: '5b0c6f7e-6a53-4d3c-9d54-0c1f2a3b4c5d',
      slot: 1,
      sentAt: '2026-05-01T00:00:00.000Z',
    };
    expect(parseWake(JSON.stringify(wake))).toEqual(wake);
    expect(wakeGroup(wake)).toBe('5b0c6f7e-6a53-4d3c-9d54-0c1f2a3b4c5d.1');
    for (const bad of [
      '',
      'null',
      '{}',
      '{"endpointId":"x","slot":1,"sentAt":"2026"}',
      JSON.stringify({ ...wake, slot: 'a' }),
    ]) {
      expect(parseWake(bad)).toBeUndefined();
    }
  });

  it('keeps a receiver’s answer as text it can store: no NUL or control characters, bounded', () => {
    const text = excerpt(Buffer.from('ok\u0000\u0007 done\n', 'utf8'));
    expect(text).toBe('ok\ufffd\ufffd done\n');
    expect(excerpt(Buffer.from('x'.repeat(5_000)))).toHaveLength(WEBHOOKS.responseExcerptChars);
  });

  it('reads a snapshot’s timestamp columns back as dates, and nothing else', () => {
    const row = reviveRow({
      created_at: '2026-05-01T10:00:00.123456+00:00',
      status: 'submitted',
      started_at: null,
    });
    expect(row.created_at).toEqual(new Date('2026-05-01T10:00:00.123Z'));
    expect(row).toMatchObject({ status: 'submitted', started_at: null });
  });

  it('lists every catalogue type as subscribable, each with a resource and a description', () => {
    expect(SUBSCRIBABLE_EVENT_TYPES).toEqual(EVENT_TYPES.map((e) => e.type));
    for (const e of EVENT_TYPES) {
      expect(['job', 'submission']).toContain(e.resource);
      expect(e.description.length).toBeGreaterThan(20);
    }
  });
});
