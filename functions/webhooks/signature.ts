/**
 * Standard Webhooks signing (https://www.standardwebhooks.com): every delivery carries `webhook-id` (the
 * event id, the same on every attempt and replay), `webhook-timestamp` (seconds since the epoch, this attempt)
 * and `webhook-signature` (`v1,<base64 of HMAC-SHA256 over "<id>.<timestamp>.<body>">`), keyed by the
 * endpoint's secret: `whsec_` followed by the base64 of random bytes, of which the decoded bytes are the key.
 * Written by hand: a dozen lines over node:crypto; the specification's reference library verifies what this
 * signs in the tests.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { WEBHOOKS } from '#policy';

export const SECRET_PREFIX = 'whsec_';

/** A new signing secret (shown to the endpoint's owner once). */
export function generateSigningSecret(bytes: number = WEBHOOKS.secretBytes): string {
  return `${SECRET_PREFIX}${randomBytes(bytes).toString('base64')}`;
}

/** The key bytes of a `whsec_` secret. */
export function signingKey(secret: string): Buffer {
  if (!secret.startsWith(SECRET_PREFIX)) throw new TypeError('a signing secret starts with whsec_');
  const key = Buffer.from(secret.slice(SECRET_PREFIX.length), 'base64');
  if (key.length < 24) throw new TypeError('a signing secret holds at least 24 bytes');
  return key;
}

/** `v1,<signature>` of one message. */
export function sign(secret: string, id: string, timestampSeconds: number, body: string): string {
  const mac = createHmac('sha256', signingKey(secret)).update(`${id}.${timestampSeconds}.${body}`);
  return `v1,${mac.digest('base64')}`;
}

/** The three headers of one attempt. */
export function signatureHeaders(
  secret: string,
  id: string,
  body: string,
  now: Date,
): { 'webhook-id': string; 'webhook-timestamp': string; 'webhook-signature': string } {
  const timestamp = Math.floor(now.getTime() / 1000);
  return {
    'webhook-id': id,
    'webhook-timestamp': String(timestamp),
    'webhook-signature': sign(secret, id, timestamp, body),
  };
}
