/**
 * One Chromium per worker process (per Lambda execution environment), launched lazily on first use and
 * reused across invocations; a fresh BrowserContext per directory so no cookie or storage crosses from
 * one customer to the next. The browser is recycled after N pages, when it disconnects or crashes, and
 * when a launch or page operation times out. Each context reaches the network only through its own gate of
 * the network guard (network-guard.ts), which refuses private and special addresses.
 */
import type { Browser, BrowserContext, BrowserContextOptions, LaunchOptions, Page } from 'playwright-core';
import { type NetworkGate, NetworkGuard, watchContext } from './network-guard.ts';

export interface BrowserPoolOptions {
  /** Chromium binary; defaults to CHROMIUM_PATH, then @sparticuz/chromium's extracted binary. */
  executablePath?: string | undefined;
  /** Relaunch after this many pages (contexts) have been used. */
  recycleAfterPages: number;
  /** Budget for launching Chromium and for browser-side operations (new context, new page, close). */
  launchTimeoutMs?: number;
  /** True in Lambda: adds @sparticuz/chromium's --single-process, which is unsafe anywhere else. */
  inLambda?: boolean;
  /**
   * What pages may reach. A NetworkGuard sends every context through a gate of its own that refuses private
   * and special addresses; 'unrestricted' is for a browser that opens only our own pages (the dashboard's
   * test), and is refused in Lambda. @default a NetworkGuard with no allowance (nothing private reachable)
   */
  network?: NetworkGuard | 'unrestricted';
  onEvent?: (event: BrowserPoolEvent) => void;
}

export type BrowserPoolEvent =
  | { type: 'launch'; ms: number }
  | { type: 'recycle'; reason: 'page-limit' | 'disconnected' | 'timeout' | 'crash' | 'close' }
  | { type: 'context'; ms: number };

export interface BrowserLease {
  context: BrowserContext;
  /** A new page in the lease's context; a browser that cannot open one in time is recycled. */
  newPage(): Promise<Page>;
  /**
   * Closes the context; `broken` asks the pool to relaunch the browser before the next lease. Never rejects.
   * The context counts as open until it is closed, so a caller may leave this running in the background:
   * the pool will not retire the browser under it, and a late failure recycles only the browser it was in.
   */
  release(options?: { broken?: boolean }): Promise<void>;
}

export interface BrowserState {
  running: boolean;
  pagesSinceLaunch: number;
  launches: number;
  recycles: number;
  openContexts: number;
}

/** Flags that keep Chromium off the network except for the pages it is asked to open. */
const QUIET_FLAGS = [
  // WebRTC's UDP cannot go through the gate's proxy, so it is not sent at all (a page could otherwise send
  // STUN packets to any address and port, loopback included; measured in test/integration/network-guard).
  '--force-webrtc-ip-handling-policy=disable_non_proxied_udp',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-default-apps',
  '--no-first-run',
  '--disable-quic',
  '--disable-gpu',
  '--disable-dev-shm-usage',
  '--mute-audio',
];

export class BrowserPool {
  private browser: Browser | undefined;
  private launching: Promise<Browser> | undefined;
  private pagesSinceLaunch = 0;
  private launches = 0;
  private recycles = 0;
  private openContexts = 0;
  private retireWhenIdle = false;
  private pid: number | undefined;
  /** Releases still closing their context (callers need not await them). */
  private readonly releasing = new Set<Promise<void>>();
  private readonly guard: NetworkGuard | undefined;

  constructor(private readonly options: BrowserPoolOptions) {
    if (options.network === 'unrestricted' && options.inLambda) {
      throw new Error('a browser in Lambda visits untrusted pages and must have a network guard');
    }
    this.guard = options.network === 'unrestricted' ? undefined : (options.network ?? new NetworkGuard());
  }

  state(): BrowserState {
    return {
      running: this.browser?.isConnected() ?? false,
      pagesSinceLaunch: this.pagesSinceLaunch,
      launches: this.launches,
      recycles: this.recycles,
      openContexts: this.openContexts,
    };
  }

  /** A fresh, isolated context in the shared browser. */
  async acquire(contextOptions: BrowserContextOptions = {}): Promise<BrowserLease> {
    if (this.retireWhenIdle) {
      // A retiring browser is replaced once idle; a context still closing in the background is not idle yet.
      // Contexts still open (other directories in flight) are not waited for: the browser keeps serving
      // until a moment with none open, so no lane pauses for a recycle.
      await Promise.all(this.releasing);
      if (this.retireWhenIdle && this.openContexts === 0) await this.recycle('page-limit');
    }
    const browser = await this.ensureBrowser();
    const started = Date.now();
    const gate = await this.guard?.open();
    let context: BrowserContext;
    try {
      context = await withTimeout(
        // The gate's proxy replaces any the caller gave: a guarded context has no other way out.
        browser.newContext(gate ? { ...contextOptions, proxy: gate.proxy } : contextOptions),
        this.options.launchTimeoutMs ?? 20_000,
        'newContext',
      );
    } catch (err) {
      await gate?.close();
      await this.recycle(err instanceof TimeoutError ? 'timeout' : 'crash');
      throw err;
    }
    if (gate) watchContext(context, gate);
    this.options.onEvent?.({ type: 'context', ms: Date.now() - started });
    this.openContexts += 1;
    this.pagesSinceLaunch += 1;
    if (this.pagesSinceLaunch >= this.options.recycleAfterPages) this.retireWhenIdle = true;
    let released: Promise<void> | undefined;
    const budget = this.options.launchTimeoutMs ?? 20_000;
    return {
      context,
      newPage: async () => {
        try {
          return await withTimeout(context.newPage(), budget, 'newPage');
        } catch (err) {
          if (err instanceof TimeoutError) this.retireWhenIdle = true;
          throw err;
        }
      },
      release: ({ broken = false } = {}) => {
        if (!released) {
          const closing = this.closeContext(browser, context, gate, broken);
          this.releasing.add(closing);
          released = closing.finally(() => this.releasing.delete(closing));
        }
        return released;
      },
    };
  }

  private async closeContext(
    browser: Browser,
    context: BrowserContext,
    gate: NetworkGate | undefined,
    broken: boolean,
  ): Promise<void> {
    let failed = broken;
    await withTimeout(context.close(), 5_000, 'context.close').catch(() => {
      failed = true;
    });
    // After the context: its connections through the gate are gone (a stuck one is cut here).
    await gate?.close();
    this.openContexts -= 1;
    // Recycled (or crashed and replaced) meanwhile: that took this context with it, and the pool's browser
    // now is another one, which this lease never used.
    if (this.browser !== browser) return;
    // A context that failed, while others still run in this browser (a worker's K directories in flight):
    // the browser is retired once they end, not closed under them. A crash needs no decision here: the
    // browser's 'disconnected' already took it out of the pool.
    if (failed && this.openContexts > 0) this.retireWhenIdle = true;
    else if (failed) await this.recycle('crash');
    else if (this.retireWhenIdle && this.openContexts === 0) await this.recycle('page-limit');
  }

  /** The operating-system process id of the running Chromium, if any (for diagnostics and fault tests). */
  browserPid(): number | undefined {
    return this.browser?.isConnected() ? this.pid : undefined;
  }

  /** Closes the browser (tests, shutdown). The next acquire launches a new one. */
  async close(): Promise<void> {
    await this.recycle('close');
  }

  private async ensureBrowser(): Promise<Browser> {
    if (this.browser?.isConnected()) return this.browser;
    if (this.browser) {
      this.browser = undefined;
      this.recycles += 1;
      this.options.onEvent?.({ type: 'recycle', reason: 'disconnected' });
    }
    this.launching ??= this.launch().finally(() => {
      this.launching = undefined;
    });
    return this.launching;
  }

  private async launch(): Promise<Browser> {
    const started = Date.now();
    const { chromium } = await import('playwright-core');
    const { executablePath, args } = await resolveChromium(this.options);
    const launchOptions: LaunchOptions = {
      executablePath,
      args,
      headless: true,
      timeout: this.options.launchTimeoutMs ?? 20_000,
      // Playwright closes the browser on these signals by default, which failed every page in flight the
      // moment SIGTERM arrived: the process owning the pool decides when it closes (close(), at exit).
      handleSIGINT: false,
      handleSIGTERM: false,
      handleSIGHUP: false,
    };
    const browser = await chromium.launch(launchOptions);
    browser.on('disconnected', () => {
      if (this.browser === browser) {
        // A crash: the next acquire relaunches (and counts the recycle).
        this.browser = undefined;
        this.recycles += 1;
        this.options.onEvent?.({ type: 'recycle', reason: 'disconnected' });
      }
    });
    this.pid = await browserProcessId(browser);
    this.browser = browser;
    this.pagesSinceLaunch = 0;
    this.retireWhenIdle = false;
    this.launches += 1;
    this.options.onEvent?.({ type: 'launch', ms: Date.now() - started });
    return browser;
  }

  private async recycle(
    reason: 'page-limit' | 'disconnected' | 'timeout' | 'crash' | 'close',
  ): Promise<void> {
    const browser = this.browser;
    const pid = this.pid;
    this.browser = undefined;
    this.pid = undefined;
    this.retireWhenIdle = false;
    this.pagesSinceLaunch = 0;
    if (!browser) return;
    if (reason !== 'close') {
      this.recycles += 1;
      this.options.onEvent?.({ type: 'recycle', reason });
    }
    await withTimeout(browser.close(), 5_000, 'browser.close').catch(() => {
      // A hung browser: kill its process outright.
      if (pid === undefined) return;
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    });
  }
}

/**
 * Flags @sparticuz/chromium adds that formfleet does not want: directory sites are untrusted pages, so
 * same-origin policy and mixed-content blocking stay on.
 */
const UNWANTED_FLAGS = new Set(['--disable-web-security', '--allow-running-insecure-content']);

/**
 * Chromium's command line: @sparticuz/chromium's Lambda-tuned flags plus quiet ones. --single-process is
 * kept only in Lambda: anywhere else closing one context would take the whole browser down with it.
 */
export function chromiumArgs(sparticuzArgs: readonly string[], inLambda: boolean): string[] {
  const base = sparticuzArgs.filter((a) => !UNWANTED_FLAGS.has(a) && (inLambda || a !== '--single-process'));
  return [...new Set([...base, ...QUIET_FLAGS])];
}

async function resolveChromium(
  options: BrowserPoolOptions,
): Promise<{ executablePath: string; args: string[] }> {
  const explicit = options.executablePath ?? process.env.CHROMIUM_PATH;
  const sparticuz = (await import('@sparticuz/chromium')).default;
  const args = chromiumArgs(sparticuz.args, options.inLambda ?? false);
  if (explicit) return { executablePath: explicit, args };
  return { executablePath: await sparticuz.executablePath(), args };
}

/** The browser process id, from Chromium itself (playwright's Browser does not expose its process). */
async function browserProcessId(browser: Browser): Promise<number | undefined> {
  try {
    const session = await browser.newBrowserCDPSession();
    const info = (await session.send('SystemInfo.getProcessInfo')) as {
      processInfo: { type: string; id: number }[];
    };
    await session.detach().catch(() => {});
    return info.processInfo.find((p) => p.type === 'browser')?.id;
  } catch {
    return undefined;
  }
}

export class TimeoutError extends Error {
  override readonly name = 'TimeoutError';
}

export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new TimeoutError(`${what} timed out after ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}
