/**
 * The customer's stored images as an `upload` step sets them: read from the records bucket (media/) and
 * checked again before use, since the bytes a form receives must be the ones the API checked when the
 * upload completed: the same SHA-256, and magic numbers of the declared type.
 */
import { imageProblem, type MediaRef, mediaFileName, mediaKey } from '#shared/media';
import { type ObjectStore, sha256Hex } from '#shared/object-store';
import type { EngineFile } from './form-engine.ts';

export interface MediaFiles {
  /** The image ready to upload, or why it cannot be used (a reason the job's row will show). */
  file(customerId: string, ref: MediaRef): Promise<EngineFile | string>;
}

export class RecordsMediaFiles implements MediaFiles {
  constructor(private readonly records: Pick<ObjectStore, 'get'>) {}

  async file(customerId: string, ref: MediaRef): Promise<EngineFile | string> {
    const bytes = await this.records.get(mediaKey(customerId, ref.id));
    if (!bytes) return 'the stored logo is missing from the records bucket; upload it again';
    if (sha256Hex(bytes) !== ref.sha256)
      return 'the stored logo changed after it was checked; upload it again';
    const problem = imageProblem(bytes, ref.contentType);
    if (problem) return `the stored logo cannot be used: ${problem}`;
    return { name: mediaFileName(ref), mimeType: ref.contentType, buffer: Buffer.from(bytes) };
  }
}
