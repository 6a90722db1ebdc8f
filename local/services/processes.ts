/**
 * Child processes the local runtime owns (Postgres, moto). Each is tracked so that every exit path of the
 * parent (normal exit, Ctrl-C, SIGTERM, an uncaught error) stops it: no process is left behind.
 */
import { type ChildProcess, type SpawnOptions, spawn } from 'node:child_process';
import { waitFor } from './ports.ts';

const live = new Set<ChildProcess>();
let hooksInstalled = false;

function installExitHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  // Last resort on any exit: the graceful stop() paths should already have run.
  process.on('exit', () => {
    for (const child of live) child.kill('SIGKILL');
  });
}

export interface ManagedProcess {
  readonly child: ChildProcess;
  readonly name: string;
  /** Everything the process wrote, newest last (bounded), for error messages. */
  output(): string;
  /** Sends SIGTERM, waits up to `graceMs`, then SIGKILL. Resolves once the process has exited. */
  stop(graceMs?: number): Promise<void>;
  readonly exited: Promise<number | null>;
}

export function spawnManaged(
  name: string,
  command: string,
  args: readonly string[],
  options: SpawnOptions = {},
): ManagedProcess {
  installExitHooks();
  // Its own process group: a Ctrl-C in the terminal reaches only the parent, which stops its children in
  // order (workers finish before the database they write to goes away) instead of all at once.
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true, ...options });
  live.add(child);
  let buffer = '';
  const keep = (chunk: Buffer) => {
    buffer = (buffer + chunk.toString('utf8')).slice(-20_000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<number | null>((resolve) => {
    child.on('exit', (code) => {
      live.delete(child);
      resolve(code);
    });
    child.on('error', (err) => {
      buffer += `\n${err.message}`;
      live.delete(child);
      resolve(null);
    });
  });
  return {
    child,
    name,
    output: () => buffer,
    exited,
    async stop(graceMs = 5_000) {
      if (child.exitCode !== null || child.signalCode !== null || !live.has(child)) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

/**
 * Waits until `probe` says the process serves, failing at once (with its output) if it exits first; a
 * process that does not come up in time is stopped.
 */
export async function awaitReady(
  proc: ManagedProcess,
  what: string,
  probe: () => Promise<boolean>,
  timeoutMs: number,
): Promise<void> {
  try {
    await Promise.race([
      waitFor(what, probe, { timeoutMs, intervalMs: 100 }),
      proc.exited.then((code) => {
        throw new Error(`${proc.name} exited with ${code} during start:\n${proc.output()}`);
      }),
    ]);
  } catch (err) {
    await proc.stop();
    throw err;
  }
}
