import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The longer fault and load runs have their own script and config (npm run test:reliability).
    exclude: ['test/reliability/**', '**/node_modules/**'],
    globalSetup: ['test/helpers/global-setup.ts'],
    // Each test file in its own process: browsers, pools and timers never leak between files.
    pool: 'forks',
    // Two files at a time even on two cores (Vitest's default there is one): most tests wait on Chromium,
    // moto, Postgres and timers rather than compute, and the suite must finish within 5 minutes.
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 120_000,
    env: {
      // Lambda runs Node.js 22; locally Node 20.19+ is supported, so the SDK's upgrade notice is noise here.
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      POWERTOOLS_LOG_LEVEL: process.env.POWERTOOLS_LOG_LEVEL ?? 'SILENT',
      POWERTOOLS_METRICS_DISABLED: 'true',
    },
    coverage: {
      provider: 'v8',
      include: ['functions/**/*.ts', 'lib/**/*.ts', 'local/**/*.ts'],
      // The dashboard's browser script runs in Chromium, where Node's V8 coverage cannot see it; the dashboard
      // e2e test exercises it there (figures checked against the API).
      exclude: ['local/dashboard/client/**'],
      reporter: ['text-summary', 'json-summary'],
      reportsDirectory: 'coverage',
      thresholds: { lines: 80 },
    },
  },
});
