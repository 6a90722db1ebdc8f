/** The local scheduler: fires on the (sped-up) interval, never overlaps a task with itself, runs on demand. */
import { describe, expect, it } from 'vitest';
import { startScheduler } from '#local/scheduler';
import { eventually } from '#test/services';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('local scheduler', () => {
  it('fires each task every everySeconds / speedUp with an EventBridge scheduled event', async () => {
    const events: { source: string; 'detail-type': string }[] = [];
    const scheduler = startScheduler({
      tasks: [{ name: 'tick', everySeconds: 120, run: async (e) => void events.push(e) }],
      speedUp: 1_200, // 120 s → 100 ms
    });
    const started = Date.now();
    try {
      expect(scheduler.intervalMs('tick')).toBe(100);
      await eventually('three runs', async () => (scheduler.runs('tick') >= 3 ? true : undefined), {
        timeoutMs: 5_000,
        intervalMs: 10,
      });
      // Never sooner than the interval allows.
      expect(Date.now() - started).toBeGreaterThanOrEqual(290);
      expect(events[0]).toMatchObject({ source: 'aws.events', 'detail-type': 'Scheduled Event' });
    } finally {
      await scheduler.stop();
    }
  });

  it('skips a tick while the previous run of the task is still going', async () => {
    let running = 0;
    let maxRunning = 0;
    const scheduler = startScheduler({
      tasks: [
        {
          name: 'slow',
          everySeconds: 1,
          run: async () => {
            running += 1;
            maxRunning = Math.max(maxRunning, running);
            await sleep(180);
            running -= 1;
          },
        },
      ],
      speedUp: 20, // every 50 ms
    });
    await sleep(500);
    await scheduler.stop();
    expect(maxRunning).toBe(1);
    // 500 ms of 180 ms runs: at most three (ten ticks fired).
    expect(scheduler.runs('slow')).toBeGreaterThanOrEqual(1);
    expect(scheduler.runs('slow')).toBeLessThanOrEqual(3);
  });

  it('runs a task on demand, after a run in progress, and hands back its result or error', async () => {
    let n = 0;
    const failures: string[] = [];
    const scheduler = startScheduler({
      tasks: [
        { name: 'count', everySeconds: 3_600, run: async () => ++n },
        {
          name: 'broken',
          everySeconds: 3_600,
          run: async () => {
            throw new Error('boom');
          },
        },
      ],
      timers: false,
      onRun: (r) => {
        if (r.error) failures.push(r.name);
      },
    });
    try {
      const results = await Promise.all([scheduler.runNow('count'), scheduler.runNow('count')]);
      expect(results).toEqual([1, 2]);
      await expect(scheduler.runNow('broken')).rejects.toThrow('boom');
      expect(failures).toEqual(['broken']);
      await expect(scheduler.runNow('nope')).rejects.toThrow(/no scheduled task named nope/);
    } finally {
      await scheduler.stop();
    }
    expect(() => startScheduler({ tasks: [], speedUp: 0 })).toThrow(/speedUp must be a positive number/);
  });
});
