/**
 * The ops CLI over real HTTP against a local system (gateway, API handlers, Postgres, SQS on moto; no worker,
 * so jobs stay where the test puts them): readable tables, progress on long work, the API's own errors, and
 * exit statuses a script can rely on. It finds the system the way an operator's shell does, through the
 * environment (FORMFLEET_API_URL, FORMFLEET_ADMIN_KEY) or the runtime file.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalSystem, startLocalSystem } from '#local/runtime';
import { writeRuntimeFile } from '#local/runtime-file';
import { DEMO_CUSTOMERS } from '#local/seed';
import { freePort } from '#local/services/ports';
import type { SlackSink } from '#local/slack-sink';
import { runOpsRecorded } from '#test/cli';
import { messagesOn } from '#test/queue-workers';
import { motoEndpoint, type TestDatabase, testDatabase, uniqueName } from '#test/services';

let t: TestDatabase;
let system: LocalSystem;
let env: Record<string, string>;

beforeAll(async () => {
  t = await testDatabase('ops_cli', { migrate: false });
  system = await startLocalSystem({
    port: 0,
    databaseUrl: t.url,
    motoEndpoint: motoEndpoint(),
    queuePrefix: `${uniqueName('ops')}-`,
    workers: false,
    schedules: { timers: false },
    alerts: { retryDelaySeconds: 1 },
    env: { SLACK_MIN_INTERVAL_MS: '100' },
  });
  env = { FORMFLEET_API_URL: system.url, FORMFLEET_ADMIN_KEY: system.keys.admin };
});
afterAll(async () => {
  await system?.stop();
  await t?.close();
});

const ops = (args: string[], environment: Record<string, string> = env) => runOpsRecorded(args, environment);

async function createJob(directoryIds: string[], priority = 2): Promise<string> {
  const res = await fetch(`${system.url}/v1/jobs`, {
    method: 'POST',
    headers: { 'x-api-key': system.keys.client, 'content-type': 'application/json' },
    body: JSON.stringify({ customerId: DEMO_CUSTOMERS[1]?.id, directoryIds, priority }),
  });
  expect(res.status).toBe(202);
  return ((await res.json()) as { id: string }).id;
}

/** What a worker would leave behind: the job ended, one directory submitted, the other failed. */
async function finishWithOneFailure(jobId: string): Promise<void> {
  await system.db.query(
    `UPDATE submissions SET status = CASE WHEN directory_id = 'simple-form' THEN 'submitted' ELSE 'failed' END,
            error_class = CASE WHEN directory_id = 'simple-form' THEN NULL ELSE 'site_down' END,
            error = CASE WHEN directory_id = 'simple-form' THEN NULL ELSE 'the site answered HTTP 500' END,
            attempt = 1, finished_at = now()
     WHERE job_id = $1`,
    [jobId],
  );
  await system.db.query(
    `UPDATE jobs SET status = 'completed', started_at = now(), finished_at = now(),
            progress = '{"total": 2, "done": 2}'::jsonb WHERE id = $1`,
    [jobId],
  );
}

const depth = (url: string) => messagesOn(system.sqs, url);

describe('ops CLI: tasks', () => {
  it('lists the queue, claims a task with what doing it by hand needs, and resolves it once', async () => {
    // A customer of its own: resolving it submitted holds simple-form for that business (once per business).
    const headers = { 'x-api-key': system.keys.client, 'content-type': 'application/json' };
    const customer = (await (
      await fetch(`${system.url}/v1/customers`, {
        method: 'POST',
        headers,
        body: JSON.stringify({ name: 'Task Desk Co', email: 'desk@co.test', phone: '+1 555 0100' }),
      })
    ).json()) as { id: string; name: string };
    const created = await fetch(`${system.url}/v1/jobs`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ customerId: customer.id, directoryIds: ['simple-form'] }),
    });
    const jobId = ((await created.json()) as { id: string }).id;
    // What a worker leaves at a captcha: the row needs a person, the job is done.
    await system.db.query(
      `UPDATE submissions SET status = 'needs_manual', error_class = 'captcha', error = 'a captcha stood before the submit',
              attempt = 1, finished_at = now() WHERE job_id = $1`,
      [jobId],
    );
    await system.db.query(
      `UPDATE jobs SET status = 'completed', finished_at = now(), progress = '{"total": 1, "done": 1}'::jsonb WHERE id = $1`,
      [jobId],
    );
    const list = await ops(['tasks', 'list', '--job', jobId]);
    expect(list.code, list.err).toBe(0);
    expect(list.out.split('\n')[0]).toMatch(
      /^task\s+kind\s+status\s+directory\s+job\s+claimed by\s+created\s+why$/,
    );
    const taskId = /^([0-9a-f-]{36})\s+captcha\s+open\s+simple-form/m.exec(list.out)?.[1];
    expect(taskId, list.out).toBeDefined();

    const claim = await ops(['tasks', 'claim', taskId as string, '--by', 'ann']);
    expect(claim.code, claim.err).toBe(0);
    expect(claim.out).toMatch(/^claimed\s+by ann until .+, token 1$/m);
    expect(claim.out).toMatch(/^submit at\s+http:\/\/127\.0\.0\.1:\d+\/\S*$/m);
    expect(claim.out).toMatch(/^name\s+Task Desk Co$/m);
    expect(claim.out).toMatch(/^phone\s+\+1 555 0100$/m);
    const other = await ops(['tasks', 'claim', taskId as string, '--by', 'bob']);
    expect(other.code).toBe(1);
    expect(other.err).toContain('claimed by ann');

    const resolve = await ops([
      'tasks',
      'resolve',
      taskId as string,
      '--token',
      '1',
      '--outcome',
      'submitted',
      '--note',
      'solved the captcha',
    ]);
    expect(resolve.code, resolve.err).toBe(0);
    expect(resolve.out).toContain(
      `task ${taskId} resolved submitted by ann: simple-form of job ${jobId} is now submitted`,
    );
    const again = await ops(['tasks', 'resolve', taskId as string, '--outcome', 'failed']);
    expect(again.code).toBe(1);
    expect(again.err).toContain('already resolved (submitted)');
    const { rows } = await system.db.query<{ status: string; lifecycle: string }>(
      'SELECT status, lifecycle FROM submissions WHERE job_id = $1',
      [jobId],
    );
    expect(rows).toEqual([{ status: 'submitted', lifecycle: 'under_review' }]);
    expect((await ops(['tasks', 'list', '--job', jobId])).out).toBe('no tasks\n');
    expect((await ops(['tasks', 'resolve', taskId as string])).code).toBe(2);
  });
});

describe('ops CLI: jobs', () => {
  it('lists jobs as a table, shows one with its directories, and cancels a queued one', async () => {
    const id = await createJob(['simple-form', 'http-500']);

    const list = await ops(['jobs', 'list', '--status', 'queued']);
    expect(list.code, list.err).toBe(0);
    expect(list.out.split('\n')[0]).toMatch(
      /^job\s+tier\s+status\s+progress\s+attempts\s+created\s+took\s+error$/,
    );
    expect(list.out).toMatch(new RegExp(`^${id}\\s+P2\\s+queued\\s+0/2\\s+0\\s`, 'm'));

    const show = await ops(['jobs', 'show', id]);
    expect(show.code).toBe(0);
    expect(show.out).toMatch(/^status\s+queued$/m);
    expect(show.out).toMatch(/^simple-form\s+prepared\s+0\s+-\s+-$/m);
    expect(show.out).toMatch(/^http-500\s+prepared/m);

    const cancel = await ops(['jobs', 'cancel', id]);
    expect(cancel.code, cancel.err).toBe(0);
    expect(cancel.out).toContain(`job ${id} cancelled: 0 submitted stay submitted, 2 skipped, 0 unknown`);
    const again = await ops(['jobs', 'cancel', id]);
    expect(again.code).toBe(1);
    expect(again.err).toMatch(/job is already cancelled.*\(HTTP 409 conflict\)/);
  });

  it('retries only the failed directories of a finished job and waits for it with progress', async () => {
    const id = await createJob(['simple-form', 'http-500']);
    await finishWithOneFailure(id);

    // A worker finishes the retried job a moment after the retry.
    const worker = setTimeout(() => void finishWithOneFailure(id).catch(() => {}), 400);
    const retry = await ops(['jobs', 'retry', id, '--wait', '--timeout', '20']);
    clearTimeout(worker);

    expect(retry.code, retry.err).toBe(0);
    expect(retry.out).toContain(`job ${id} queued on P2: retrying http-500`);
    // Each directory's decision and why.
    expect(retry.out).toMatch(/^ {2}http-500: failed -> prepared \(send\): it failed: it is sent again$/m);
    expect(retry.out).toMatch(/^ {2}simple-form: submitted -> submitted \(none\): already submitted/m);
    // Progress lines (no terminal: plain), then the finished job.
    // Half the bar is the directory submitted before; it is not put back.
    expect(retry.out).toMatch(new RegExp(`^${id.slice(0, 8)} P2 (pending|queued)\\s+█{15}·{15} 1/2`, 'm'));
    expect(retry.out).toMatch(new RegExp(`^${id.slice(0, 8)} P2 completed\\s+█+▓+ 2/2`, 'm'));
    expect(retry.out).toMatch(/^status\s+completed$/m);
    const { rows } = await system.db.query<{ directory_id: string; attempt: number }>(
      'SELECT directory_id, attempt FROM submissions WHERE job_id = $1 ORDER BY directory_id',
      [id],
    );
    // The submitted directory was never put back.
    expect(rows.find((r) => r.directory_id === 'simple-form')?.attempt).toBe(1);
  });

  it('ends a wait that runs out of time with status 1 and says so', async () => {
    const id = await createJob(['simple-form']);
    const res = await ops(['jobs', 'show', id, '--wait', '--timeout', '1']);
    expect(res.code).toBe(1);
    expect(res.err).toContain(`job ${id} is still queued after 1 s (--timeout)`);
  });
});

describe('ops CLI: dead-letter queues, health and alerts', () => {
  it('lists DLQ messages, redrives only the chosen class with progress, and health turns degraded meanwhile', async () => {
    const p2 = system.queues.find((q) => q.priority === 2);
    const down = await createJob(['simple-form']);
    const captcha = await createJob(['captcha-widget']);
    for (const [id, errorClass] of [
      [down, 'site_down'],
      [captcha, 'captcha'],
    ] as const) {
      await system.db.query(
        `UPDATE jobs SET error_class = $2, error = 'worker gave up', status = 'queued' WHERE id = $1`,
        [id, errorClass],
      );
      await system.sqs.send(
        new SendMessageCommand({
          QueueUrl: p2?.dlqUrl,
          MessageBody: JSON.stringify({
            jobId: id,
            enqueueToken: 1,
            priority: 2,
            enqueuedAt: new Date().toISOString(),
          }),
          MessageGroupId: id,
          MessageDeduplicationId: `${id}:dlq`,
        }),
      );
    }

    const health = await ops(['health']);
    expect(health.code).toBe(1);
    expect(health.out).toMatch(/^status\s+degraded: the P2 dead-letter queue holds 2 message\(s\)$/m);
    expect(health.out).toMatch(/^P2\s+\d+\s+\d+\s+2$/m);

    const list = await ops(['dlq', 'list']);
    expect(list.code).toBe(0);
    expect(list.out).toContain('P1 0 · P2 2 · P3 0 message(s) in the DLQs');
    expect(list.out).toMatch(new RegExp(`^P2\\s+${down}\\s+site_down\\s+\\d+\\s`, 'm'));
    expect(list.out).toMatch(new RegExp(`^P2\\s+${captcha}\\s+captcha\\s`, 'm'));

    const redrive = await ops(['dlq', 'redrive', '--class', 'site_down,timeout', '--tier', 'P2']);
    expect(redrive.code, redrive.err).toBe(0);
    expect(redrive.out).toMatch(/^redrive █+·* 1\/2 moved \(site_down 1\)$/m);
    expect(redrive.out).toContain('moved 1 message(s) (P2 1); 1 not chosen stay in the DLQ');
    expect(await depth(p2?.dlqUrl as string)).toBe(1);
    const { rows } = await system.db.query<{ status: string }>('SELECT status FROM jobs WHERE id = $1', [
      down,
    ]);
    expect(['pending', 'queued']).toContain(rows[0]?.status);
  });

  it('shows the alerts and what the Slack sink received', async () => {
    await system.scheduler.runNow('dlq-check');
    await (system.alerts.sink as SlackSink).waitForMessages(1);

    const res = await ops(['alerts']);

    expect(res.code, res.err).toBe(0);
    expect(res.out.split('\n')[0]).toMatch(/^time\s+severity\s+kind\s+title\s+published$/);
    expect(res.out).toMatch(/critical\s+dlq\s+P2 dead-letter queue has 1 message/);
    expect(res.out).toMatch(/Slack sink: 1 message received\n {2}\S+ {2}\[CRITICAL\] P2 dead-letter queue/);
  });

  it('prints JSON for scripts with --json', async () => {
    const res = await ops(['health', '--json']);
    expect(JSON.parse(res.out)).toMatchObject({ status: 'degraded', queues: { status: 'up' } });
  });
});

describe('ops CLI: finding the API, and errors', () => {
  it('uses the running npm start through its runtime file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'formfleet-ops-'));
    try {
      await writeRuntimeFile(dir, {
        pid: process.pid,
        url: system.url,
        dashboardUrl: system.dashboardUrl,
        slackSinkUrl: null,
        keys: system.keys,
        startedAt: system.startedAt,
        speedUp: 1,
      });
      const res = await ops(['jobs', 'list', '--limit', '1'], { FORMFLEET_STATE_DIR: dir });
      expect(res.code, res.err).toBe(0);
      expect(res.out).toMatch(/^job\s+tier/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('says how to get an API when there is none, and exits 3 when it cannot be reached or refuses the key', async () => {
    const empty = await mkdtemp(join(tmpdir(), 'formfleet-ops-'));
    try {
      const none = await ops(['health'], { FORMFLEET_STATE_DIR: empty });
      expect(none.code).toBe(3);
      expect(none.err).toMatch(/no formfleet API to talk to: start one with `npm start`.*FORMFLEET_API_URL/);
    } finally {
      await rm(empty, { recursive: true, force: true });
    }
    const nowhere = await ops(['health'], {
      FORMFLEET_API_URL: `http://127.0.0.1:${await freePort()}`,
      FORMFLEET_ADMIN_KEY: 'x',
    });
    expect(nowhere.code).toBe(3);
    expect(nowhere.err).toMatch(
      /cannot reach the formfleet API at http:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\)/,
    );
    const badKey = await ops(['jobs', 'list'], {
      FORMFLEET_API_URL: system.url,
      FORMFLEET_ADMIN_KEY: 'wrong',
    });
    expect(badKey.code).toBe(3);
    expect(badKey.err).toContain('the API refused the key (403)');
    const clientKey = await ops(['dlq', 'list'], {
      FORMFLEET_API_URL: system.url,
      FORMFLEET_ADMIN_KEY: system.keys.client,
    });
    expect(clientKey.code).toBe(1);
    expect(clientKey.err).toContain('this route needs an admin API key (HTTP 403 forbidden)');
  });

  it('refuses a wrong command line with status 2 and the usage, before calling anything', async () => {
    for (const args of [
      ['jobs', 'frobnicate'],
      ['jobs', 'show'],
      ['jobs', 'list', '--status', 'nope'],
      ['jobs', 'list', '--limit', '0'],
      ['dlq', 'redrive'],
      ['dlq', 'redrive', '--class', 'bogus'],
      ['health', '--nope'],
    ]) {
      const res = await ops(args, {});
      expect(res.code, args.join(' ')).toBe(2);
      expect(res.err, args.join(' ')).toMatch(/usage|must be|takes|unknown|needs/i);
    }
    const help = await ops(['help'], {});
    expect(help.code).toBe(0);
    expect(help.out).toContain('dlq redrive');
  });
});

describe('ops CLI: onboarding a directory', () => {
  it('discovers a form from its URL, saves the draft inactive, and dry-runs it; the site receives no form', async () => {
    const site = system.fixtures.site('simple-form');
    const posts = () => site.requests.filter((r) => r.method === 'POST').length;
    const before = posts();
    const found = await ops(['directories', 'discover', `${site.origin}/add`, '--save', 'found-simple']);
    expect(found.code, found.err).toBe(0);
    expect(found.out).toMatch(/confidence\s+1\.00/);
    expect(found.out).toMatch(/submit/);
    expect(found.out).toContain('saved found-simple (version 1, inactive)');
    const saved = await fetch(`${system.url}/v1/directories/found-simple`, {
      headers: { 'x-api-key': system.keys.admin },
    });
    expect(((await saved.json()) as { active: boolean }).active).toBe(false);

    const dry = await ops(['directories', 'dry-run', 'found-simple']);
    expect(dry.code, dry.err).toBe(0);
    expect(dry.out).toMatch(/outcome\s+ready/);
    expect(dry.out).toMatch(/screenshot filled form: http/);
    expect(posts()).toBe(before);

    const missing = await ops(['directories', 'dry-run', 'no-such-directory']);
    expect(missing.code).not.toBe(0);
    expect(missing.err).toMatch(/404|not found/);
  }, 120_000);
});

describe('ops CLI: importing the replaced system’s directory list', () => {
  it('writes each entry as a definition, dry-runs it, and reports what it could not map', async () => {
    const simple = system.fixtures.site('simple-form').origin;
    const renamed = system.fixtures.site('renamed-fields');
    const renamedDefinition = system.fixtures
      .directories()
      .find((d) => d.id === 'renamed-fields')?.definition;
    const dir = await mkdtemp(join(tmpdir(), 'ff-import-'));
    const file = join(dir, 'directories.json');
    // The replaced system's format, as its export wrote it.
    const entries = [
      {
        id: 'Legacy_Simple',
        name: 'Legacy Simple',
        submissionUrl: `${simple}/add`,
        category: 'general',
        domainAuthority: 41.6,
        tier: 2,
        requiresLogin: false,
        hasCaptcha: false,
        formMapping: {
          businessName: ['#company', 'input[name="business_name"]'],
          email: ['input[name="email"]'],
          phone: ['input[name="phone"]'],
          zip: ['input[name="zip"]'],
          openingHours: ['input[name="hours"]'],
          category: [],
        },
        submitSelector: '#submit, button[type="submit"]',
        successIndicators: ['#success'],
      },
      {
        id: 'legacy-renamed',
        name: 'Legacy Renamed',
        submissionUrl: renamedDefinition?.submissionUrl ?? `${renamed.origin}/add`,
        category: 'local',
        domainAuthority: 20,
        tier: 9,
        requiresLogin: false,
        hasCaptcha: false,
        // The old selectors first, as the replaced system kept them: the site has since renamed its inputs.
        formMapping: Object.fromEntries(
          (renamedDefinition?.steps ?? [])
            .filter((s) => s.action === 'fill')
            .map((s) => [
              ({ name: 'businessName' } as Record<string, string>)[(s as { field: string }).field] ??
                (s as { field: string }).field,
              'selectors' in s ? s.selectors : [],
            ]),
        ),
        submitSelector: renamedDefinition?.steps
          .flatMap((s) => (s.action === 'submit' ? s.selectors : []))
          .join(', '),
        successIndicators: (renamedDefinition?.success ?? []).map((i) => i.selector).filter(Boolean),
      },
      {
        id: 'no-submit',
        name: 'Broken',
        submissionUrl: `${simple}/add`,
        formMapping: {},
        successIndicators: [],
      },
    ];
    await writeFile(file, JSON.stringify(entries));
    const sitePosts = () =>
      [...system.fixtures.sites.values()].reduce(
        (n, s) => n + s.requests.filter((r) => r.method === 'POST').length,
        0,
      );
    const before = sitePosts();
    try {
      const res = await ops(['directories', 'import', file, '--dry-run']);
      // One entry left out: the run says so with its exit status.
      expect(res.code, res.err).toBe(1);
      expect(res.out).toMatch(/legacy-simple\s+created\s+ready/);
      expect(res.out).toMatch(/legacy-renamed\s+created\s+ready/);
      expect(res.out).toContain('formMapping.openingHours: no such profile field');
      expect(res.out).toContain('formMapping.category: no selectors');
      expect(res.out).toContain('tier 9: 1 used');
      expect(res.out).toContain('left out no-submit: no submitSelector; no successIndicators');
      // The imported definition is the one the worker runs: fallbacks in order, the optional fields optional.
      const saved = (await (
        await fetch(`${system.url}/v1/directories/legacy-simple`, {
          headers: { 'x-api-key': system.keys.admin },
        })
      ).json()) as { tier: number; domainAuthority: number; definition: { steps: unknown[] } };
      expect(saved).toMatchObject({ tier: 2, domainAuthority: 42 });
      expect(saved.definition.steps).toEqual([
        { action: 'goto' },
        { action: 'fill', field: 'name', selectors: ['#company', 'input[name="business_name"]'] },
        { action: 'fill', field: 'email', selectors: ['input[name="email"]'] },
        { action: 'fill', field: 'phone', selectors: ['input[name="phone"]'], optional: true },
        { action: 'fill', field: 'zip', selectors: ['input[name="zip"]'], optional: true },
        { action: 'submit', selectors: ['#submit', 'button[type="submit"]'] },
      ]);
      // Dry runs only: no site received a form.
      expect(sitePosts()).toBe(before);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
