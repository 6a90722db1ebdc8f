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
import { createPresignedPost } from '@aws-sdk/s3-presigned-post';
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

export interface PresignPostOptions {
  /** The one Content-Type the upload may have (the form's `Content-Type` field, checked by S3). */
  contentType: string;
  /** The largest body S3 accepts (content-length-range 1..maxBytes). */
  maxBytes: number;
  expiresInSeconds: number;
}

/** An HTML form upload to S3: POST multipart/form-data to `url` with every field, then the `file`. */
export interface PresignedPost {
  url: string;
  fields: Record<string, string>;
  expiresAt: string;
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
  /**
   * A browser-form upload of exactly this key, this content type and at most maxBytes (S3's POST policy
   * conditions); signing makes no request.
   */
  presignPost(key: string, options: PresignPostOptions): Promise<PresignedPost>;
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

  presignPost(key: string, options: PresignPostOptions): Promise<PresignedPost> {
    return signPost(this.s3, this.bucket, key, options);
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
 * Signs an S3 POST policy with the SDK's own signer (@aws-sdk/s3-presigned-post, Signature Version 4 as AWS
 * documents for browser-based uploads): the policy pins the key, the one Content-Type and the length range,
 * so a form with another key or content type, or a body outside the range, is refused by S3 itself.
 */
async function signPost(
  s3: S3Client,
  bucket: string,
  key: string,
  options: PresignPostOptions,
): Promise<PresignedPost> {
  const { url, fields } = await createPresignedPost(s3, {
    Bucket: bucket,
    Key: key,
    Conditions: [['content-length-range', 1, options.maxBytes], { 'Content-Type': options.contentType }],
    Fields: { 'Content-Type': options.contentType },
    Expires: options.expiresInSeconds,
  });
  // When the signed policy itself expires (the signer counts from its own clock, to the second).
  const policy = JSON.parse(Buffer.from(fields.Policy ?? '', 'base64').toString('utf8')) as {
    expiration?: string;
  };
  return {
    url,
    fields,
    expiresAt: policy.expiration ?? new Date(Date.now() + options.expiresInSeconds * 1000).toISOString(),
  };
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
