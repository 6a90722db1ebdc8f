/**
 * Where a command-line tool writes, and what kind of screen it has. The entries pass the process's streams;
 * tests pass a recorder, so a command runs in-process exactly as it does in a terminal or in CI.
 */
export interface Io {
  out(text: string): void;
  err(text: string): void;
  /** A terminal: progress redraws in place. Otherwise (CI, a pipe): plain periodic lines. */
  readonly isTTY: boolean;
  readonly columns: number;
}

export function processIo(): Io {
  return {
    out: (text) => process.stdout.write(text),
    err: (text) => process.stderr.write(text),
    isTTY: Boolean(process.stdout.isTTY),
    columns: process.stdout.columns || 100,
  };
}

/** Exit statuses of `npm run ops` and `npm run demo` (documented in their help). */
export const EXIT = {
  ok: 0,
  /** The command ran and the answer is "no": not found, conflict, refused, a job that failed, not healthy. */
  failed: 1,
  /** The command line is wrong. */
  usage: 2,
  /** No API to talk to: not configured, unreachable, the key refused, or the API failing (5xx). */
  unavailable: 3,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** A failure with the exit status it should end the command with and a message for a person. */
export class CliError extends Error {
  override readonly name = 'CliError';

  constructor(
    message: string,
    readonly exitCode: ExitCode,
  ) {
    super(message);
  }
}
