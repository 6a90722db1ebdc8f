/**
 * `.formfleet/runtime.json`: how `npm run demo` and `npm run ops` find the system `npm start` is running (its
 * URL, keys and pid). Written once the system is up, removed when it stops; a file left by a process that
 * died is recognised by its pid and ignored. It holds the API keys, so it is readable by its owner only.
 *
 * The state directory is FORMFLEET_STATE_DIR, by default `.formfleet/` in the repository (also home to the
 * persistent Postgres cluster), so tests and parallel checkouts can keep theirs apart.
 */
import { randomBytes } from 'node:crypto';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Env } from '#shared/env';
import { PROJECT_ROOT } from './services/python.ts';

export interface RuntimeInfo {
  pid: number;
  /** The local API gateway (what FORMFLEET_API_URL would be). */
  url: string;
  dashboardUrl: string;
  /** The local Slack sink's webhook URL, or null when alerts go to a real SLACK_WEBHOOK_URL. */
  slackSinkUrl: string | null;
  /** The local webhook receiver (the stand-in of an API client's), which `npm run demo` subscribes. */
  webhookSinkUrl?: string;
  keys: { admin: string; client: string };
  startedAt: string;
  /** Schedules divided by this (`--fast`), 1 otherwise. */
  speedUp: number;
}

export const RUNTIME_FILE = 'runtime.json';

export function stateDir(env: Env = process.env): string {
  return env.FORMFLEET_STATE_DIR || join(PROJECT_ROOT, '.formfleet');
}

export const runtimeFilePath = (dir: string) => join(dir, RUNTIME_FILE);

export async function writeRuntimeFile(dir: string, info: RuntimeInfo): Promise<string> {
  const path = runtimeFilePath(dir);
  await writeFile(path, `${JSON.stringify(info, null, 2)}\n`, { mode: 0o600 });
  return path;
}

/** Whether a process with this pid exists (signal 0 checks without sending anything). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export type RuntimeFileState =
  | { kind: 'running'; info: RuntimeInfo }
  | { kind: 'stale'; info: RuntimeInfo }
  | { kind: 'missing' }
  | { kind: 'unreadable'; reason: string };

/** What the runtime file says: a live system, one whose process is gone, nothing, or garbage. */
export async function readRuntimeFile(dir: string): Promise<RuntimeFileState> {
  let text: string;
  try {
    text = await readFile(runtimeFilePath(dir), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'missing' };
    return { kind: 'unreadable', reason: (err as Error).message };
  }
  let info: RuntimeInfo;
  try {
    info = JSON.parse(text) as RuntimeInfo;
  } catch {
    return { kind: 'unreadable', reason: `${runtimeFilePath(dir)} is not JSON` };
  }
  if (typeof info?.url !== 'string' || typeof info.pid !== 'number' || typeof info.keys?.admin !== 'string') {
    return { kind: 'unreadable', reason: `${runtimeFilePath(dir)} lacks url, pid or keys` };
  }
  return { kind: processAlive(info.pid) ? 'running' : 'stale', info };
}

/** Removes the file if it is this process's (a newer system's file is left alone). */
export async function removeRuntimeFile(dir: string, pid: number = process.pid): Promise<void> {
  const state = await readRuntimeFile(dir);
  if (state.kind === 'missing') return;
  if ((state.kind === 'running' || state.kind === 'stale') && state.info.pid !== pid) return;
  await rm(runtimeFilePath(dir), { force: true });
}

/**
 * The local key sealing webhook signing secrets (`<state dir>/webhook-key`, owner-only), made on first use: the
 * endpoints in the persistent Postgres cluster outlive a restart, so their secrets must still open after one.
 */
export async function localWebhookKey(dir: string): Promise<string> {
  const path = join(dir, 'webhook-key');
  try {
    const key = (await readFile(path, 'utf8')).trim();
    if (Buffer.from(key, 'base64').length === 32) return key;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const key = randomBytes(32).toString('base64');
  await writeFile(path, `${key}\n`, { mode: 0o600 });
  return key;
}
