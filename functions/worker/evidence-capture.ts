/**
 * Screenshots for proof, taken on the worker's page within policy EVIDENCE: JPEG at `jpegQuality`, the full
 * page clipped to `maxWidthPx` x `maxHeightPx`; one over `maxImageBytes` is taken again at
 * `retakeJpegQuality`, then of the viewport only, and is never kept above the ceiling (recorded as not taken,
 * with the reason). A capture never throws: a page that will not render within `screenshotTimeoutMs` is a
 * screenshot not taken, never a failed submission.
 */
import { createHash } from 'node:crypto';
import type { Page } from 'playwright-core';
import { canonicalJson } from '#shared/canonical-json';
import { describeError } from '#shared/telemetry';

/** How screenshots are taken: policy EVIDENCE's numbers (tests vary them). */
export interface CapturePolicy {
  readonly jpegQuality: number;
  readonly retakeJpegQuality: number;
  readonly maxImageBytes: number;
  readonly maxHeightPx: number;
  readonly maxWidthPx: number;
  readonly screenshotTimeoutMs: number;
}

export interface Screenshot {
  bytes: Buffer;
  quality: number;
  /** False when the full page was over the ceiling and only the viewport was kept. */
  fullPage: boolean;
}

export type Capture = { taken: true; shot: Screenshot } | { taken: false; reason: string };

export const SCREENSHOT_CONTENT_TYPE = 'image/jpeg';

export async function captureScreenshot(page: Page, policy: CapturePolicy): Promise<Capture> {
  const deadline = Date.now() + policy.screenshotTimeoutMs;
  const attempts = [
    { quality: policy.jpegQuality, fullPage: true },
    { quality: policy.retakeJpegQuality, fullPage: true },
    { quality: policy.retakeJpegQuality, fullPage: false },
  ];
  let last = 0;
  for (const attempt of attempts) {
    const timeout = deadline - Date.now();
    if (timeout <= 0)
      return { taken: false, reason: `no screenshot within ${policy.screenshotTimeoutMs} ms` };
    let bytes: Buffer;
    try {
      bytes = await page.screenshot({
        type: 'jpeg',
        quality: attempt.quality,
        fullPage: attempt.fullPage,
        ...(attempt.fullPage
          ? { clip: { x: 0, y: 0, width: policy.maxWidthPx, height: policy.maxHeightPx } }
          : {}),
        scale: 'css',
        timeout,
      });
    } catch (err) {
      return { taken: false, reason: `the screenshot failed: ${describeError(err).message.split('\n')[0]}` };
    }
    if (bytes.byteLength <= policy.maxImageBytes) return { taken: true, shot: { bytes, ...attempt } };
    last = bytes.byteLength;
  }
  return {
    taken: false,
    reason: `even the viewport at JPEG quality ${policy.retakeJpegQuality} was ${last} bytes, over the ceiling of ${policy.maxImageBytes}`,
  };
}

/** One value the engine typed into a field or chose in a select, in step order. */
export interface TypedValue {
  /** The step's index in the definition. */
  step: number;
  /** The profile field it came from; absent for a select's fixed `value`. */
  field?: string;
  value: string;
}

/**
 * SHA-256 (hex) of the canonical JSON (keys sorted, no whitespace) of the typed values, an array in step
 * order of `{"field":…,"step":…,"value":…}`: anyone holding the profile and the definition can recompute it,
 * and the proof keeps no copy of the profile.
 */
export function typedValuesSha256(values: readonly TypedValue[]): string {
  return createHash('sha256').update(canonicalJson(values)).digest('hex');
}
