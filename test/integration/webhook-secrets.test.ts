/**
 * Signing secrets sealed by KMS (moto), as in AWS: Encrypt with the stage's key and the endpoint id as
 * encryption context, Decrypt only with the same context; the cache opens each once per container.
 */
import { CreateKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KmsSecretSealer, SecretCache, sealerFromEnv } from '#functions/webhooks/secrets';
import { generateSigningSecret } from '#functions/webhooks/signature';
import { motoEnv } from '#local/services/moto';
import { awsClientConfig } from '#shared/aws';
import { redactString } from '#shared/telemetry';
import { motoEndpoint } from '#test/services';

let kms: KMSClient;
let keyId: string;

beforeAll(async () => {
  kms = new KMSClient(awsClientConfig(motoEnv(motoEndpoint())));
  const key = await kms.send(new CreateKeyCommand({ Description: 'webhook secrets (test)' }));
  keyId = key.KeyMetadata?.KeyId as string;
});
afterAll(() => kms?.destroy());

describe('KMS-sealed secrets', () => {
  it('open for their endpoint only', async () => {
    const sealer = sealerFromEnv({ ...motoEnv(motoEndpoint()), WEBHOOK_KMS_KEY_ID: keyId });
    expect(sealer).toBeInstanceOf(KmsSecretSealer);
    const secret = generateSigningSecret();
    const sealed = await sealer.seal(secret, 'endpoint-a');
    expect(sealed).toMatch(/^kms:v1:/);
    expect(sealed).not.toContain(secret.slice(6));
    expect(await sealer.open(sealed, 'endpoint-a')).toBe(secret);
    await expect(sealer.open(sealed, 'endpoint-b')).rejects.toThrow();
    await expect(sealer.open('local:v1:a.b.c', 'endpoint-a')).rejects.toThrow(/sealed by the local key/);
  });

  it('are opened once per container, and kept out of every log line from then on', async () => {
    const sealer = new KmsSecretSealer(kms, keyId);
    const secret = generateSigningSecret();
    const sealed = await sealer.seal(secret, 'endpoint-c');
    let opened = 0;
    const cache = new SecretCache({
      seal: (s, e) => sealer.seal(s, e),
      open: async (s, e) => {
        opened += 1;
        return sealer.open(s, e);
      },
    });
    expect(await cache.open(sealed, 'endpoint-c')).toBe(secret);
    expect(await cache.open(sealed, 'endpoint-c')).toBe(secret);
    expect(opened).toBe(1);
    expect(redactString(`signed with ${secret}`)).toBe('signed with [REDACTED]');
  });
});
