/**
 * A laboratory for the ledger's edge cases (issue 18): a local system with steerable fixture sites
 * (local/fixtures/ledger-sites.ts) and no pollers, so a test decides when each message is delivered, what
 * the site does with the post, and what goes wrong around it: the browser killed or the worker stopped
 * before or after the click, a worker dying mid-job (a zombie claim), a message lost or dead-lettered. Jobs
 * and customers go through the HTTP API exactly as clients send them; deliveries run the real worker
 * handler; recovery runs the real stale-jobs handler and DLQ redrive. The sites count what they receive.
 */
import {
  ChangeMessageVisibilityCommand,
  DeleteMessageCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
} from '@aws-sdk/client-sqs';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { staleJobsDepsFromEnv } from '#functions/recovery/deps';
import { makeStaleJobsHandler, type StaleJobsReport } from '#functions/recovery/stale-jobs';
import { makeWorkerHandler } from '#functions/worker/handler';
import { controlledSite, type SiteControl } from '#local/fixtures/ledger-sites';
import { type LocalSystem, startLocalSystem } from '#local/runtime';
import { toSqsRecord } from '#local/sqs-poller';
import { PgCustomerStore, type Profile } from '#shared/customer-store';
import { parseJobMessage } from '#shared/job-queue';
import { PgJobStore, TERMINAL_JOB_STATUSES } from '#shared/job-store';
import { PgSubmissionLedger } from '#shared/submission-ledger';
import { eventually, motoEndpoint, type TestDatabase, testDatabase, uniqueName } from './services.ts';
import { FAST_WORKER_ENV, workerContext } from './worker-jobs.ts';

/** The lab's sites: two that can look a listing up (and identify it by phone and e-mail), one that cannot. */
export const LAB_SITES = ['lab-a', 'lab-b', 'lab-noverify'] as const;
export type LabSite = (typeof LAB_SITES)[number];

/** Worker numbers for the lab: quick, with a step timeout the slow answer fits in and a swallowed one does not. */
export const LAB_WORKER_ENV: Record<string, string> = {
  ...FAST_WORKER_ENV,
  STEP_TIMEOUT_MS: '1500',
  VERIFY_TIMEOUT_MS: '2500',
  SITE_MIN_GAP_MS: '20',
  RETRY_BASE_DELAY_MS: '50',
  RETRY_MAX_DELAY_MS: '100',
  TRANSIENT_RETRIES: '2',
};

export interface ApiAnswer {
  status: number;
  headers: Headers;
  // biome-ignore lint/suspicious/noExplicitAny: test bodies are inspected freely.
  body: any;
}

/** What a delivery does besides running the message: a fault at the form (before the click) or the post. */
export interface DeliveryFault {
  at: 'form' | 'post';
  what: 'kill-browser' | 'stop-worker';
}

export interface LedgerLab {
  system: LocalSystem;
  control: Record<LabSite, SiteControl>;
  /** Calls the API over HTTP with the client key (or the admin key). */
  api(
    method: string,
    path: string,
    options?: { body?: unknown; admin?: boolean; idempotencyKey?: string },
  ): Promise<ApiAnswer>;
  /** A new customer (through the API, owned by the client key) with a unique name; its profile. */
  customer(label: string, extra?: Partial<Profile>): Promise<{ id: string; profile: Profile }>;
  /**
   * Receives one job message and runs the worker handler on it; false when the queue was empty. `lanes`
   * overrides K (the lab's is FAST_WORKER_ENV's): 1 gives a story with an order, one directory after another.
   */
  deliver(options?: { fault?: DeliveryFault; twice?: boolean; lanes?: number }): Promise<boolean>;
  /** A worker that claims the job's message, begins `directoryId` (and posts it when `posted`), and dies. */
  zombie(jobId: string, directoryId: LabSite, options: { posted: boolean }): Promise<boolean>;
  /** Takes the job's message off its queue without running it (lost); false when there was none. */
  loseMessage(jobId: string): Promise<boolean>;
  /** What the worker does on a message's last receive, then SQS's move of it to the DLQ. */
  deadLetter(jobId: string): Promise<boolean>;
  /** The stale-jobs run, with zombies made silent and lost messages due at once. */
  recover(): Promise<StaleJobsReport>;
  setActive(directoryId: LabSite, active: boolean): Promise<void>;
  /** Site posts per business name. */
  counts(site: LabSite): Record<string, number>;
  /** Delivers, recovers and redrives until every job of `jobIds` has ended (or throws). */
  settle(jobIds: readonly string[]): Promise<void>;
  stop(): Promise<void>;
}

export async function startLedgerLab(databaseUrl: string): Promise<LedgerLab> {
  const sites = LAB_SITES.map((id) => ({ id, ...controlledSite({ id, verify: id !== 'lab-noverify' }) }));
  const control = Object.fromEntries(sites.map((s) => [s.id, s.control])) as Record<LabSite, SiteControl>;
  for (const s of sites) s.control.answerDelayMs = 600;
  const system = await startLocalSystem({
    port: 0,
    databaseUrl,
    motoEndpoint: motoEndpoint(),
    queuePrefix: `${uniqueName('lab')}-`,
    workers: false,
    schedules: { timers: false },
    fixtures: sites.map((s) => s.variant),
    env: LAB_WORKER_ENV,
  });
  const jobs = new PgJobStore(system.db);
  const ledger = new PgSubmissionLedger(system.db);
  const p1 = system.queues.find((q) => q.priority === 1);
  if (!p1) throw new Error('no P1 queue');
  const recovery = await staleJobsDepsFromEnv(system.env, system.db);
  const staleJobs = makeStaleJobsHandler({
    ...recovery,
    options: { ...recovery.options, queuedLostAfterSeconds: 0 },
  });

  async function api(
    method: string,
    path: string,
    options: { body?: unknown; admin?: boolean; idempotencyKey?: string } = {},
  ): Promise<ApiAnswer> {
    for (let attempt = 1; ; attempt++) {
      const res = await fetch(`${system.url}${path}`, {
        method,
        headers: {
          'x-api-key': options.admin ? system.keys.admin : system.keys.client,
          ...(options.body !== undefined ? { 'content-type': 'application/json' } : {}),
          ...(options.idempotencyKey ? { 'idempotency-key': options.idempotencyKey } : {}),
        },
        ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
      });
      const text = await res.text();
      // As a client should: a 429 (the key's minute spent; nothing was done) is tried again after its
      // Retry-After. The model's sequences run faster than the client allowance of a minute permits.
      const wait = Number(res.headers.get('retry-after'));
      if (res.status === 429 && attempt < 4 && Number.isFinite(wait) && wait <= 65) {
        await new Promise((r) => setTimeout(r, wait * 1000 + 100));
        continue;
      }
      return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : undefined };
    }
  }

  /** Receives up to one message of the P1 queue (where the lab's jobs go). */
  async function receiveOne() {
    const res = await system.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: p1?.url,
        MaxNumberOfMessages: 1,
        WaitTimeSeconds: 1,
        MessageSystemAttributeNames: ['All'],
      }),
    );
    return res.Messages?.[0];
  }

  /** Receives until the job's message turns up (others go back at once); undefined if it has none. */
  async function receiveFor(jobId: string) {
    const held: { ReceiptHandle?: string | undefined }[] = [];
    try {
      for (let i = 0; i < 20; i++) {
        const m = await receiveOne();
        if (!m) return undefined;
        const body = safeParse(m.Body);
        if (body?.jobId === jobId) return m;
        held.push(m);
      }
      return undefined;
    } finally {
      for (const m of held) {
        await system.sqs
          .send(
            new ChangeMessageVisibilityCommand({
              QueueUrl: p1?.url,
              ReceiptHandle: m.ReceiptHandle,
              VisibilityTimeout: 0,
            }),
          )
          .catch(() => {});
      }
    }
  }

  const remove = (m: { ReceiptHandle?: string | undefined }) =>
    system.sqs.send(new DeleteMessageCommand({ QueueUrl: p1?.url, ReceiptHandle: m.ReceiptHandle }));

  function arm(fault: DeliveryFault, shutdown: AbortController): void {
    const act = () => {
      if (fault.what === 'stop-worker') {
        shutdown.abort();
        return;
      }
      const pid = system.worker.browser.browserPid();
      if (pid !== undefined) process.kill(pid, 'SIGKILL');
    };
    // One fault, at the first site that reaches the point (any lab site the job visits).
    let fired = false;
    const once = () => {
      if (fired) return;
      fired = true;
      for (const c of Object.values(control)) {
        c.onForm = undefined;
        c.onPost = undefined;
      }
      act();
    };
    for (const c of Object.values(control)) {
      if (fault.at === 'form') c.onForm = once;
      else c.onPost = once;
    }
  }

  async function deliver(
    options: { fault?: DeliveryFault; twice?: boolean; lanes?: number } = {},
  ): Promise<boolean> {
    const message = await receiveOne();
    if (!message) return false;
    const record = toSqsRecord(message, p1?.arn as string, 'us-east-1');
    const shutdown = new AbortController();
    if (options.fault) arm(options.fault, shutdown);
    const worker = options.lanes
      ? { ...system.worker, options: { ...system.worker.options, directoriesInFlight: options.lanes } }
      : system.worker;
    const handler = makeWorkerHandler({ ...worker, shutdown: shutdown.signal });
    try {
      const runs = options.twice ? [handler, makeWorkerHandler({ ...worker })] : [handler];
      const results = await Promise.all(runs.map((h) => h({ Records: [record] }, workerContext())));
      // As the event source mapping does: a record that succeeded (in any run) is deleted.
      if (results.some((r) => r.batchItemFailures.length === 0)) await remove(message).catch(() => {});
    } finally {
      for (const c of Object.values(control)) {
        c.onForm = undefined;
        c.onPost = undefined;
      }
    }
    return true;
  }

  async function zombie(jobId: string, directoryId: LabSite, options: { posted: boolean }) {
    const message = await receiveFor(jobId);
    if (!message) return false;
    const token = safeParse(message.Body)?.enqueueToken ?? -1;
    const claim = await jobs.claim(jobId, token, 'zombie-worker');
    // Its message would come back only after the 90-minute visibility timeout, and then be stale.
    await remove(message);
    if (!claim) return false;
    const rows = await ledger.forJob(jobId);
    if (rows.find((r) => r.directoryId === directoryId)?.status !== 'prepared') return true;
    const began = await ledger.begin(claim, directoryId).catch(() => undefined);
    if (began !== undefined && options.posted) {
      const customer = await new PgCustomerStore(system.db).get(claim.customerId);
      const site = system.fixtures.site(directoryId);
      // The click reached the site (the form's fields, as the browser would post them), then the worker died.
      await fetch(`${site.origin}/add`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          business_name: customer?.name ?? '',
          email: customer?.email ?? '',
          phone: customer?.phone ?? '',
          website: customer?.website ?? '',
        }).toString(),
      }).catch(() => {});
    }
    return true;
  }

  async function loseMessage(jobId: string) {
    const message = await receiveFor(jobId);
    if (!message) return false;
    await remove(message);
    return true;
  }

  async function deadLetter(jobId: string) {
    const message = await receiveFor(jobId);
    if (!message) return false;
    const token = safeParse(message.Body)?.enqueueToken ?? -1;
    const claim = await jobs.claim(jobId, token, 'last-receive');
    if (claim) {
      await jobs.releaseAfterFailure(
        claim,
        { error: 'the site kept timing out (lab)', errorClass: 'timeout' },
        { final: true },
      );
    }
    await system.sqs.send(
      new SendMessageCommand({
        QueueUrl: p1?.dlqUrl,
        MessageBody: message.Body ?? '',
        MessageGroupId: jobId,
        MessageDeduplicationId: uniqueName('dlq'),
      }),
    );
    await remove(message);
    return claim !== undefined;
  }

  async function recover(): Promise<StaleJobsReport> {
    // Workers that died (zombies, a stop past its grace) stopped heartbeating long ago, as far as recovery sees.
    await system.db.query(
      `UPDATE jobs SET heartbeat_at = now() - interval '1 hour' WHERE status = 'in_progress'`,
    );
    return staleJobs();
  }

  async function settle(jobIds: readonly string[]): Promise<void> {
    await eventually(
      'every job to end',
      async () => {
        while (await deliver()) {}
        const { rows } = await system.db.query<{ status: string }>(
          'SELECT status FROM jobs WHERE id = ANY($1::uuid[])',
          [jobIds],
        );
        if (rows.every((r) => TERMINAL_JOB_STATUSES.includes(r.status as never))) return true;
        await system.recovery.dlq.redrive({ errorClasses: 'all' });
        await recover();
        return undefined;
      },
      { timeoutMs: 120_000, intervalMs: 10 },
    );
  }

  return {
    system,
    control,
    api,
    async customer(label, extra = {}) {
      const name = `${label} ${uniqueName('biz').slice(-8)}`;
      const profile: Profile = {
        name,
        email: `${name.toLowerCase().replace(/[^a-z0-9]+/g, '.')}@lab.test`,
        phone: `+1 555 ${String(Math.floor(Math.random() * 9_000_000) + 1_000_000)}`,
        website: null,
        address: '1 Lab Street',
        city: 'Springfield',
        state: 'IL',
        zip: '62704',
        category: 'Plumbing',
        description: null,
        ...extra,
      };
      const res = await api('POST', '/v1/customers', { body: profile });
      if (res.status !== 201) throw new Error(`customer: ${res.status} ${JSON.stringify(res.body)}`);
      return { id: res.body.id as string, profile };
    },
    deliver,
    zombie,
    loseMessage,
    deadLetter,
    recover,
    async setActive(directoryId, active) {
      await system.db.query('UPDATE directories SET active = $2 WHERE id = $1', [directoryId, active]);
    },
    counts: (site) => system.fixtures.site(site).countsByName(),
    settle,
    stop: () => system.stop(),
  };
}

function safeParse(body: string | undefined) {
  try {
    return parseJobMessage(body ?? '');
  } catch {
    return undefined;
  }
}

/**
 * A lab for a test file: started on its own database before the file's tests, its sites reset and every
 * directory active again after each test, stopped after the file.
 */
export function useLedgerLab(label: string): { readonly lab: LedgerLab; readonly databaseUrl: string } {
  let t: TestDatabase | undefined;
  let lab: LedgerLab | undefined;
  beforeAll(async () => {
    t = await testDatabase(label, { migrate: false });
    lab = await startLedgerLab(t.url);
  });
  afterEach(async () => {
    for (const c of Object.values(lab?.control ?? {})) c.reset();
    for (const site of LAB_SITES) await lab?.setActive(site, true);
  });
  afterAll(async () => {
    await lab?.stop();
    await t?.close();
  });
  return {
    get lab() {
      if (!lab) throw new Error('the ledger lab has not started');
      return lab;
    },
    get databaseUrl() {
      return t?.url ?? '';
    },
  };
}
