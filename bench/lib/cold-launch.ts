/**
 * One cold browser start, as a new Lambda execution environment meets it: a fresh Node process imports the
 * worker's browser pool (playwright-core, @sparticuz/chromium) and launches Chromium through it. Prints
 * {"importMs":..,"launchMs":..} on stdout. Run by the browser benchmark, once per sample.
 */
const started = performance.now();
const { BrowserPool } = await import('#functions/worker/browser-pool');
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

export {};
