/**
 * b. The browser: a cold launch (the first acquire of a new BrowserPool: Chromium started and connected), a
 * warm acquire (a fresh isolated context in the running browser, what every directory costs), a page in it,
 * and a recycle (the old browser closed after its page limit, a new one launched). Beside them, the same
 * operations done directly with playwright-core, for reference.
 *
 * The cold start is measured twice, each in a new process as a new Lambda execution environment meets it:
 * on the worker bundled by esbuild with the worker function's own options (what Lambda loads; the goal is
 * judged on this), and through tsx (the TypeScript sources, as the local runtime loads them).
 *
 * Not measured: @sparticuz/chromium's one-time decompression of the binary into /tmp on a Lambda cold start
 * (the binary here is already extracted, and deleting it would break other runs on this machine).
 */
import { execFile } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { build } from 'esbuild';
import { BrowserPool, type BrowserPoolEvent } from '#functions/worker/browser-pool';
import { NetworkGuard } from '#functions/worker/network-guard';
import { startFixtureSites } from '#local/fixtures/sites';
import { multiStepWizard, scriptRendered, simpleForm } from '#local/fixtures/variants';
import { PROJECT_ROOT } from '#local/services/python';
import { WORKER } from '#policy';
import { BROWSER_NODE_MODULES } from '../lib/constructs/browser-function.ts';
import { CREATE_REQUIRE_BANNER } from '../lib/constructs/house-function.ts';
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

    // Cold starts: a new Node process each, as a new Lambda execution environment. First on the bundle
    // Lambda runs (esbuild, the worker function's options; the browser packages stay node_modules beside
    // it, here the project's), then on the TypeScript sources through tsx.
    const bundleDir = join(PROJECT_ROOT, '.formfleet', 'bench');
    await mkdir(bundleDir, { recursive: true });
    const bundle = join(bundleDir, 'worker-cold.mjs');
    await build({
      entryPoints: [join(PROJECT_ROOT, 'bench', 'lib', 'cold-entry.ts')],
      outfile: bundle,
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      mainFields: ['module', 'main'],
      minify: true,
      banner: { js: CREATE_REQUIRE_BANNER },
      external: [...BROWSER_NODE_MODULES],
      logLevel: 'error',
    });
    const coldSamples = async (args: string[]) => {
      const out = {
        import: [] as number[],
        launch: [] as number[],
        firstAcquire: [] as number[],
        total: [] as number[],
      };
      for (let i = 0; i < launches; i++) {
        const { stdout } = await run(process.execPath, args, { cwd: PROJECT_ROOT });
        const sample = JSON.parse(stdout.trim().split('\n').at(-1) as string) as Record<string, number>;
        out.import.push(sample.importMs as number);
        out.launch.push(sample.launchMs as number);
        out.firstAcquire.push(sample.firstAcquireMs as number);
        out.total.push((sample.importMs as number) + (sample.firstAcquireMs as number));
      }
      return out;
    };
    const bundled = await coldSamples(['bench/lib/cold-launch.mjs', bundle]);
    ctx.log(`cold start (bundled) p50 ${fmt(summarize(bundled.total).p50, 0)} ms`);
    const sources = await coldSamples([
      '--import',
      'tsx',
      'bench/lib/cold-launch.mjs',
      join(PROJECT_ROOT, 'functions', 'worker', 'browser-pool.ts'),
    ]);
    const coldImport = sources.import;
    const coldLaunch = sources.launch;
    const coldFirstAcquire = sources.firstAcquire;
    const coldTotal = sources.total;
    ctx.log(`cold start (tsx) p50 ${fmt(summarize(coldTotal).p50, 0)} ms`);

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

    // A directory visit's pages (a fresh context, three fixture pages, release) through the network gate, as
    // the worker loads them, and unrestricted, interleaved so both meet the same machine load.
    const visits = intArg(ctx.args, 'visits', 100);
    const sites = await startFixtureSites([simpleForm, scriptRendered, multiStepWizard]);
    const pages = [
      `${sites.site('simple-form').origin}/add`,
      `${sites.site('script-rendered').origin}/app`,
      `${sites.site('multi-step-wizard').origin}/wizard`,
    ];
    const gated = new BrowserPool({
      recycleAfterPages: Number.MAX_SAFE_INTEGER,
      network: new NetworkGuard({ allowedOrigins: sites.origins() }),
    });
    const open = new BrowserPool({ recycleAfterPages: Number.MAX_SAFE_INTEGER, network: 'unrestricted' });
    const visit = async (visitPool: BrowserPool) => {
      const t = performance.now();
      const lease = await visitPool.acquire();
      const tab = await lease.newPage();
      for (const url of pages) await tab.goto(url, { waitUntil: 'load' });
      await lease.release();
      return elapsedMs(t);
    };
    const visitGated: number[] = [];
    const visitOpen: number[] = [];
    try {
      await visit(gated);
      await visit(open);
      for (let i = 0; i < visits; i++) {
        visitGated.push(await visit(gated));
        visitOpen.push(await visit(open));
      }
    } finally {
      await gated.close();
      await open.close();
      await sites.stop();
    }

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
      bundledImport: summarize(bundled.import),
      bundledLaunch: summarize(bundled.launch),
      bundledFirstAcquire: summarize(bundled.firstAcquire),
      bundledTotal: summarize(bundled.total),
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
      visitGated: summarize(visitGated),
      visitOpen: summarize(visitOpen),
    };
    const table: Table = {
      title: 'Browser operations (ms)',
      columns: ['operation', 'n', 'p50', 'p95', 'max'],
      rows: [
        row(
          'cold start, bundled worker: import the bundle, playwright-core, @sparticuz/chromium',
          s.bundledImport,
        ),
        row('cold start, bundled worker: launch (Chromium started and connected)', s.bundledLaunch),
        row('cold start, bundled worker: first acquire (launch + first context)', s.bundledFirstAcquire),
        row('cold start, bundled worker, total: imports + first acquire', s.bundledTotal),
        row('cold start, sources via tsx: imports', s.coldImport),
        row('cold start, sources via tsx: launch', s.coldLaunch),
        row('cold start, sources via tsx: first acquire', s.coldFirstAcquire),
        row('cold start, sources via tsx, total: imports + first acquire', s.coldTotal),
        row('launch in a running process (new BrowserPool)', s.cold),
        row('first acquire of a new pool in a running process', s.coldAcquire),
        row('warm acquire (new isolated context)', s.acquire),
        row('new page in the context', s.page),
        row('release (context closed)', s.release),
        row('recycle: retire (old browser closed)', s.retire),
        row('recycle: relaunch (next acquire)', s.relaunch),
        row('recycle total', s.recycle),
        row('visit: context, 3 fixture pages, release, through the network gate', s.visitGated),
        row('visit: the same, unrestricted (no gate)', s.visitOpen),
        row('bare playwright-core: chromium.launch', s.bareLaunch),
        row('bare playwright-core: browser.newContext', s.bareContext),
      ],
      notes: [
        'cold start = a new node process per sample; "bundled worker" = functions/worker bundled by esbuild with the worker function\'s options (ESM, minified, browser packages external), run by plain node as Lambda runs it; "sources via tsx" = the TypeScript sources transpiled on load, as npm start runs them',
        'same Chromium binary and flags for the pool and the bare rows (@sparticuz/chromium, without --single-process outside Lambda)',
        `recycle measured with a pool retiring its browser every ${perBrowser} pages (policy: every ${WORKER.browserRecycleAfterPages})`,
        "acquire and release include opening and closing the context's network gate (a loopback proxy, functions/worker/network-guard.ts); the visit rows alternate a gated and an unrestricted pool, so both meet the same load",
        'not included: @sparticuz/chromium decompressing its binary into /tmp on a Lambda cold start (already extracted here)',
      ],
    };
    return {
      params: { launches, acquires, recycles, recycleEveryPages: perBrowser, visits },
      tables: [table],
      goals: [
        {
          goal: 'browser cold launch (audit target)',
          target: '< 1,000 ms',
          measured: `p50 ${fmt(s.bundledTotal.p50, 0)} ms, p95 ${fmt(s.bundledTotal.p95, 0)} ms (bundled worker: imports + launch + first context, new process)`,
          met: s.bundledTotal.p95 < 1_000,
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
