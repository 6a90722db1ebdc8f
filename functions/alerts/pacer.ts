/**
 * Spaces calls at least `minIntervalMs` apart, in arrival order, within one process. With the notifier's
 * reserved concurrency of 1 there is one such process at a time, which keeps Slack at about one message per
 * second. (Written by hand: a dozen lines; the kept rate-limit libraries are token buckets for servers.)
 */
export type Sleep = (ms: number) => Promise<void>;

export const realSleep: Sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export class Pacer {
  private last = Number.NEGATIVE_INFINITY;
  private queue: Promise<void> = Promise.resolve();

  constructor(
    private readonly minIntervalMs: number,
    private readonly now: () => number = Date.now,
    private readonly sleep: Sleep = realSleep,
  ) {}

  /** Resolves when the caller may go: at least minIntervalMs after the previous caller went. */
  wait(): Promise<void> {
    const turn = this.queue.then(async () => {
      const due = this.last + this.minIntervalMs - this.now();
      if (due > 0) await this.sleep(due);
      this.last = this.now();
    });
    this.queue = turn.catch(() => {});
    return turn;
  }
}
