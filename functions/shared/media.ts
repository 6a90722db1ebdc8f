/**
 * Customers' images (issue 14): where they are kept, how their bytes are told apart, and the record of each
 * upload. An image reaches S3 straight from the API client through a presigned POST (the records bucket,
 * `media/`, policy MEDIA); the API then reads the stored bytes back and keeps the image only when its magic
 * numbers are those of the type it was declared as. The worker checks them again before it types the file
 * into a form, so an object changed behind the row's back is never sent.
 */
import { MEDIA, type MediaContentType } from '#policy';
import { isUuid } from '#shared/customer-store';
import type { Sql } from '#shared/db';
import { recordsPrefix } from '#shared/object-store';

export type MediaKind = (typeof MEDIA.kinds)[number];
export type MediaStatus = 'pending' | 'ready' | 'rejected';

export interface Media {
  id: string;
  customerId: string;
  kind: MediaKind;
  contentType: MediaContentType;
  status: MediaStatus;
  /** Why a rejected upload was refused. */
  reason: string | null;
  sizeBytes: number | null;
  sha256: string | null;
  createdAt: string;
  completedAt: string | null;
}

/** The profile's view of its logo: the ready image, enough to fetch and check it. */
export interface MediaRef {
  id: string;
  contentType: MediaContentType;
  sizeBytes: number;
  sha256: string;
}

/** The object key of a customer's image: `media/<customer>/<media id>`. */
export const mediaKey = (customerId: string, mediaId: string) =>
  `${recordsPrefix('media')}${customerId}/${mediaId}`;

/** A file name for a form's file input: the media id and the type's usual extension. */
export function mediaFileName(ref: Pick<MediaRef, 'id' | 'contentType'>): string {
  const ext = { 'image/png': 'png', 'image/jpeg': 'jpg', 'image/webp': 'webp' }[ref.contentType];
  return `logo-${ref.id.slice(0, 8)}.${ext}`;
}

const startsWith = (bytes: Uint8Array, at: number, expected: readonly number[]) =>
  bytes.length >= at + expected.length && expected.every((b, i) => bytes[at + i] === b);
const ascii = (s: string) => [...s].map((c) => c.charCodeAt(0));

/** The image type the bytes are by their magic numbers, of those policy MEDIA allows; undefined for none. */
export function sniffImage(bytes: Uint8Array): MediaContentType | undefined {
  if (startsWith(bytes, 0, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return 'image/png';
  if (startsWith(bytes, 0, [0xff, 0xd8, 0xff])) return 'image/jpeg';
  if (startsWith(bytes, 0, ascii('RIFF')) && startsWith(bytes, 8, ascii('WEBP'))) return 'image/webp';
  return undefined;
}

/**
 * Why stored bytes may not be used as an image of `declared`; undefined when they may. The size is checked
 * again here because a presigned POST's limits are S3's to enforce, and this is the last word.
 */
export function imageProblem(bytes: Uint8Array, declared: MediaContentType): string | undefined {
  if (bytes.byteLength === 0) return 'the file is empty';
  if (bytes.byteLength > MEDIA.maxBytes)
    return `the file is ${bytes.byteLength} bytes, more than ${MEDIA.maxBytes}`;
  const actual = sniffImage(bytes);
  if (actual !== declared)
    return actual
      ? `the file is ${actual}, not the ${declared} it was declared as`
      : `the file is not a ${declared} image (its first bytes are no image type formfleet accepts)`;
  return undefined;
}

interface MediaRow {
  id: string;
  customer_id: string;
  kind: MediaKind;
  content_type: MediaContentType;
  status: MediaStatus;
  reason: string | null;
  size_bytes: string | null;
  sha256: string | null;
  created_at: Date;
  completed_at: Date | null;
}

const toMedia = (r: MediaRow): Media => ({
  id: r.id,
  customerId: r.customer_id,
  kind: r.kind,
  contentType: r.content_type,
  status: r.status,
  reason: r.reason,
  sizeBytes: r.size_bytes === null ? null : Number(r.size_bytes),
  sha256: r.sha256,
  createdAt: r.created_at.toISOString(),
  completedAt: r.completed_at?.toISOString() ?? null,
});

export interface MediaStore {
  /** A pending upload for the customer (its object key follows from the ids: mediaKey). */
  create(customerId: string, kind: MediaKind, contentType: MediaContentType): Promise<Media>;
  get(customerId: string, mediaId: string): Promise<Media | undefined>;
  /**
   * A pending upload becomes ready, and the customer's image of its kind, in one transaction; undefined when
   * the row is no longer pending (another completion won).
   */
  markReady(media: Media, sizeBytes: number, sha256: string): Promise<Media | undefined>;
  /** A pending upload is refused for good, with the reason; undefined when no longer pending. */
  markRejected(media: Media, reason: string): Promise<Media | undefined>;
}

const COLUMNS =
  'id, customer_id, kind, content_type, status, reason, size_bytes, sha256, created_at, completed_at';

export class PgMediaStore implements MediaStore {
  constructor(private readonly sql: Sql) {}

  async create(customerId: string, kind: MediaKind, contentType: MediaContentType): Promise<Media> {
    const { rows } = await this.sql.query<MediaRow>(
      `INSERT INTO customer_media (id, customer_id, kind, content_type, object_key)
       SELECT m.id, $1::uuid, $2, $3, $4 || $1::text || '/' || m.id FROM (SELECT gen_random_uuid() AS id) m
       RETURNING ${COLUMNS}`,
      [customerId, kind, contentType, recordsPrefix('media')],
    );
    return toMedia(rows[0] as MediaRow);
  }

  async get(customerId: string, mediaId: string): Promise<Media | undefined> {
    if (!isUuid(customerId) || !isUuid(mediaId)) return undefined;
    const { rows } = await this.sql.query<MediaRow>(
      `SELECT ${COLUMNS} FROM customer_media WHERE id = $1 AND customer_id = $2`,
      [mediaId, customerId],
    );
    return rows[0] ? toMedia(rows[0]) : undefined;
  }

  async markReady(media: Media, sizeBytes: number, sha256: string): Promise<Media | undefined> {
    // One statement: the row leaves 'pending' and the profile points at it, or neither.
    const { rows } = await this.sql.query<MediaRow>(
      `WITH ready AS (
         UPDATE customer_media SET status = 'ready', size_bytes = $3, sha256 = $4, completed_at = now()
          WHERE id = $1 AND customer_id = $2 AND status = 'pending'
         RETURNING ${COLUMNS}
       ), profile AS (
         UPDATE customers SET logo_media_id = ready.id FROM ready
          WHERE customers.id = ready.customer_id AND ready.kind = 'logo'
       )
       SELECT * FROM ready`,
      [media.id, media.customerId, sizeBytes, sha256],
    );
    return rows[0] ? toMedia(rows[0]) : undefined;
  }

  async markRejected(media: Media, reason: string): Promise<Media | undefined> {
    const { rows } = await this.sql.query<MediaRow>(
      `UPDATE customer_media SET status = 'rejected', reason = $3, completed_at = now()
        WHERE id = $1 AND customer_id = $2 AND status = 'pending' RETURNING ${COLUMNS}`,
      [media.id, media.customerId, reason.slice(0, 500)],
    );
    return rows[0] ? toMedia(rows[0]) : undefined;
  }
}
