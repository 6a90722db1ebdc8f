/**
 * `npm run test:reliability`: the longer fault and load runs (test/reliability/**), together with the fault
 * tests that also run in `npm test` (worker crash, browser crash, poison message, duplicate delivery,
 * hanging site, Slack outage, the ledger's edges, S3 down for proof), so this one command shows every fault
 * of issues 8, 13 and 18 end to end, and the ledger's model-based test with more sequences. Each test bounds its own time. No
 * coverage here: `npm test` measures it.
 */
import { defineConfig } from 'vitest/config';
import base from './vitest.config.ts';

// Spread rather than mergeConfig: merging would append these lists to npm test's include and exclude.
export default defineConfig({
  test: {
    ...base.test,
    include: [
      'test/reliability/**/*.test.ts',
      'test/e2e/worker-crash.test.ts',
      'test/e2e/worker-fleet.test.ts',
      'test/e2e/worker-variants.test.ts',
      'test/e2e/recovery-local.test.ts',
      'test/integration/worker-failures.test.ts',
      'test/integration/recovery-alerts.test.ts',
      'test/e2e/ledger-edges.test.ts',
      'test/e2e/ledger-model.test.ts',
      'test/e2e/proof.test.ts',
    ],
    exclude: ['**/node_modules/**'],
    // One file at a time: each load and fault run gets the whole machine, so its time bound holds on two
    // cores (the suite is about seven minutes in all).
    fileParallelism: false,
    coverage: { ...base.test?.coverage, enabled: false },
    env: {
      ...base.test?.env,
      // The ledger's model-based test draws more and longer sequences here than in npm test (3 of 10).
      LEDGER_MODEL_RUNS: process.env.LEDGER_MODEL_RUNS ?? '20',
      LEDGER_MODEL_COMMANDS: process.env.LEDGER_MODEL_COMMANDS ?? '14',
    },
    testTimeout: 300_000,
  },
});
