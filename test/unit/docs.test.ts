/**
 * The docs say what the code does: the configuration reference is what the generator makes of the code now,
 * every variable a function reads is in it, the architecture names every function and route, the runbooks
 * walk real ops-CLI commands beside their AWS equivalents, and every relative link resolves.
 */

import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { notifierDepsFromEnv, pagerDutyNotifierDepsFromEnv } from '#functions/alerts/deps';
import {
  customersApiDepsFromEnv,
  directoriesApiDepsFromEnv,
  dlqApiDepsFromEnv,
  healthApiDepsFromEnv,
  jobsApiDepsFromEnv,
  keysApiDepsFromEnv,
  probesApiDepsFromEnv,
  submissionsApiDepsFromEnv,
  webhooksApiDepsFromEnv,
} from '#functions/api/deps';
import { ROUTES } from '#functions/api/routes';
import { healthDepsFromEnv } from '#functions/directories/health-deps';
import { recheckDepsFromEnv } from '#functions/lifecycle/deps';
import { mailInboundDepsFromEnv } from '#functions/mail/deps';
import { FUNCTIONS } from '#functions/manifest';
import { migrateTriggerDepsFromEnv } from '#functions/migrate/trigger';
import { dlqCheckDepsFromEnv, staleJobsDepsFromEnv } from '#functions/recovery/deps';
import { retentionDepsFromEnv } from '#functions/retention/deps';
import { webhookDeliveryDepsFromEnv, webhookDispatchDepsFromEnv } from '#functions/webhooks/deps';
import { workerDepsFromEnv } from '#functions/worker/deps';
import { promoteJobsDepsFromEnv } from '#functions/worker/promotion-deps';
import { OPS_COMMAND_NAMES } from '#local/cli/ops';
import { documentedNames } from '#local/configuration/environment';
import { CONFIGURATION_DOC, configurationReference } from '#local/configuration/reference';
import { PROJECT_ROOT } from '#local/services/python';
import { resolveDatabaseUrl } from '#shared/database-config';
import type { Database } from '#shared/db';
import type { Env } from '#shared/env';

const read = (path: string) => readFileSync(join(PROJECT_ROOT, path), 'utf8');

/** An environment with everything a function needs, recording every variable read from it. */
function recordingEnv(): { env: Env; reads: Set<string> } {
  const reads = new Set<string>();
  const values: Record<string, string> = {
    DATABASE_URL: 'postgres://app:pw@127.0.0.1:1/formfleet',
    ADMIN_API_KEY_IDS: 'admin-id',
    IDEMPOTENCY_TABLE: 'idempotency',
    RECORDS_BUCKET: 'records',
    INBOUND_MAIL_DOMAIN: 'inbound.example.test',
    ALERTS_TOPIC_ARN: 'arn:aws:sns:us-east-1:000000000000:alerts',
    SLACK_WEBHOOK_URL: 'http://127.0.0.1:1/services/T/B/x',
    AWS_ENDPOINT_URL: 'http://127.0.0.1:1',
    AWS_REGION: 'us-east-1',
    USAGE_PLAN_IDS: 'client=plan1',
    API_KEY_NAME_PREFIX: 'test-formfleet-client-',
    WEBHOOK_QUEUE_URL: 'http://127.0.0.1:1/000000000000/webhooks.fifo',
    WEBHOOK_KMS_KEY_ID: 'arn:aws:kms:us-east-1:000000000000:key/00000000-0000-0000-0000-000000000000',
    PAGERDUTY_ROUTING_KEY: 'R0UT1NGKEY0000000000000000000000',
    ...Object.fromEntries(
      ['P1', 'P2', 'P3'].flatMap((t) => [
        [`QUEUE_URL_${t}`, `http://127.0.0.1:1/000000000000/${t}.fifo`],
        [`DLQ_URL_${t}`, `http://127.0.0.1:1/000000000000/${t}-dlq.fifo`],
      ]),
    ),
  };
  const env = new Proxy(values, {
    get(target, key) {
      if (typeof key === 'string' && /^[A-Z][A-Z0-9_]*$/.test(key)) reads.add(key);
      return typeof key === 'string' ? target[key] : undefined;
    },
  });
  return { env, reads };
}

describe('the configuration reference', () => {
  it('is what the generator makes of the environment catalog and policy.ts now (npm run docs:config)', async () => {
    expect(read(CONFIGURATION_DOC)).toBe(await configurationReference());
  });

  it('documents every variable each function reads, and every tuning variable is read by one', async () => {
    const { env, reads } = recordingEnv();
    // No connection is made while building: the adapters only keep the pool.
    const db = {} as Database;
    const builders: Record<string, () => Promise<unknown>> = {
      'api-jobs': () => jobsApiDepsFromEnv(env, db),
      'api-customers': () => customersApiDepsFromEnv(env, db),
      'api-health': () => healthApiDepsFromEnv(env, db),
      'api-directories': () => directoriesApiDepsFromEnv(env, db),
      'api-submissions': () => submissionsApiDepsFromEnv(env, db),
      'api-dlq': () => dlqApiDepsFromEnv(env, db),
      'api-keys': () => keysApiDepsFromEnv(env, db),
      'api-probes': () => probesApiDepsFromEnv(env, db),
      worker: () => workerDepsFromEnv(env, db),
      'promote-jobs': () => promoteJobsDepsFromEnv(env, db),
      'recheck-listings': () => recheckDepsFromEnv(env, db),
      'directory-health': () => healthDepsFromEnv(env, db),
      'mail-inbound': () => mailInboundDepsFromEnv(env, db),
      'stale-jobs': () => staleJobsDepsFromEnv(env, db),
      'dlq-check': () => dlqCheckDepsFromEnv(env, db),
      retention: () => retentionDepsFromEnv(env, db),
      'slack-notifier': () => notifierDepsFromEnv(env),
      'pagerduty-notifier': () => pagerDutyNotifierDepsFromEnv(env),
      'api-webhooks': () => webhooksApiDepsFromEnv(env, db),
      'webhook-dispatch': () => webhookDispatchDepsFromEnv(env, db),
      'webhook-delivery': () => webhookDeliveryDepsFromEnv(env, db),
      migrate: () => migrateTriggerDepsFromEnv(env),
    };
    // A new function must be added here, so what it reads gets documented.
    expect(Object.keys(builders).sort()).toEqual(FUNCTIONS.map((f) => f.name).sort());
    for (const build of Object.values(builders)) await build();
    await resolveDatabaseUrl(env);

    const documented = documentedNames();
    expect([...reads].filter((name) => !documented.has(name))).toEqual([]);
    expect([...documentedNames('override')].filter((name) => !reads.has(name))).toEqual([]);
  });
});

describe('the architecture', () => {
  const doc = existsSync(join(PROJECT_ROOT, 'docs/architecture.md')) ? read('docs/architecture.md') : '';

  it('draws in Mermaid and names every function of the manifest and every route', () => {
    expect(doc).toContain('```mermaid');
    for (const f of FUNCTIONS) expect(doc, f.name).toContain(f.name);
    for (const r of ROUTES) expect(doc, `${r.method} ${r.path}`).toContain(`${r.method} ${r.path}`);
  });
});

const RUNBOOKS = [
  'docs/runbooks/directory-paused.md',
  'docs/runbooks/stale-jobs.md',
  'docs/runbooks/dlq.md',
  'docs/runbooks/rate-limits.md',
  'docs/runbooks/scale-workers.md',
  'docs/runbooks/deploy-rollback.md',
  'docs/runbooks/first-deploy.md',
  'docs/runbooks/blocked-destination.md',
  'docs/runbooks/listings-not-going-live.md',
  'docs/runbooks/task-queue.md',
];

function markdownFiles(dir: string): string[] {
  return readdirSync(join(PROJECT_ROOT, dir), { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? markdownFiles(join(dir, e.name)) : e.name.endsWith('.md') ? [join(dir, e.name)] : [],
  );
}

describe('the runbooks', () => {
  it('walk ops-CLI commands beside their AWS CLI or console equivalents', () => {
    for (const path of RUNBOOKS) {
      const text = read(path);
      expect(text, path).toMatch(/npm run ops -- /);
      expect(text, path).toMatch(/^\s*aws [a-z0-9-]+ [a-z0-9-]+/m);
      expect(text, path).toMatch(/console/i);
    }
  });

  it('use only commands the ops CLI has', () => {
    for (const path of [...markdownFiles('docs'), 'README.md']) {
      for (const match of read(path).matchAll(/npm run ops -- ([a-z]+(?: [a-z][a-z-]*)?)/g)) {
        const words = (match[1] as string).split(' ');
        const names = [...OPS_COMMAND_NAMES, 'help'];
        const known = names.includes(words.join(' ')) || names.includes(words[0] as string);
        expect(known, `${path}: npm run ops -- ${match[1]}`).toBe(true);
      }
    }
  });

  it('link only to files that exist', () => {
    for (const path of [...markdownFiles('docs'), 'README.md']) {
      for (const match of read(path).matchAll(/\]\(([^)#\s]+)(#[^)]*)?\)/g)) {
        const target = match[1] as string;
        if (/^[a-z]+:/.test(target)) continue;
        expect(existsSync(join(PROJECT_ROOT, dirname(path), target)), `${path} → ${target}`).toBe(true);
      }
    }
  });
});
