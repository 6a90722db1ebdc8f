/**
 * Progress for long work (a demo workload, a redrive, waiting for a job): on a terminal, bars redrawn in
 * place; without one (CI, a pipe, a log file), a plain line when something changed, at most every few
 * seconds, so the output stays readable. Hand-written: a few lines of ANSI cursor movement, which the kept
 * progress libraries wrap in far more than is needed here.
 */
import type { Io } from './io.ts';

export interface Segment {
  count: number;
  /** The character this part of the bar is drawn with. */
  char: string;
}

/** A bar `width` characters wide, its segments in order, the rest as "·". Never wider than `width`. */
export function bar(segments: readonly Segment[], total: number, width: number): string {
  if (width <= 0) return '';
  if (total <= 0) return '·'.repeat(width);
  let out = '';
  let covered = 0;
  for (const s of segments) {
    covered += Math.max(0, s.count);
    // Each segment ends where its cumulative share ends, so rounding never adds up past the width.
    const end = Math.min(width, Math.round((Math.min(covered, total) / total) * width));
    out += s.char.repeat(Math.max(0, end - out.length));
  }
  return out + '·'.repeat(width - out.length);
}

/** The state to show: lines for a terminal, and optionally one compact line for logs (default: the lines). */
export interface ProgressState {
  lines: readonly string[];
  plain?: string;
}

export interface ProgressView {
  update(state: ProgressState): void;
  /** Leaves the last state on screen (a terminal) or prints it once more if it was not printed. */
  finish(state: ProgressState): void;
}

/** Redraws the same lines in place (cursor up, clear line). */
export function terminalProgress(io: Io): ProgressView {
  let drawn = 0;
  const draw = ({ lines }: ProgressState) => {
    let text = drawn > 0 ? `\x1b[${drawn}A` : '';
    for (const line of lines) text += `\x1b[2K${line.slice(0, Math.max(20, io.columns - 1))}\n`;
    io.out(text);
    drawn = lines.length;
  };
  return { update: draw, finish: draw };
}

/** Prints the state as plain lines when it changed, at most every `everyMs`. */
export function plainProgress(io: Io, everyMs: number, now: () => number = Date.now): ProgressView {
  let lastAt = Number.NEGATIVE_INFINITY;
  let printed = '';
  const print = (text: string) => {
    io.out(`${text}\n`);
    printed = text;
    lastAt = now();
  };
  return {
    update(state) {
      const text = state.plain ?? state.lines.join('\n');
      // Compared with what was printed, not with the last update: a change held back is printed next time.
      if (text !== printed && now() - lastAt >= everyMs) print(text);
    },
    finish(state) {
      const text = state.plain ?? state.lines.join('\n');
      if (text !== printed) print(text);
    },
  };
}

export function progressFor(io: Io, plainEveryMs: number): ProgressView {
  return io.isTTY ? terminalProgress(io) : plainProgress(io, plainEveryMs);
}
