/**
 * b. The browser: a cold launch (the first acquire of a new BrowserPool: Chromium started and connected), a
 * warm acquire (a fresh isolated context in the running browser, what every directory costs), a page in it,
 * and a recycle (the old browser closed after its page limit, a new one launched). Beside them, the same
 * operations done directly with playwright-core, for reference.
 *
 * Not measured: @sparticuz/chromium's one-time decompression of the binary into /tmp on a Lambda cold start
 * (the binary here is already extracted, and deleting it would break other runs on this machine).
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { BrowserPool, type BrowserPoolEvent } from '#functions/worker/browser-pool';
import { PROJECT_ROOT } from '#local/services/python';
import { WORKER } from '#policy';
import { launchBareChromium } from './lib/bare-forms.ts';
import { type Benchmark, intArg } from './lib/benchmark.ts';
import { fmt, type Table } from './lib/report.ts';
import { elapsedMs, type Summary, summarize } from './lib/stats.ts';

const run = promisify(execFile);

const row = (what: string, s: Summary): (string | number)[] => [
  what,
  String(s.n),
  fmt(s.p50, 1),
  fmt(s.p95, 1),
  fmt(s.max, 1),
];

export const browser: Benchmark = {
  name: 'browser',
  title: 'Browser: cold launch, warm context acquire, recycle',
  summary: 'Chromium cold launch, warm context acquire p50/p95, page open, recycle cost',
  async run(ctx) {
    const launches = intArg(ctx.args, 'launches', 10);
    const acquires = intArg(ctx.args, 'acquires', 300);
    const recycles = intArg(ctx.args, 'recycles', 10);

    // Cold starts: a new Node process each, as a new Lambda execution environment.
    const coldImport: number[] = [];
    const coldLaunch: number[] = [];
    const coldFirstAcquire: number[] = [];
    const coldTotal: number[] = [];
    for (let i = 0; i < launches; i++) {
      const { stdout } = await run(process.execPath, ['--import', 'tsx', 'bench/lib/cold-launch.ts'], {
        cwd: PROJECT_ROOT,
      });
      const sample = JSON.parse(stdout.trim().split('\n').at(-1) as string) as Record<string, number>;
      coldImport.push(sample.importMs as number);
      coldLaunch.push(sample.launchMs as number);
      coldFirstAcquire.push(sample.firstAcquireMs as number);
      coldTotal.push((sample.importMs as number) + (sample.firstAcquireMs as number));
    }
    ctx.log(`cold launch p50 ${fmt(summarize(coldLaunch).p50, 0)} ms`);

    // Launches in a running process (modules loaded): a new pool each time; its first acquire launches.
    await import('playwright-core');
    await import('@sparticuz/chromium');
    const cold: number[] = [];
    const coldAcquire: number[] = [];
    for (let i = 0; i < launches; i++) {
      let launchMs = Number.NaN;
      const pool = new BrowserPool({
        recycleAfterPages: WORKER.browserRecycleAfterPages,
        onEvent: (e: BrowserPoolEvent) => {
          if (e.type === 'launch') launchMs = e.ms;
        },
      });
      const start = performance.now();
      const lease = await pool.acquire();
      coldAcquire.push(elapsedMs(start));
      cold.push(launchMs);
      await lease.release();
      await pool.close();
    }

    // Warm acquires on one running browser: context, page, release.
    const pool = new BrowserPool({ recycleAfterPages: Number.MAX_SAFE_INTEGER });
    await (await pool.acquire()).release();
    const acquire: number[] = [];
    const page: number[] = [];
    const release: number[] = [];
    for (let i = 0; i < acquires; i++) {
      let t = performance.now();
      const lease = await pool.acquire();
      acquire.push(elapsedMs(t));
      t = performance.now();
      await lease.newPage();
      page.push(elapsedMs(t));
      t = performance.now();
      await lease.release();
      release.push(elapsedMs(t));
    }
    await pool.close();
    ctx.log(`warm acquire p50 ${fmt(summarize(acquire).p50, 1)} ms`);

    // Recycles: a pool that retires its browser after every `perBrowser` pages. The release that retires
    // it closes the browser; the next acquire launches the new one.
    const perBrowser = 5;
    const recyclePool = new BrowserPool({ recycleAfterPages: perBrowser });
    const retire: number[] = [];
    const relaunch: number[] = [];
    for (let i = 0; i < recycles * perBrowser; i++) {
      let t = performance.now();
      const lease = await recyclePool.acquire();
      const acquired = elapsedMs(t);
      if (i % perBrowser === 0 && i > 0) relaunch.push(acquired);
      t = performance.now();
      await lease.release();
      if (i % perBrowser === perBrowser - 1) retire.push(elapsedMs(t));
    }
    await recyclePool.close();
    const recycle = retire.slice(0, relaunch.length).map((ms, i) => ms + (relaunch[i] as number));

    // The same with playwright-core directly.
    const bareLaunch: number[] = [];
    for (let i = 0; i < launches; i++) {
      const t = performance.now();
      const b = await launchBareChromium();
      bareLaunch.push(elapsedMs(t));
      await b.close();
    }
    const bare = await launchBareChromium();
    const bareContext: number[] = [];
    for (let i = 0; i < acquires; i++) {
      const t = performance.now();
      const context = await bare.newContext();
      bareContext.push(elapsedMs(t));
      await context.close();
    }
    await bare.close();

    const s = {
      coldImport: summarize(coldImport),
      coldLaunch: summarize(coldLaunch),
      coldFirstAcquire: summarize(coldFirstAcquire),
      coldTotal: summarize(coldTotal),
      cold: summarize(cold),
      coldAcquire: summarize(coldAcquire),
      acquire: summarize(acquire),
      page: summarize(page),
      release: summarize(release),
      retire: summarize(retire),
      relaunch: summarize(relaunch),
      recycle: summarize(recycle),
      bareLaunch: summarize(bareLaunch),
      bareContext: summarize(bareContext),
    };
    const table: Table = {
      title: 'Browser operations (ms)',
      columns: ['operation', 'n', 'p50', 'p95', 'max'],
      rows: [
        row('cold start: import playwright-core and @sparticuz/chromium (new process)', s.coldImport),
        row('cold start: launch (Chromium started and connected, new process)', s.coldLaunch),
        row('cold start: first acquire (launch + first context, new process)', s.coldFirstAcquire),
        row('cold start total: imports + first acquire (new process)', s.coldTotal),
        row('launch in a running process (new BrowserPool)', s.cold),
        row('first acquire of a new pool in a running process', s.coldAcquire),
        row('warm acquire (new isolated context)', s.acquire),
        row('new page in the context', s.page),
        row('release (context closed)', s.release),
        row('recycle: retire (old browser closed)', s.retire),
        row('recycle: relaunch (next acquire)', s.relaunch),
        row('recycle total', s.recycle),
        row('bare playwright-core: chromium.launch', s.bareLaunch),
        row('bare playwright-core: browser.newContext', s.bareContext),
      ],
      notes: [
        'same Chromium binary and flags for the pool and the bare rows (@sparticuz/chromium, without --single-process outside Lambda)',
        `recycle measured with a pool retiring its browser every ${perBrowser} pages (policy: every ${WORKER.browserRecycleAfterPages})`,
        'not included: @sparticuz/chromium decompressing its binary into /tmp on a Lambda cold start (already extracted here)',
      ],
    };
    return {
      params: { launches, acquires, recycles, recycleEveryPages: perBrowser },
      tables: [table],
      goals: [
        {
          goal: 'browser cold launch (audit target)',
          target: '< 1,000 ms',
          measured: `p50 ${fmt(s.coldTotal.p50, 0)} ms, p95 ${fmt(s.coldTotal.p95, 0)} ms (imports + launch + first context, new process)`,
          met: s.coldTotal.p95 < 1_000,
        },
        {
          goal: 'warm context acquire p50',
          target: '≤ 30 ms',
          measured: `p50 ${fmt(s.acquire.p50, 1)} ms, p95 ${fmt(s.acquire.p95, 1)} ms`,
          met: s.acquire.p50 <= 30,
        },
      ],
      raw: s,
    };
  },
};
