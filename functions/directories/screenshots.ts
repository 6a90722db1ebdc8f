/**
 * Screenshots of discovery and dry runs ("probes"): taken by the worker's own capture (evidence-capture.ts:
 * JPEG within policy EVIDENCE's bounds, retaken smaller, never kept above the ceiling) and kept behind a
 * small port. The API keeps them in the records bucket under the `probes/` prefix (policy RECORDS) and
 * answers a presigned GET URL; the ops CLI may keep them inline (base64). A screenshot that cannot be taken
 * is recorded as not taken, with the reason: a probe never fails for want of a picture.
 */
import { randomUUID } from 'node:crypto';
import type { Page } from 'playwright-core';
import {
  type CapturePolicy,
  captureScreenshot,
  SCREENSHOT_CONTENT_TYPE,
} from '#functions/worker/evidence-capture';
import { type ObjectStore, recordsPrefix, sha256Hex } from '#shared/object-store';
import { describeError } from '#shared/telemetry';

export interface ScreenshotPolicy extends CapturePolicy {
  /** Most screenshots one probe keeps. */
  readonly perProbe: number;
}

/** A screenshot as a probe's answer carries it: a link (records bucket) or the bytes (inline). */
export type ProbeScreenshot =
  | {
      label: string;
      taken: true;
      contentType: 'image/jpeg';
      bytes: number;
      /** A presigned GET URL, until `expiresAt`; null when kept inline. */
      url: string | null;
      expiresAt: string | null;
      /** The JPEG as base64 when kept inline; null when in the records bucket. */
      data: string | null;
    }
  | { label: string; taken: false; reason: string };

/** Where a probe's screenshots are kept. */
export interface ScreenshotStore {
  keep(label: string, jpeg: Buffer): Promise<ProbeScreenshot>;
}

/** Kept in the probe's own result, as base64 (the ops CLI writes them to files). */
export const inlineScreenshots: ScreenshotStore = {
  keep: async (label, jpeg) => ({
    label,
    taken: true,
    contentType: SCREENSHOT_CONTENT_TYPE,
    bytes: jpeg.byteLength,
    url: null,
    expiresAt: null,
    data: jpeg.toString('base64'),
  }),
};

/**
 * Kept in the records bucket under `probes/<directory or "discover">/<uuid>-<n>.jpg`, answered as a
 * presigned link. An upload that fails is a screenshot not taken (with the reason), never a failed probe.
 */
export function recordsScreenshots(
  objects: Pick<ObjectStore, 'put' | 'presignGet'>,
  options: { scope: string; expiresInSeconds: number; uploadTimeoutMs: number; now?: () => Date },
): ScreenshotStore {
  const run = randomUUID();
  let n = 0;
  return {
    async keep(label, jpeg) {
      n += 1;
      const key = `${recordsPrefix('probes')}${options.scope}/${run}-${n}.jpg`;
      try {
        await objects.put(key, jpeg, {
          contentType: SCREENSHOT_CONTENT_TYPE,
          sha256: sha256Hex(jpeg),
          timeoutMs: options.uploadTimeoutMs,
        });
        const url = await objects.presignGet(key, {
          expiresInSeconds: options.expiresInSeconds,
          contentType: SCREENSHOT_CONTENT_TYPE,
        });
        const now = options.now?.() ?? new Date();
        return {
          label,
          taken: true,
          contentType: SCREENSHOT_CONTENT_TYPE,
          bytes: jpeg.byteLength,
          url,
          expiresAt: new Date(now.getTime() + options.expiresInSeconds * 1000).toISOString(),
          data: null,
        };
      } catch (err) {
        return {
          label,
          taken: false,
          reason: `the screenshot could not be stored: ${describeError(err).message.split('\n')[0]}`,
        };
      }
    },
  };
}

/** A JPEG of the page within the capture policy, kept by `store`. */
export async function screenshot(
  page: Page,
  label: string,
  policy: CapturePolicy,
  store: ScreenshotStore,
): Promise<ProbeScreenshot> {
  const capture = await captureScreenshot(page, policy);
  if (!capture.taken) return { label, taken: false, reason: capture.reason };
  return store.keep(label, capture.shot.bytes);
}
