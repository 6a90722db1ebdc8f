/**
 * One cold browser start, as a new Lambda execution environment meets it, in a fresh Node process: imports
 * the module given as argv[2] (the bundled worker, see cold-entry.ts, under plain node; or the browser
 * pool's TypeScript source under tsx) and the browser packages, then launches Chromium through that
 * module's BrowserPool. Prints {"importMs":..,"launchMs":..,"firstAcquireMs":..}. Run by bench/browser.ts.
 */
const started = performance.now();
const { BrowserPool } = await import(process.argv[2]);
await import('playwright-core');
await import('@sparticuz/chromium');
const importMs = performance.now() - started;
let launchMs = Number.NaN;
const pool = new BrowserPool({
  recycleAfterPages: 50,
  onEvent: (e) => {
    if (e.type === 'launch') launchMs = e.ms;
  },
});
const t = performance.now();
const lease = await pool.acquire();
const firstAcquireMs = performance.now() - t;
await lease.release();
await pool.close();
process.stdout.write(`${JSON.stringify({ importMs, launchMs, firstAcquireMs })}\n`);
