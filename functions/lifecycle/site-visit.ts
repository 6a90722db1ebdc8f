/**
 * One polite browser visit to a directory site outside a job: the site's politeness lease (the very
 * site_visits row the worker takes, so a lookup and a submission never visit one site at once, and the
 * minimum gap holds between them), a fresh context in the shared BrowserPool (behind its network guard), one
 * page handed to `look`, then the context closed and the site given back.
 *
 * The listing rechecks visit through here with the definition's `verify` lookup. It is also the seam for the
 * next visit after the click: following a verification mail's link and checking the definition's
 * confirmation indicator is one more `look` on the same visit (docs/architecture.md, "The listing lifecycle").
 */
import type { Page } from 'playwright-core';
import type { BrowserPool } from '#functions/worker/browser-pool';
import type { SitePoliteness } from '#functions/worker/site-politeness';

export interface SiteVisitPorts {
  browser: Pick<BrowserPool, 'acquire'>;
  politeness: SitePoliteness;
  /** Who holds the site's lease while visiting (site_visits.holder). */
  holder: string;
  /** Longest wait for a site another visitor holds; SiteBusyError after it. */
  siteWaitMaxMs: number;
}

/**
 * Visits `site` politely and returns what `look` found on a fresh page. Throws SiteBusyError if the site
 * stayed busy, and whatever the browser threw (the browser is then recycled before its next use).
 */
export async function visitSite<T>(
  ports: SiteVisitPorts,
  site: string,
  look: (page: Page) => Promise<T>,
): Promise<T> {
  const slot = await ports.politeness.acquire(site, {
    holder: ports.holder,
    maxWaitMs: ports.siteWaitMaxMs,
  });
  try {
    const lease = await ports.browser.acquire();
    let broken = false;
    try {
      return await look(await lease.newPage());
    } catch (err) {
      broken = true;
      throw err;
    } finally {
      await lease.release({ broken });
    }
  } finally {
    await slot.release();
  }
}
