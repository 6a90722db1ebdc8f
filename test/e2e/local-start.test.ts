/**
 * `npm start` as a user runs it: a child process with its own Postgres cluster and moto server (no
 * DATABASE_URL), keys from the environment, PORT=0 and --fast. It prints the banner, writes its runtime file,
 * serves the banner's curl through real Chromium, refuses a second start on the same state, and on SIGTERM
 * lets the submission in flight finish (and starts no other) and exits 0 with every process it started
 * (Postgres, moto, Chromium and their children) gone; the next start resumes the job it left.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { readRuntimeFile } from '#local/runtime-file';
import { startPostgres } from '#local/services/postgres';
import { PROJECT_ROOT } from '#local/services/python';
import { LOCAL, SCHEDULES } from '#policy';
import { createDatabase } from '#shared/db';
import { eventually } from '#test/services';

const run = promisify(execFile);

interface Proc {
  pid: number;
  ppid: number;
  name: string;
  state: string;
}

/** Every process on the machine, from /proc (name and parent from /proc/<pid>/stat). */
function processes(): Proc[] {
  const out: Proc[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // pid (name) state ppid ...: the name may contain spaces and parentheses, so split at the last ')'.
      const close = stat.lastIndexOf(')');
      const [state, ppid] = stat.slice(close + 2).split(' ');
      out.push({
        pid: Number(entry),
        ppid: Number(ppid),
        name: stat.slice(stat.indexOf('(') + 1, close),
        state: state ?? '',
      });
    } catch {
      // exited while we looked
    }
  }
  return out;
}

function descendants(root: number): Proc[] {
  const all = processes();
  const found: Proc[] = [];
  const queue = [root];
  while (queue.length > 0) {
    const parent = queue.shift() as number;
    for (const p of all.filter((c) => c.ppid === parent)) {
      found.push(p);
      queue.push(p.pid);
    }
  }
  return found;
}

/** Gone: no such process, or a zombie (it has exited; only its exit status waits to be collected). */
function alive(pid: number): boolean {
  if (!existsSync(`/proc/${pid}`)) return false;
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

function output(child: ChildProcess): { stdout: () => string; stderr: () => string } {
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (c: Buffer) => {
    stdout += c.toString('utf8');
  });
  child.stderr?.on('data', (c: Buffer) => {
    stderr += c.toString('utf8');
  });
  return { stdout: () => stdout, stderr: () => stderr };
}

let stateDir: string | undefined;
let child: ChildProcess | undefined;

afterAll(async () => {
  // Only if the test failed before its own SIGTERM: stop what it started.
  if (child && child.exitCode === null && child.signalCode === null) {
    child.kill('SIGTERM');
    await new Promise((r) => child?.once('exit', r));
  }
  if (stateDir) await rm(stateDir, { recursive: true, force: true });
});

/** `npm start -- --fast` with this environment, once its banner is out. */
async function startNpm(env: Record<string, string | undefined>) {
  const started = spawn('npm', ['start', '--silent', '--', '--fast'], {
    cwd: PROJECT_ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const out = output(started);
  await eventually(
    'the banner',
    async () => (out.stdout().includes('Ctrl-C stops everything.') ? true : undefined),
    { timeoutMs: 90_000, intervalMs: 100 },
  ).catch((err: Error) => {
    throw new Error(`${err.message}\nstdout:\n${out.stdout()}\nstderr:\n${out.stderr()}`);
  });
  return { child: started, out, banner: out.stdout() };
}

describe('npm start', () => {
  it('comes up with a banner and runtime file, serves its curl, and stops cleanly on SIGTERM leaving nothing behind', async () => {
    stateDir = await mkdtemp(join(tmpdir(), 'formfleet-start-'));
    // The throwaway cluster runs as the postgres user when tests run as root: it must reach its directory.
    await chmod(stateDir, 0o755);
    const env: Record<string, string | undefined> = {
      ...process.env,
      PORT: '0',
      FORMFLEET_STATE_DIR: stateDir,
      FORMFLEET_ADMIN_KEY: 'ffadmin_start_test_admin_key',
      FORMFLEET_CLIENT_KEY: 'ffclient_start_test_client_key',
      // One directory at a time (an override npm start passes through), so the second directory has not
      // started when SIGTERM comes; a stop with K in flight is test/e2e/worker-lanes.test.ts's.
      WORKER_DIRECTORIES_IN_FLIGHT: '1',
    };
    delete env.DATABASE_URL;
    delete env.FORMFLEET_MOTO_ENDPOINT;
    const first = await startNpm(env);
    child = first.child;
    const { out, banner } = first;
    const npmPid = child.pid as number;
    const url = /^ {2}API\s+(http:\/\/127\.0\.0\.1:\d+)$/m.exec(banner)?.[1] as string;
    expect(url).toBeDefined();
    expect(banner).toContain(`dashboard    ${url}/dashboard`);
    expect(banner).toMatch(/Slack sink {3}http:\/\/127\.0\.0\.1:\d+\/services\//);
    expect(banner).toContain('admin key    ffadmin_start_test_admin_key');
    expect(banner).toContain('client key   ffclient_start_test_client_key');
    expect(banner).toContain(`--fast: schedules ${LOCAL.fastSpeedUp}x faster`);
    expect(banner).toContain(
      `stale-jobs every ${SCHEDULES.staleJobs.everySeconds / LOCAL.fastSpeedUp} s, dlq-check every ${
        SCHEDULES.dlqCheck.everySeconds / LOCAL.fastSpeedUp
      } s`,
    );
    const state = await readRuntimeFile(stateDir);
    expect(state).toMatchObject({
      kind: 'running',
      info: { url, keys: { admin: 'ffadmin_start_test_admin_key' }, speedUp: LOCAL.fastSpeedUp },
    });

    // The banner's curl, as printed: a seeded customer to two fixture directories, through real Chromium.
    const curl =
      /curl -s -X POST (\S+) -H 'x-api-key: (\S+)' \\\n\s+-H 'content-type: application\/json' -d '(.+)'/.exec(
        banner,
      );
    expect(curl).not.toBeNull();
    const [, endpoint, key, body] = curl as RegExpExecArray;
    const created = await fetch(endpoint as string, {
      method: 'POST',
      headers: { 'x-api-key': key as string, 'content-type': 'application/json' },
      body,
    });
    expect(created.status).toBe(202);
    const { id } = (await created.json()) as { id: string };
    const job = await eventually(
      'the job to complete',
      async () => {
        const res = await fetch(`${url}/v1/jobs/${id}`, { headers: { 'x-api-key': key as string } });
        const j = (await res.json()) as { status: string; results: { status: string }[] };
        return j.status === 'completed' ? j : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 250 },
    );
    expect(job.results.map((r) => r.status)).toEqual(['submitted', 'submitted']);

    // A second start on the same state is refused, naming the running one.
    const second = await run(process.execPath, ['--import', 'tsx', 'bin/local.ts'], {
      cwd: PROJECT_ROOT,
      env,
    }).then(
      () => ({ code: 0, stderr: '' }),
      (err: { code: number; stderr: string }) => err,
    );
    expect(second.code).toBe(1);
    expect(second.stderr).toContain(
      `formfleet is already running (pid ${state.kind === 'running' ? state.info.pid : '?'})`,
    );

    const started = descendants(npmPid);
    const names = started.map((p) => p.name);
    expect(names).toContain('postgres');
    expect(names).toContain('moto_server');
    expect(names.some((n) => /chrom|headless/i.test(n))).toBe(true);

    // A job in flight when the signal comes: the slow site has its post and answers 2 s later.
    const inFlight = await fetch(endpoint as string, {
      method: 'POST',
      headers: { 'x-api-key': key as string, 'content-type': 'application/json' },
      body: JSON.stringify({
        ...JSON.parse(body as string),
        directoryIds: ['slow-site', 'redirect-success'],
      }),
    });
    const { id: interrupted } = (await inFlight.json()) as { id: string };
    await eventually(
      'the slow site’s submission to be in flight',
      async () => {
        const res = await fetch(`${url}/v1/jobs/${interrupted}`, { headers: { 'x-api-key': key as string } });
        const j = (await res.json()) as { results: { status: string }[] };
        return j.results[0]?.status === 'submitting' ? true : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 50 },
    );

    // Act: SIGTERM to npm, as a process manager would send it.
    const exited = new Promise<number | null>((resolve) => child?.once('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    const code = await exited;

    expect(code, out.stderr()).toBe(0);
    expect(out.stderr()).toContain('SIGTERM: stopping');
    expect(out.stderr()).toContain('stopped');
    await eventually(
      'every started process to be gone',
      async () => (started.every((p) => !alive(p.pid)) ? true : undefined),
      { timeoutMs: 5_000, intervalMs: 100 },
    ).catch(() => {
      const left = started.filter((p) => alive(p.pid)).map((p) => `${p.pid} ${p.name}`);
      expect(left).toEqual([]);
    });
    expect((await readRuntimeFile(stateDir)).kind).toBe('missing');

    // The submission in flight finished within the grace (Chromium was not taken down by the signal), no
    // other directory started, and the job waits to continue at the next start.
    const dataDir = /\(kept in (.+)\)$/m.exec(banner)?.[1];
    expect(dataDir).toBeDefined();
    const pg = await startPostgres({ kind: 'throwaway', dataDir: dataDir as string });
    const db = createDatabase({ connectionString: pg.url, max: 1 });
    try {
      const { rows: ledger } = await db.query<{ directory_id: string; status: string }>(
        'SELECT directory_id, status FROM submissions WHERE job_id = $1 ORDER BY id',
        [interrupted],
      );
      expect(ledger).toEqual([
        { directory_id: 'slow-site', status: 'submitted' },
        { directory_id: 'redirect-success', status: 'prepared' },
      ]);
      const { rows: events } = await db.query<{ type: string }>(
        'SELECT type FROM job_events WHERE job_id = $1 ORDER BY id',
        [interrupted],
      );
      expect(events.map((e) => e.type)).toContain('continued');
    } finally {
      await db.end();
      await pg.stop();
    }

    // The next start's moto is new and empty: the job is re-sent at once (not left queued forever) and
    // finishes, and the directory sent before the stop is not sent again.
    const restartedAt = new Date().toISOString();
    const again = await startNpm(env);
    child = again.child;
    const againUrl = /^ {2}API\s+(http:\/\/127\.0\.0\.1:\d+)$/m.exec(again.banner)?.[1] as string;
    const resumed = await eventually(
      'the interrupted job to complete after the restart',
      async () => {
        const res = await fetch(`${againUrl}/v1/jobs/${interrupted}`, {
          headers: { 'x-api-key': key as string },
        });
        const j = (await res.json()) as {
          status: string;
          results: { directoryId: string; status: string; attempt: number; finishedAt: string }[];
        };
        return j.status === 'completed' ? j : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 250 },
    );
    expect(again.out.stderr()).toContain('re-sent 1 job(s) left waiting by an earlier run');
    expect(resumed.results).toEqual([
      expect.objectContaining({ directoryId: 'slow-site', status: 'submitted', attempt: 1 }),
      expect.objectContaining({ directoryId: 'redirect-success', status: 'submitted', attempt: 1 }),
    ]);
    expect(String(resumed.results[0]?.finishedAt) < restartedAt).toBe(true);
    const exitedAgain = new Promise<number | null>((resolve) => again.child.once('exit', (c) => resolve(c)));
    again.child.kill('SIGTERM');
    expect(await exitedAgain, again.out.stderr()).toBe(0);
  });
});
