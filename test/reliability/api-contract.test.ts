/**
 * The API against its OpenAPI document, checked by an independent tool: Schemathesis (pinned in
 * requirements.txt, installed into .venv by `npm run setup:python`) generates requests from docs/openapi.json
 * for every operation the document lists (valid ones, invalid ones and stateful chains along the links it
 * infers) and sends them over HTTP to a local system of its own: a fresh database, its own queues on the
 * shared moto server, the fixture directories seeded into that database only, no workers, rate limits out of
 * the way. The run fails on any server error, any status, media type or body the document does not promise,
 * any request the document calls valid that the server refuses, and any the document calls invalid that the
 * server accepts (test/reliability/schemathesis/schemathesis.toml). Bounded: a fixed number of examples per
 * operation and phase from a fixed seed, and a deadline after which the run is stopped and the test fails.
 * The numbers of the run (operations, cases, failures, time) go to test-artifacts/api-contract.json.
 */
import { spawn } from 'node:child_process';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROUTES } from '#functions/api/routes';
import { type LocalSystem, startLocalSystem } from '#local/runtime';
import { ensurePythonTools, PROJECT_ROOT, venvBin } from '#local/services/python';
import { motoEndpoint, type TestDatabase, testDatabase, uniqueName } from '#test/services';

const CONFIG = 'test/reliability/schemathesis/schemathesis.toml';
const REPORT_DIR = join(PROJECT_ROOT, 'test-artifacts', 'schemathesis');
const DEADLINE_MS = 10 * 60_000;
const ROOMY = '1000000';

let t: TestDatabase;
let system: LocalSystem;

beforeAll(async () => {
  await ensurePythonTools();
  t = await testDatabase('api_contract', { migrate: false });
  system = await startLocalSystem({
    port: 0,
    databaseUrl: t.url,
    motoEndpoint: motoEndpoint(),
    queuePrefix: `${uniqueName('contract')}-`,
    workers: false,
    schedules: { timers: false },
    // Schemathesis sends far more than a client may per minute; the limits have tests of their own.
    env: {
      RATE_LIMIT_CLIENT_PER_MINUTE: ROOMY,
      RATE_LIMIT_CLIENT_PER_HOUR: ROOMY,
      RATE_LIMIT_ADMIN_PER_MINUTE: ROOMY,
      RATE_LIMIT_ADMIN_PER_HOUR: ROOMY,
      RATE_LIMIT_ANONYMOUS_PER_MINUTE: ROOMY,
    },
  });
}, 180_000);
afterAll(async () => {
  await system?.stop();
  await t?.close();
});

/** Runs Schemathesis to completion (or kills it at the deadline); resolves with its exit code and output. */
function schemathesis(args: string[]): Promise<{ code: number | null; output: string; killed: boolean }> {
  return new Promise((resolve, reject) => {
    const child = spawn(venvBin('schemathesis'), args, {
      cwd: PROJECT_ROOT,
      env: { ...process.env, NO_COLOR: '1', PYTHONUNBUFFERED: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const chunks: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => chunks.push(c));
    child.stderr.on('data', (c: Buffer) => chunks.push(c));
    let killed = false;
    const timer = setTimeout(() => {
      killed = true;
      child.kill('SIGKILL');
    }, DEADLINE_MS);
    child.once('error', reject);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, output: Buffer.concat(chunks).toString('utf8'), killed });
    });
  });
}

interface RunReport {
  exit_code: number;
  complete: boolean;
  running_time: number;
  seed: number;
  operations: { total: number; selected: number; tested: number; errored: number };
  test_cases: { generated: number; with_failures: number; unique_failures: number; errored: number };
  failures: { code: string; title: string; count: number; operations: string[] }[];
  errors: unknown[];
}

describe('the OpenAPI contract (Schemathesis)', () => {
  it(
    'holds for every documented operation: no 5xx, only documented answers, valid requests accepted, invalid ones refused',
    async () => {
      // Arrange: a clean report directory; the directories the seed wrote into this system's own database.
      await rm(REPORT_DIR, { recursive: true, force: true });
      await mkdir(REPORT_DIR, { recursive: true });
      const seeded = await system.db.query<{ n: number }>('SELECT count(*)::int AS n FROM directories');
      expect(seeded.rows[0]?.n).toBeGreaterThan(0);

      // Act
      const run = await schemathesis([
        '--config-file',
        CONFIG,
        '--no-color',
        'run',
        'docs/openapi.json',
        '--url',
        system.url,
        '--header',
        `x-api-key: ${system.keys.admin}`,
        '--report',
        'json,junit',
        '--report-dir',
        REPORT_DIR,
      ]);

      // Assert: it finished by itself, tested every operation of the document, and found nothing.
      expect(run.killed, `Schemathesis ran past ${DEADLINE_MS / 60_000} min`).toBe(false);
      const file = (await readdir(REPORT_DIR)).find((f) => f.endsWith('.json'));
      expect(file, run.output.slice(-4000)).toBeDefined();
      const report = JSON.parse(await readFile(join(REPORT_DIR, file as string), 'utf8')) as RunReport;
      const numbers = {
        operations: report.operations.tested,
        cases: report.test_cases.generated,
        failures: report.test_cases.unique_failures,
        errors: report.errors.length,
        seconds: Math.round(report.running_time),
        seed: report.seed,
      };
      await writeFile(
        join(PROJECT_ROOT, 'test-artifacts', 'api-contract.json'),
        `${JSON.stringify(numbers, null, 2)}\n`,
      );
      console.log(
        `schemathesis: ${numbers.operations} operations, ${numbers.cases} cases, ${numbers.failures} failures, ` +
          `${numbers.errors} errors in ${numbers.seconds} s (seed ${numbers.seed})`,
      );
      const details = run.output.slice(-8000);
      expect(report.failures, details).toEqual([]);
      expect(report.errors, details).toEqual([]);
      expect(report.test_cases.errored, details).toBe(0);
      expect(report.complete).toBe(true);
      expect(run.code, details).toBe(0);
      expect(report.operations.total).toBe(ROUTES.length);
      expect(report.operations.tested).toBe(ROUTES.length);
      expect(report.test_cases.generated).toBeGreaterThan(ROUTES.length * 20);
    },
    DEADLINE_MS + 60_000,
  );
});
