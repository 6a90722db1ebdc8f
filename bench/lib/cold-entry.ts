/**
 * What the worker Lambda's bundle holds, minus its top-level `await workerDepsFromEnv(...)` (which would
 * need a database): the handler, its dependencies and the browser pool. bench/browser.ts bundles this file
 * with the worker function's own esbuild options and imports the bundle in a fresh `node` process, so the
 * cold start is measured on the code Lambda loads, not on tsx transpiling TypeScript on the fly.
 */
export { BrowserPool } from '#functions/worker/browser-pool';
export { workerDepsFromEnv } from '#functions/worker/deps';
export { makeWorkerHandler } from '#functions/worker/handler';
