/**
 * The local runtime's API keys. As in API Gateway, a key has a secret value (what clients send in x-api-key)
 * and an id (what handlers see and authorise on). The ids are fixed, so rows created under a key (the demo
 * customers) stay owned by it across restarts whatever its value; the values come from the environment or
 * are generated.
 */
import { randomBytes } from 'node:crypto';

export const ADMIN_KEY_ID = 'local-admin';
export const CLIENT_KEY_ID = 'local-client';

/** A fresh key value: a readable prefix and 144 random bits. */
export const generateKey = (prefix: string) => `${prefix}_${randomBytes(18).toString('base64url')}`;
