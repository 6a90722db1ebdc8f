/**
 * Screenshots for proof, taken on the worker's page within policy EVIDENCE: JPEG at `jpegQuality`, the full
 * page clipped to `maxWidthPx` x `maxHeightPx`; one over `maxImageBytes` is taken again at
 * `retakeJpegQuality`, then of the viewport only, and is never kept above the ceiling (recorded as not taken,
 * with the reason). A capture never throws: a page that will not render within `screenshotTimeoutMs` is a
 * screenshot not taken, never a failed submission.
 */
import { createHash } from 'node:crypto';
import type { CDPSession, Page } from 'playwright-core';
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

/**
 * Chromium draws and encodes the screenshot itself (DevTools `Page.captureScreenshot`), asked directly over
 * one DevTools session per page. Playwright's page.screenshot asks for the same image but first runs its
 * preparation in every frame (a script world of its own made on the page if there is none, the caret hidden,
 * web fonts awaited, the page measured) and undoes it after: round trips to the renderer, on the way to the
 * submit click, that a proof does not need (measured in docs/performance.md, section a).
 */
const sessions = new WeakMap<Page, Promise<CDPSession>>();

function devtools(page: Page): Promise<CDPSession> {
  let session = sessions.get(page);
  if (!session) {
    session = page.context().newCDPSession(page);
    sessions.set(page, session);
    // A failed attach is not kept: the next capture tries again (and fails the same way on a closed page).
    session.catch(() => sessions.delete(page));
  }
  return session;
}

/** One JPEG of the page: from its top left, clipped to the policy's size, or of the viewport only. */
async function shoot(page: Page, quality: number, fullPage: boolean, policy: CapturePolicy): Promise<Buffer> {
  const session = await devtools(page);
  let metrics = await session.send('Page.getLayoutMetrics');
  if (metrics.cssContentSize.width === 0 || metrics.cssContentSize.height === 0) {
    // A document not laid out yet (the result page still arriving after a redirect): shot once it has
    // parsed, as Playwright's full-page screenshot waits for a body.
    await page.waitForLoadState('domcontentloaded');
    metrics = await session.send('Page.getLayoutMetrics');
  }
  const { cssContentSize, cssLayoutViewport, cssVisualViewport, contentSize } = metrics;
  // Output in CSS pixels whatever the device scale factor (Playwright's `scale: 'css'`).
  const scale = 1 / (contentSize.width / cssContentSize.width || 1);
  const viewport = { width: cssLayoutViewport.clientWidth, height: cssLayoutViewport.clientHeight };
  // The page is at least the viewport (a short page's shot shows the screen), at most the policy's size.
  const clip = fullPage
    ? {
        x: 0,
        y: 0,
        width: Math.min(policy.maxWidthPx, Math.max(viewport.width, Math.ceil(cssContentSize.width))),
        height: Math.min(policy.maxHeightPx, Math.max(viewport.height, Math.ceil(cssContentSize.height))),
      }
    : { x: cssVisualViewport.pageX, y: cssVisualViewport.pageY, ...viewport };
  const { data } = await session.send('Page.captureScreenshot', {
    format: 'jpeg',
    quality,
    clip: { ...clip, scale },
    // Drawing beyond the viewport costs a layout at the bigger size: only for a page that needs it.
    captureBeyondViewport: fullPage && (clip.width > viewport.width || clip.height > viewport.height),
  });
  return Buffer.from(data, 'base64');
}

export async function captureScreenshot(page: Page, policy: CapturePolicy): Promise<Capture> {
  const deadline = Date.now() + policy.screenshotTimeoutMs;
  const late = `no screenshot within ${policy.screenshotTimeoutMs} ms`;
  const attempts = [
    { quality: policy.jpegQuality, fullPage: true },
    { quality: policy.retakeJpegQuality, fullPage: true },
    { quality: policy.retakeJpegQuality, fullPage: false },
  ];
  let last = 0;
  for (const attempt of attempts) {
    const timeout = deadline - Date.now();
    if (timeout <= 0) return { taken: false, reason: late };
    let timer: NodeJS.Timeout | undefined;
    let bytes: Buffer | undefined;
    try {
      bytes = await Promise.race([
        shoot(page, attempt.quality, attempt.fullPage, policy),
        new Promise<undefined>((resolve) => {
          timer = setTimeout(() => resolve(undefined), timeout);
        }),
      ]);
    } catch (err) {
      return { taken: false, reason: `the screenshot failed: ${describeError(err).message.split('\n')[0]}` };
    } finally {
      clearTimeout(timer);
    }
    if (!bytes) return { taken: false, reason: late };
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
