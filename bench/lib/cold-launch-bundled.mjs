/**
 * One cold browser start on the bundled worker (see cold-entry.ts), in plain `node` as Lambda runs it:
 * imports the bundle given as argv[2] and the browser packages installed beside it, then launches
 * Chromium through the bundle's BrowserPool. Prints {"importMs":..,"launchMs":..,"firstAcquireMs":..}.
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
