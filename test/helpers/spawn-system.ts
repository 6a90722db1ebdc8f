/**
 * Starts test/helpers/system-process.ts (the local system in its own process) and keeps everything it
 * writes to stdout and stderr, byte for byte, until it stops.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { PROJECT_ROOT } from '#local/services/python';

export interface SystemProcess {
  readonly url: string;
  readonly child: ChildProcess;
  /** Everything written so far: stdout and stderr, each in order. */
  stdout(): string;
  stderr(): string;
  /** SIGTERM, then waits for the exit (SIGKILL after `graceMs`); resolves with the exit code. */
  stop(graceMs?: number): Promise<number | null>;
}

export async function spawnSystem(
  env: Record<string, string>,
  { startTimeoutMs = 60_000 } = {},
): Promise<SystemProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/helpers/system-process.ts'], {
    cwd: PROJECT_ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout?.on('data', (c: Buffer) => out.push(c));
  child.stderr?.on('data', (c: Buffer) => err.push(c));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const stdout = () => Buffer.concat(out).toString('utf8');
  const stderr = () => Buffer.concat(err).toString('utf8');
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`the system process did not start in ${startTimeoutMs} ms:\n${stderr()}`));
    }, startTimeoutMs);
    const onData = () => {
      const match = /^ready (\S+)$/m.exec(stdout());
      if (match) {
        clearTimeout(timer);
        child.stdout?.off('data', onData);
        resolve(match[1] as string);
      }
    };
    child.stdout?.on('data', onData);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`the system process exited with ${code} while starting:\n${stderr()}`));
    });
  });
  return {
    url,
    child,
    stdout,
    stderr,
    async stop(graceMs = 20_000) {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}
