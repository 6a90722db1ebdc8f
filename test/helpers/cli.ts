/** Running the CLIs in-process as a terminal would, recording what they print. */
import type { Io } from '#local/cli/io';
import { runOps } from '#local/cli/ops';

/** An Io that keeps stdout and stderr (not a terminal, 120 columns). */
export function recorder(): Io & { stdout: () => string; stderr: () => string } {
  let out = '';
  let err = '';
  return {
    out: (s) => {
      out += s;
    },
    err: (s) => {
      err += s;
    },
    isTTY: false,
    columns: 120,
    stdout: () => out,
    stderr: () => err,
  };
}

/** `npm run ops -- <args>` with this environment: its exit status and what it printed. */
export async function runOpsRecorded(args: string[], env: Record<string, string>, pollMs = 50) {
  const io = recorder();
  const code = await runOps(args, io, { env, pollMs });
  return { code, out: io.stdout(), err: io.stderr() };
}
