/**
 * The records bucket as a small port: put an object, read it back, ask whether it is there, and hand out a
 * presigned GET URL. The one adapter is the AWS SDK's S3 client (moto locally); evidence uploads, their
 * retry, and the API's proof links go through it, and so will inbound mail and archives under their own
 * prefixes (policy RECORDS).
 *
 * `exists` asks S3 by listing the key's own prefix rather than by HEAD: without s3:ListBucket a HEAD on a
 * missing key answers 403, which cannot be told from a denied request, and the list grant can be scoped to
 * one prefix (IAM condition s3:prefix), which a HEAD's cannot.
 */
import { createHash } from 'node:crypto';
import {
  GetObjectCommand,
  ListObjectsV2Command,
  NoSuchKey,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { RECORDS, type RecordsPrefixName } from '#policy';
import { awsClientConfig } from '#shared/aws';
import { type Env, requireEnv } from '#shared/env';

export interface PutOptions {
  contentType: string;
  /** The body's SHA-256 (hex): S3 checks the bytes it received against it and refuses a mismatch. */
  sha256?: string;
  /** Abandon the request (and its SDK retries) after this long. */
  timeoutMs?: number;
}

export interface PresignOptions {
  expiresInSeconds: number;
  /** The Content-Type S3 answers the URL with. */
  contentType?: string;
}

export interface ObjectStore {
  /** The bucket's name (for logs and the local runtime). */
  readonly bucket: string;
  put(key: string, body: Uint8Array, options: PutOptions): Promise<void>;
  /** The object's bytes; undefined when there is no such key. */
  get(key: string): Promise<Uint8Array | undefined>;
  exists(key: string): Promise<boolean>;
  /** The object's size in bytes, undefined when there is no such key (asked by listing, as `exists`). */
  size(key: string): Promise<number | undefined>;
  /** A URL anyone holding it may GET the object with until it expires; signing makes no request. */
  presignGet(key: string, options: PresignOptions): Promise<string>;
}

export const sha256Hex = (body: Uint8Array) => createHash('sha256').update(body).digest('hex');

export class S3ObjectStore implements ObjectStore {
  constructor(
    private readonly s3: S3Client,
    readonly bucket: string,
  ) {}

  async put(key: string, body: Uint8Array, options: PutOptions): Promise<void> {
    await this.s3.send(
      new PutObjectCommand({
        Bucket: this.bucket,
        Key: key,
        Body: body,
        ContentType: options.contentType,
        ContentLength: body.byteLength,
        ...(options.sha256 ? { ChecksumSHA256: Buffer.from(options.sha256, 'hex').toString('base64') } : {}),
      }),
      options.timeoutMs ? { abortSignal: AbortSignal.timeout(options.timeoutMs) } : {},
    );
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    try {
      const res = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      return res.Body ? await res.Body.transformToByteArray() : new Uint8Array();
    } catch (err) {
      if (err instanceof NoSuchKey) return undefined;
      throw err;
    }
  }

  async exists(key: string): Promise<boolean> {
    return (await this.size(key)) !== undefined;
  }

  async size(key: string): Promise<number | undefined> {
    const res = await this.s3.send(
      new ListObjectsV2Command({ Bucket: this.bucket, Prefix: key, MaxKeys: 1 }),
    );
    const first = res.Contents?.[0];
    return first?.Key === key ? (first.Size ?? 0) : undefined;
  }

  /** Closes the client's connections (the local runtime's stop). */
  destroy(): void {
    this.s3.destroy();
  }

  presignGet(key: string, options: PresignOptions): Promise<string> {
    return getSignedUrl(
      this.s3,
      new GetObjectCommand({
        Bucket: this.bucket,
        Key: key,
        ...(options.contentType ? { ResponseContentType: options.contentType } : {}),
      }),
      { expiresIn: options.expiresInSeconds },
    );
  }
}

/**
 * The S3 client for the records bucket: the SDK's configuration from the environment, with the S3-specific
 * endpoint override AWS_ENDPOINT_URL_S3 honoured (the local runtime and the fault tests point S3 alone at a
 * proxy), and path-style addressing whenever an endpoint is given (moto has no per-bucket host names).
 */
export function s3ClientFromEnv(env: Env): S3Client {
  const endpoint = env.AWS_ENDPOINT_URL_S3 ?? env.AWS_ENDPOINT_URL;
  const base = awsClientConfig(endpoint ? { ...env, AWS_ENDPOINT_URL: endpoint } : env);
  return new S3Client({ ...base, ...(endpoint ? { forcePathStyle: true } : {}) });
}

/** The records bucket named by RECORDS_BUCKET (set with its grants by the manifest's `needs.records`). */
export function recordsStoreFromEnv(env: Env): S3ObjectStore {
  const { RECORDS_BUCKET } = requireEnv(env, ['RECORDS_BUCKET']);
  return new S3ObjectStore(s3ClientFromEnv(env), RECORDS_BUCKET);
}

/** The key prefix of a kind of record (policy RECORDS). */
export const recordsPrefix = (name: RecordsPrefixName) => RECORDS.prefixes[name].prefix;
