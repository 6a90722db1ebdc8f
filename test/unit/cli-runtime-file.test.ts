/** How the CLIs find a system: the runtime file npm start writes, and the precedence of flags, environment and file. */
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { findTarget, requireTarget } from '#local/cli/target';
import {
  localWebhookKey,
  type RuntimeInfo,
  readRuntimeFile,
  removeRuntimeFile,
  runtimeFilePath,
  writeRuntimeFile,
} from '#local/runtime-file';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'formfleet-rt-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const info = (pid: number): RuntimeInfo => ({
  pid,
  url: 'http://127.0.0.1:3999',
  dashboardUrl: 'http://127.0.0.1:3999/dashboard',
  slackSinkUrl: null,
  keys: { admin: 'ffadmin_file', client: 'ffclient_file' },
  startedAt: '2030-01-01T00:00:00.000Z',
  speedUp: 1,
});

/** The pid of a process that has exited. */
const deadPid = () => spawnSync(process.execPath, ['-e', '0']).pid as number;

describe('the runtime file', () => {
  it('says running for a live pid, stale for a dead one, and missing or unreadable otherwise', async () => {
    expect(await readRuntimeFile(dir)).toEqual({ kind: 'missing' });
    await writeRuntimeFile(dir, info(process.pid));
    expect(await readRuntimeFile(dir)).toEqual({ kind: 'running', info: info(process.pid) });
    await writeRuntimeFile(dir, info(deadPid()));
    expect((await readRuntimeFile(dir)).kind).toBe('stale');
    await writeFile(runtimeFilePath(dir), 'not json');
    expect(await readRuntimeFile(dir)).toMatchObject({
      kind: 'unreadable',
      reason: expect.stringContaining('not JSON'),
    });
    await writeFile(runtimeFilePath(dir), '{"pid": 1}');
    expect(await readRuntimeFile(dir)).toMatchObject({
      kind: 'unreadable',
      reason: expect.stringContaining('lacks'),
    });
  });

  it('is removed only by the process that wrote it', async () => {
    await writeRuntimeFile(dir, info(process.pid + 1_000_000));
    await removeRuntimeFile(dir, process.pid);
    expect((await readRuntimeFile(dir)).kind).not.toBe('missing');
    await writeRuntimeFile(dir, info(process.pid));
    await removeRuntimeFile(dir, process.pid);
    expect((await readRuntimeFile(dir)).kind).toBe('missing');
    await removeRuntimeFile(dir, process.pid); // nothing there: no error
  });
});

describe('finding the API', () => {
  it('takes flags over the environment over the running system, and a stale file as no system', async () => {
    await writeRuntimeFile(dir, info(process.pid));
    const env = { FORMFLEET_STATE_DIR: dir };
    expect(await findTarget({ env })).toMatchObject({
      url: 'http://127.0.0.1:3999',
      key: 'ffadmin_file',
      source: 'runtime file',
    });
    expect(
      await findTarget({
        env: { ...env, FORMFLEET_API_URL: 'https://api.example/prod', FORMFLEET_ADMIN_KEY: 'k-env' },
      }),
    ).toMatchObject({ url: 'https://api.example/prod', key: 'k-env', source: 'environment' });
    expect(
      await findTarget({
        apiUrl: 'https://other.example',
        key: 'k-flag',
        env: { ...env, FORMFLEET_API_URL: 'https://api.example/prod', FORMFLEET_ADMIN_KEY: 'k-env' },
      }),
    ).toMatchObject({ url: 'https://other.example', key: 'k-flag', source: 'flags' });
    // The local system's own URL named explicitly: its key comes from the file.
    expect(await findTarget({ apiUrl: 'http://127.0.0.1:3999/', env })).toMatchObject({
      key: 'ffadmin_file',
    });
    await expect(findTarget({ env: { ...env, FORMFLEET_API_URL: 'https://api.example' } })).rejects.toThrow(
      /no admin key: set FORMFLEET_ADMIN_KEY/,
    );
    await writeRuntimeFile(dir, info(deadPid()));
    expect(await findTarget({ env })).toBeUndefined();
    await expect(requireTarget({ env })).rejects.toMatchObject({ exitCode: 3 });
    await writeFile(runtimeFilePath(dir), '{');
    await expect(findTarget({ env })).rejects.toThrow(/cannot use .*runtime\.json/);
  });
});

describe('the local webhook key', () => {
  it('is made once, owner-only, and the same on every later start (sealed secrets still open)', async () => {
    const first = await localWebhookKey(dir);
    expect(Buffer.from(first, 'base64')).toHaveLength(32);
    expect((await stat(join(dir, 'webhook-key'))).mode & 0o777).toBe(0o600);
    expect(await localWebhookKey(dir)).toBe(first);
    // A damaged file is replaced by a new key rather than used.
    await writeFile(join(dir, 'webhook-key'), 'short');
    expect(await localWebhookKey(dir)).not.toBe(first);
  });
});
