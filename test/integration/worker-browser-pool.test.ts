/**
 * The browser pool on real Chromium: one browser reused across leases, a fresh context per lease, recycled
 * after N pages and after a lease reports it broken.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { BrowserPool, type BrowserPoolEvent } from '#functions/worker/browser-pool';

const events: BrowserPoolEvent[] = [];
const pool = new BrowserPool({ recycleAfterPages: 2, onEvent: (e) => events.push(e) });

afterAll(async () => {
  await pool.close();
});

describe('browser pool', () => {
  it('launches lazily, reuses one browser, and recycles it after N pages', async () => {
    expect(pool.state()).toMatchObject({ running: false, launches: 0 });
    const first = await pool.acquire();
    const pid = pool.browserPid();
    await (await first.newPage()).goto('about:blank');
    await first.release();
    const second = await pool.acquire();
    expect(pool.browserPid()).toBe(pid);
    expect(second.context).not.toBe(first.context);
    await second.release();
    // Two pages used: the browser is retired, and the next lease gets a new one.
    const third = await pool.acquire();
    expect(pool.browserPid()).not.toBe(pid);
    await third.release();
    expect(pool.state()).toMatchObject({ running: true, launches: 2, recycles: 1, openContexts: 0 });
    expect(events.filter((e) => e.type === 'recycle')).toEqual([{ type: 'recycle', reason: 'page-limit' }]);
  });

  it('counts a context left closing in the background as open, and retires the browser once it is closed', async () => {
    const background = new BrowserPool({ recycleAfterPages: 2 });
    try {
      const first = await background.acquire();
      const pid = background.browserPid();
      const firstClosing = first.release();
      expect(background.state().openContexts).toBe(1);
      const second = await background.acquire();
      expect(background.browserPid()).toBe(pid);
      const secondClosing = second.release();
      // Retiring: the next lease waits for both closes, then gets a new browser.
      const third = await background.acquire();
      expect(background.browserPid()).not.toBe(pid);
      await Promise.all([firstClosing, secondClosing]);
      expect(first.context.pages()).toEqual([]);
      expect(background.state()).toMatchObject({ launches: 2, recycles: 1, openContexts: 1 });
      await third.release();
      expect(background.state().openContexts).toBe(0);
    } finally {
      await background.close();
    }
  });

  it('relaunches after a lease reports the browser broken', async () => {
    const before = pool.state();
    const lease = await pool.acquire();
    await lease.release({ broken: true });
    expect(pool.state().running).toBe(false);
    const next = await pool.acquire();
    await next.release();
    expect(pool.state()).toMatchObject({ launches: before.launches + 1, recycles: before.recycles + 1 });
  });
});
