/**
 * moto server: the local stand-in for SQS, SNS and DynamoDB, from the project's .venv, on a free loopback
 * port. Clients reach it through the SDK's standard AWS_ENDPOINT_URL with dummy credentials.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { freePort, waitFor } from './ports.ts';
import { awaitReady, type ManagedProcess, spawnManaged } from './processes.ts';
import { ensurePythonTools, PROJECT_ROOT, venvBin } from './python.ts';

export interface MotoServer {
  /** http://127.0.0.1:PORT, the value for AWS_ENDPOINT_URL. */
  readonly endpoint: string;
  stop(): Promise<void>;
}

/** The environment an AWS SDK client needs to talk to moto (and nothing real). */
export function motoEnv(endpoint: string): Record<string, string> {
  return {
    AWS_ENDPOINT_URL: endpoint,
    AWS_REGION: 'us-east-1',
    AWS_DEFAULT_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'testing',
    AWS_SECRET_ACCESS_KEY: 'testing',
  };
}

/** moto with the deploy rehearsal's patches (local/rehearsal/moto_server.py says which and why). */
export const PATCHED_MOTO = join(PROJECT_ROOT, 'local', 'rehearsal', 'moto_server.py');

export interface MotoOptions {
  /** A running moto server to use instead of starting one. */
  endpoint?: string;
  log?: (line: string) => void;
  /**
   * Start moto through this Python script (it takes moto_server's arguments), with these variables: the
   * rehearsal's patched moto (PATCHED_MOTO). @default moto_server as installed
   */
  launcher?: { script: string; env?: Record<string, string> };
}

export async function startMoto(options: MotoOptions = {}): Promise<MotoServer> {
  const existing = options.endpoint ?? (options.launcher ? undefined : process.env.FORMFLEET_MOTO_ENDPOINT);
  if (existing) {
    await waitFor(`moto at ${existing}`, () => isUp(existing), { timeoutMs: 30_000 });
    return { endpoint: existing, stop: async () => {} };
  }
  await ensurePythonTools(options.log);
  // moto writes nothing we keep, but runs from a scratch directory rather than the repository root.
  const workDir = join(PROJECT_ROOT, '.formfleet');
  await mkdir(workDir, { recursive: true });
  const port = await freePort();
  const args = ['-H', '127.0.0.1', '-p', String(port)];
  const proc: ManagedProcess = spawnManaged(
    'moto',
    options.launcher ? venvBin('python') : venvBin('moto_server'),
    options.launcher ? [options.launcher.script, ...args] : args,
    {
      cwd: workDir,
      env: { ...process.env, ...options.launcher?.env, PYTHONUNBUFFERED: '1' },
    },
  );
  const endpoint = `http://127.0.0.1:${port}`;
  await awaitReady(proc, 'moto server', () => isUp(endpoint), 30_000);
  options.log?.(`moto ${endpoint}`);
  return { endpoint, stop: () => proc.stop(3_000) };
}

/**
 * Any answer from the server's root means moto is up. Not /moto-api/data.json: that dumps every resource
 * moto holds, and after a load test (hundreds of queues, thousands of messages) it alone takes seconds.
 */
async function isUp(endpoint: string): Promise<boolean> {
  const res = await fetch(`${endpoint}/`, { signal: AbortSignal.timeout(2_000) });
  await res.body?.cancel();
  return res.status < 500;
}
