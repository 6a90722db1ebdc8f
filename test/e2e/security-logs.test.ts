/**
 * No secret in any log line of an end-to-end run. The whole system runs in a child process (so everything
 * it writes, on stdout and stderr, is captured byte for byte) with the most talkative settings: DEBUG logs,
 * every incoming API event logged, EMF metrics on. Its configured secrets: the admin and client API keys,
 * a Postgres role with a password in the database URL, and the Slack webhook URL (whose path is the
 * secret). The run: a job submitted and read back over HTTP, refused requests, a client key pasted into a
 * query string, admin reads, and a poison message dying into the DLQ so an alert goes through the notifier
 * to the webhook. Then every capture is searched for every secret: none is there.
 */
import { randomBytes } from 'node:crypto';
import { GetQueueUrlCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { generateKey } from '#local/runtime';
import { motoEnv } from '#local/services/moto';
import { type SlackSink, startSlackSink } from '#local/slack-sink';
import { tierFor, tierQueueNames } from '#policy';
import { awsClientConfig } from '#shared/aws';
import { eventually, motoEndpoint, uniqueName } from '#test/services';
import { type SystemProcess, spawnSystem } from '#test/spawn-system';
import { FAST_WORKER_ENV } from '#test/worker-jobs';

const adminKey = generateKey('ffadmin');
const clientKey = generateKey('ffclient');
const role = uniqueName('ff_sec_role');
const password = randomBytes(18).toString('hex');
const database = uniqueName('ff_sec_db');
const queuePrefix = `${uniqueName('seclogs')}-`;
let databaseUrl: string;
let sink: SlackSink;
let system: SystemProcess;
let output = '';

async function asServerAdmin<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const admin = new pg.Client({ connectionString: inject('pgServerUrl') });
  await admin.connect();
  try {
    return await fn(admin);
  } finally {
    await admin.end();
  }
}

beforeAll(async () => {
  // A role of its own with a password, owning the database the system uses.
  await asServerAdmin(async (c) => {
    await c.query(`CREATE ROLE ${role} LOGIN PASSWORD '${password}'`);
    await c.query(`GRANT ${role} TO CURRENT_USER`);
    await c.query(`CREATE DATABASE ${database} OWNER ${role}`);
  });
  const url = new URL(inject('pgServerUrl'));
  url.username = role;
  url.password = password;
  url.pathname = `/${database}`;
  databaseUrl = url.toString();
  sink = await startSlackSink();
  system = await spawnSystem({
    DATABASE_URL: databaseUrl,
    FORMFLEET_MOTO_ENDPOINT: motoEndpoint(),
    FORMFLEET_QUEUE_PREFIX: queuePrefix,
    FORMFLEET_ADMIN_KEY: adminKey,
    FORMFLEET_CLIENT_KEY: clientKey,
    FORMFLEET_FIXTURES: 'simple-form,validation-error',
    SLACK_WEBHOOK_URL: sink.url,
    // As talkative as it gets: every level, every API event, metrics on stdout.
    POWERTOOLS_LOG_LEVEL: 'DEBUG',
    POWERTOOLS_LOGGER_LOG_EVENT: 'true',
    POWERTOOLS_METRICS_DISABLED: 'false',
    // dlq-check every 5 s; a refused message back after a second, so the poison dies in seconds.
    FORMFLEET_SCHEDULE_SPEED_UP: '60',
    FORMFLEET_VISIBILITY_SECONDS: '1',
    FORMFLEET_ALERT_RETRY_SECONDS: '1',
    FORMFLEET_HANDLER_ENV: JSON.stringify({
      ...FAST_WORKER_ENV,
      VISIBILITY_TIMEOUT_SECONDS: '30',
      SLACK_MIN_INTERVAL_MS: '100',
    }),
  });
});
afterAll(async () => {
  await system?.stop(5_000);
  await sink?.stop();
  await asServerAdmin(async (c) => {
    await c.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
    await c.query(`DROP ROLE IF EXISTS ${role}`);
  }).catch(() => {});
});

async function api(path: string, init: { method?: string; key?: string | null; body?: unknown } = {}) {
  const key = init.key === undefined ? clientKey : init.key;
  const send = () =>
    fetch(`${system.url}${path}`, {
      method: init.method ?? 'GET',
      headers: { 'content-type': 'application/json', ...(key ? { 'x-api-key': key } : {}) },
      ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
    });
  // A GET is retried once on a reset connection (a kept-alive socket closed under load, as any HTTP
  // client would); a system that died still fails the next attempt with a refused connection.
  const res = await send().catch((err: unknown) => {
    if (
      (init.method ?? 'GET') !== 'GET' ||
      (err as { cause?: { code?: string } }).cause?.code !== 'ECONNRESET'
    )
      throw err;
    return send();
  });
  return { status: res.status, body: (await res.json().catch(() => ({}))) as Record<string, unknown> };
}

describe('logs of an end-to-end run', () => {
  it('contain none of the configured secrets', async () => {
    const customer = await api('/v1/customers', {
      method: 'POST',
      body: { name: 'Secret Keepers', email: 'owner@secret.test', phone: '+1 555 0199' },
    });
    expect(customer.status).toBe(201);
    const job = await api('/v1/jobs', {
      method: 'POST',
      body: { customerId: customer.body.id, directoryIds: ['simple-form', 'validation-error'], priority: 1 },
    });
    expect(job.status).toBe(202);
    const jobId = job.body.id as string;
    await eventually(
      'the job to complete',
      async () => ((await api(`/v1/jobs/${jobId}`)).body.status === 'completed' ? true : undefined),
      { timeoutMs: 45_000, intervalMs: 250 },
    );
    // Refused and odd requests, and a client key pasted into a query string by mistake.
    expect((await api('/v1/jobs', { key: null })).status).toBe(403);
    expect((await api('/v1/jobs', { key: generateKey('ffclient') })).status).toBe(403);
    expect((await api('/v1/dlq')).status).toBe(403);
    expect((await api(`/v1/jobs?note=${clientKey}`)).status).toBeLessThan(500);
    expect((await api('/v1/jobs', { method: 'POST', body: { customerId: 'nope' } })).status).toBe(400);
    expect((await api('/v1/health', { key: adminKey })).status).toBe(200);
    expect((await api('/v1/dlq', { key: adminKey })).status).toBe(200);
    // A poison message: the worker fails it until SQS moves it to the DLQ; the check alerts Slack.
    const sqs = new SQSClient(awsClientConfig(motoEnv(motoEndpoint())));
    try {
      const { queue } = tierQueueNames(tierFor(2), queuePrefix);
      const { QueueUrl } = await sqs.send(new GetQueueUrlCommand({ QueueName: queue }));
      await sqs.send(
        new SendMessageCommand({
          QueueUrl,
          MessageBody: `{"poison":true,"key":"${clientKey}"}`,
          MessageGroupId: 'poison',
          MessageDeduplicationId: 'poison-1',
        }),
      );
    } finally {
      sqs.destroy();
    }
    await sink.waitForMessages(1, 45_000);
    expect(sink.messages.map((m) => JSON.stringify(m.blocks)).join('')).toContain('P2 dead-letter queue');
    await system.stop(10_000);
    output = `${system.stdout()}\n${system.stderr()}`;

    // The capture is the real thing: handler logs at every level, the events, the metrics, the alert.
    expect(output).toContain(jobId);
    for (const component of ['api-jobs', 'api-customers', 'worker', 'dlq-check', 'slack-notifier']) {
      expect(output).toContain(`"component":"${component}"`);
    }
    expect(output).toContain('"x-api-key":"[REDACTED]"');
    expect(output).toContain('"note":"[REDACTED]"');
    expect(output).toContain('"_aws"');
    const secrets = {
      'admin API key': adminKey,
      'client API key': clientKey,
      'database password': password,
      'database URL': databaseUrl,
      'Slack webhook URL': sink.url,
      'Slack webhook path': new URL(sink.url).pathname,
    };
    const found = Object.entries(secrets)
      .filter(([, value]) => output.includes(value) || output.includes(encodeURIComponent(value)))
      .map(([name]) => name);
    expect(found).toEqual([]);
  });
});
