/**
 * The one real synth: `npx cdk synth` of the dev stage exactly as a deployer runs it (bundling every
 * function with esbuild, cdk-nag enforced, CDK's CloudFormation validation on), with no AWS credentials.
 * Then cfn-lint on every template, and the bundles themselves: each loads in Node, the migrate bundle
 * carries sql/ and migrates a real Postgres, the worker bundle carries Chromium beside it.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FUNCTIONS, type FunctionSpec } from '#functions/manifest';
import { PROJECT_ROOT } from '#lib/constructs/house-function';
import { ensurePythonTools, venvBin } from '#local/services/python';
import { PRIORITY_TIERS } from '#policy';
import { DEFAULT_MIGRATIONS_DIR } from '#shared/migrate';
import { motoEndpoint, type TestDatabase, testDatabase } from '#test/services';
import type { Loose } from './support.ts';

const run = promisify(execFile);

/** The environment without anything that could reach a real AWS account. */
const noAws = () => Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('AWS_')));

interface Template {
  Resources: Record<string, { Type: string; Properties: Record<string, Loose> }>;
}

describe('cdk synth (bundled, offline)', () => {
  let out: string;
  let app: Template;
  let db: TestDatabase;

  /** The directory of the bundled asset of a manifest function. */
  const assetDirOf = (spec: FunctionSpec): string => {
    const fn = Object.values(app.Resources).find(
      (r) => r.Type === 'AWS::Lambda::Function' && r.Properties.FunctionName === `formfleet-dev-${spec.name}`,
    );
    const key = fn?.Properties.Code.S3Key as string;
    return join(out, `asset.${key.replace(/\.zip$/, '')}`);
  };

  /** Runs an ES module script in a fresh Node process inside a bundle directory (as Lambda would). */
  const inBundle = async (dir: string, script: string, env: Record<string, string>) => {
    try {
      const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], {
        cwd: dir,
        env: { PATH: process.env.PATH ?? '', ...env },
        timeout: 30_000,
      });
      return stdout.trim();
    } catch (err) {
      // Minified bundles make Node's error output enormous: keep the last line, which names the error.
      const stderr = String((err as { stderr?: string }).stderr ?? err);
      const lines = stderr.trim().split('\n');
      const named = lines.filter((l) => /Error\b/.test(l) && l.length < 500).at(-1) ?? lines.at(-1);
      throw new Error(`bundle script failed in ${dir}: ${named}`);
    }
  };
  const IMPORT = "const m = await import('./index.mjs');";

  beforeAll(async () => {
    out = await mkdtemp(join(tmpdir(), 'ff-cdk-out-'));
    await run('npx', ['cdk', 'synth', '--no-notices', '--quiet', '--output', out], {
      cwd: PROJECT_ROOT,
      env: { ...noAws(), CI: 'true' },
      timeout: 240_000,
      maxBuffer: 32 * 1024 * 1024,
    });
    app = JSON.parse(await readFile(join(out, 'formfleet-dev-app.template.json'), 'utf8'));
    db = await testDatabase('synth_migrate', { migrate: false });
  }, 260_000);

  afterAll(async () => {
    await db?.close();
    if (out) await rm(out, { recursive: true, force: true });
  });

  it('synthesizes both stacks without credentials, with cdk-nag and CloudFormation validation passing', async () => {
    const files = await readdir(out);
    expect(files).toEqual(
      expect.arrayContaining(['formfleet-dev-data.template.json', 'formfleet-dev-app.template.json']),
    );
    const report = JSON.parse(await readFile(join(out, 'validation-report.json'), 'utf8'));
    expect(report.pluginReports ?? []).toEqual([]);
  });

  it('passes cfn-lint on every synthesized template with no findings', async () => {
    await ensurePythonTools();
    const templates = (await readdir(out))
      .filter((f) => f.endsWith('.template.json'))
      .map((f) => join(out, f));
    expect(templates).toHaveLength(2);
    // W3005 (a DependsOn also implied by a GetAtt) is how CDK orders every Lambda after its role's policy.
    const result = await run(
      venvBin('cfn-lint'),
      ['--format', 'json', '--ignore-checks', 'W3005', '--', ...templates],
      { maxBuffer: 16 * 1024 * 1024 },
    ).catch((err: { stdout?: string }) => ({ stdout: err.stdout ?? '' }));
    const findings = JSON.parse(result.stdout || '[]') as { Rule: { Id: string }; Message: string }[];
    expect(findings.map((f) => `${f.Rule.Id}: ${f.Message}`)).toEqual([]);
  }, 120_000);

  it('ships sql/ in the migrate bundle, which migrates a real Postgres from $LAMBDA_TASK_ROOT/sql', async () => {
    const spec = FUNCTIONS.find((f) => f.kind === 'trigger') as FunctionSpec;
    const dir = assetDirOf(spec);
    const shipped = (await readdir(DEFAULT_MIGRATIONS_DIR)).filter((f) => f.endsWith('.sql')).sort();
    expect((await readdir(join(dir, 'sql'))).sort()).toEqual(shipped);

    const report = await inBundle(dir, `${IMPORT} console.log(JSON.stringify(await m.handler()));`, {
      DATABASE_URL: db.url,
      LAMBDA_TASK_ROOT: dir,
      POWERTOOLS_LOG_LEVEL: 'SILENT',
    });

    expect(JSON.parse(report)).toEqual({ applied: shipped, skipped: [] });
  }, 60_000);

  it('installs @sparticuz/chromium and playwright-core beside the worker bundle instead of inlining them', async () => {
    const worker = FUNCTIONS.find((f) => f.browser) as FunctionSpec;
    const dir = assetDirOf(worker);
    expect(existsSync(join(dir, 'node_modules/@sparticuz/chromium/bin/chromium.br'))).toBe(true);
    expect(existsSync(join(dir, 'node_modules/playwright-core/package.json'))).toBe(true);
    const bundle = await readFile(join(dir, 'index.mjs'), 'utf8');
    expect(bundle).toContain('"@sparticuz/chromium"');
    expect(bundle).not.toContain('chromium.br');
    const resolved = await inBundle(dir, "console.log(import.meta.resolve('@sparticuz/chromium'));", {});
    expect(resolved).toBe(`file://${join(dir, 'node_modules/@sparticuz/chromium/build/esm/index.js')}`);
  });

  it('bundles every handler so that it loads in a fresh Node process and exports `handler`', async () => {
    const env: Record<string, string> = {
      DATABASE_URL: db.url,
      AWS_REGION: 'us-east-1',
      AWS_ENDPOINT_URL: motoEndpoint(),
      AWS_ACCESS_KEY_ID: 'testing',
      AWS_SECRET_ACCESS_KEY: 'testing',
      POWERTOOLS_LOG_LEVEL: 'SILENT',
      ADMIN_API_KEY_IDS: 'admin',
      // Every binding's variable, as the stacks set them (values only need to parse at cold start).
      IDEMPOTENCY_TABLE: 'formfleet-idempotency',
      ALERTS_TOPIC_ARN: 'arn:aws:sns:us-east-1:000000000000:formfleet-alerts',
      SLACK_WEBHOOK_URL: 'http://127.0.0.1:9/slack',
      USAGE_PLAN_IDS: 'client=plan1',
      API_KEY_NAME_PREFIX: 'dev-formfleet-client-',
      RECORDS_BUCKET: 'formfleet-records',
      INBOUND_MAIL_DOMAIN: 'inbound.example.test',
      ...Object.fromEntries(
        PRIORITY_TIERS.flatMap((t) => [
          [`QUEUE_URL_${t.name}`, `${motoEndpoint()}/000000000000/q-${t.name}.fifo`],
          [`DLQ_URL_${t.name}`, `${motoEndpoint()}/000000000000/dlq-${t.name}.fifo`],
        ]),
      ),
    };
    for (const spec of FUNCTIONS.filter((f) => f.kind !== 'trigger')) {
      const dir = assetDirOf(spec);
      const bundle = await readFile(join(dir, 'index.mjs'), 'utf8');
      expect(
        bundle.startsWith("import { createRequire as __ffCreateRequire } from 'node:module';"),
        spec.name,
      ).toBe(true);
      expect(existsSync(join(dir, 'index.mjs.map')), spec.name).toBe(true);
      expect(await inBundle(dir, `${IMPORT} console.log(typeof m.handler);`, env), spec.name).toBe(
        'function',
      );
    }
  }, 120_000);
});
