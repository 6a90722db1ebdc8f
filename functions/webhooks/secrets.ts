/**
 * Signing secrets at rest. An endpoint's secret must be usable to sign (HMAC), so it cannot be hashed: it is
 * sealed. In AWS by KMS (Encrypt/Decrypt with the stage's webhook key from the data stack, the endpoint id as
 * encryption context, so a sealed secret copied to another row does not open); locally by AES-256-GCM with a
 * key of the local runtime (WEBHOOK_LOCAL_KEY, kept in .formfleet/), because moto's KMS forgets its keys when
 * it stops while the local database keeps the endpoints. The sealed form names its sealer, so a row sealed by
 * one is refused clearly by the other. An opened secret is registered with the log redaction.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { DecryptCommand, EncryptCommand, KMSClient } from '@aws-sdk/client-kms';
import { WEBHOOKS } from '#policy';
import { awsClientConfig } from '#shared/aws';
import { ConfigError, type Env } from '#shared/env';
import { registerSecret } from '#shared/telemetry';

export interface SecretSealer {
  /** The secret sealed for this endpoint: safe to store. */
  seal(secret: string, endpointId: string): Promise<string>;
  /** The secret again; throws when it was sealed for another endpoint or by another key. */
  open(sealed: string, endpointId: string): Promise<string>;
}

const KMS_PREFIX = 'kms:v1:';
const LOCAL_PREFIX = 'local:v1:';

function refuseOther(sealed: string, mine: string): void {
  if (!sealed.startsWith(mine)) {
    throw new Error(
      `the secret was sealed by ${sealed.startsWith(KMS_PREFIX) ? 'KMS' : sealed.startsWith(LOCAL_PREFIX) ? 'the local key' : 'an unknown sealer'}, not ${mine === KMS_PREFIX ? 'KMS' : 'the local key'}`,
    );
  }
}

export class KmsSecretSealer implements SecretSealer {
  constructor(
    private readonly kms: KMSClient,
    private readonly keyId: string,
  ) {}

  async seal(secret: string, endpointId: string): Promise<string> {
    const res = await this.kms.send(
      new EncryptCommand({
        KeyId: this.keyId,
        Plaintext: Buffer.from(secret, 'utf8'),
        EncryptionContext: { endpoint: endpointId },
      }),
    );
    if (!res.CiphertextBlob) throw new Error('KMS returned no ciphertext');
    return `${KMS_PREFIX}${Buffer.from(res.CiphertextBlob).toString('base64')}`;
  }

  async open(sealed: string, endpointId: string): Promise<string> {
    refuseOther(sealed, KMS_PREFIX);
    const res = await this.kms.send(
      new DecryptCommand({
        KeyId: this.keyId,
        CiphertextBlob: Buffer.from(sealed.slice(KMS_PREFIX.length), 'base64'),
        EncryptionContext: { endpoint: endpointId },
      }),
    );
    if (!res.Plaintext) throw new Error('KMS returned no plaintext');
    return Buffer.from(res.Plaintext).toString('utf8');
  }
}

export class LocalSecretSealer implements SecretSealer {
  constructor(private readonly key: Buffer) {
    if (key.length !== 32) throw new ConfigError('WEBHOOK_LOCAL_KEY must be 32 bytes, base64');
  }

  async seal(secret: string, endpointId: string): Promise<string> {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv).setAAD(Buffer.from(endpointId));
    const body = Buffer.concat([cipher.update(secret, 'utf8'), cipher.final()]);
    return `${LOCAL_PREFIX}${[iv, cipher.getAuthTag(), body].map((b) => b.toString('base64')).join('.')}`;
  }

  async open(sealed: string, endpointId: string): Promise<string> {
    refuseOther(sealed, LOCAL_PREFIX);
    const [iv = '', tag = '', body = ''] = sealed.slice(LOCAL_PREFIX.length).split('.');
    const decipher = createDecipheriv('aes-256-gcm', this.key, Buffer.from(iv, 'base64'))
      .setAAD(Buffer.from(endpointId))
      .setAuthTag(Buffer.from(tag, 'base64'));
    return Buffer.concat([decipher.update(Buffer.from(body, 'base64')), decipher.final()]).toString('utf8');
  }
}

/** A new local key (npm start keeps one in .formfleet/ so the local endpoints outlive a restart). */
export const generateLocalKey = () => randomBytes(32).toString('base64');

/**
 * WEBHOOK_KMS_KEY_ID in AWS (the data stack's key); WEBHOOK_LOCAL_KEY locally, refused in Lambda (a key in
 * the function's configuration would be readable by anyone who can read the configuration).
 */
export function sealerFromEnv(env: Env): SecretSealer {
  if (env.WEBHOOK_KMS_KEY_ID)
    return new KmsSecretSealer(new KMSClient(awsClientConfig(env)), env.WEBHOOK_KMS_KEY_ID);
  if (env.WEBHOOK_LOCAL_KEY) {
    if (env.AWS_LAMBDA_FUNCTION_NAME) {
      throw new ConfigError(
        'WEBHOOK_LOCAL_KEY is for the local runtime only; in AWS the stage binds WEBHOOK_KMS_KEY_ID',
      );
    }
    registerSecret(env.WEBHOOK_LOCAL_KEY);
    return new LocalSecretSealer(Buffer.from(env.WEBHOOK_LOCAL_KEY, 'base64'));
  }
  throw new ConfigError('missing required environment variable(s): WEBHOOK_KMS_KEY_ID or WEBHOOK_LOCAL_KEY');
}

/**
 * Opened secrets kept for WEBHOOKS.secretCacheSeconds per container (one KMS call per endpoint, not per
 * attempt); each is registered with the log redaction as it is opened.
 */
export class SecretCache {
  private readonly opened = new Map<string, { secret: string; until: number }>();

  constructor(
    private readonly sealer: SecretSealer,
    private readonly now: () => number = Date.now,
    private readonly ttlMs: number = WEBHOOKS.secretCacheSeconds * 1000,
  ) {}

  async open(sealed: string, endpointId: string): Promise<string> {
    const key = `${endpointId}:${sealed}`;
    const hit = this.opened.get(key);
    if (hit && hit.until > this.now()) return hit.secret;
    const secret = await this.sealer.open(sealed, endpointId);
    registerSecret(secret);
    this.opened.set(key, { secret, until: this.now() + this.ttlMs });
    return secret;
  }
}
