/**
 * EventBridge schedules on one machine: fires each scheduled handler every `everySeconds` (policy SCHEDULES,
 * via the function manifest), divided by a speed-up factor for tests and `npm start -- --fast`. A run that
 * is still going when its next tick comes is not started twice (the tick is skipped); `runNow` runs a task
 * on demand, after any run in progress, and returns its result.
 */
import { randomUUID } from 'node:crypto';
import type { ScheduledEvent } from 'aws-lambda';

export interface ScheduledTask {
  /** The function's manifest name ("stale-jobs"). */
  name: string;
  everySeconds: number;
  run: (event: ScheduledEvent) => Promise<unknown>;
}

export interface SchedulerRun {
  name: string;
  ms: number;
  result?: unknown;
  error?: unknown;
}

export interface SchedulerOptions {
  tasks: readonly ScheduledTask[];
  /** Intervals are divided by this. @default 1 */
  speedUp?: number;
  /** Called after every run (the local runtime logs failures). */
  onRun?: (run: SchedulerRun) => void;
  /** Fire on timers (default); false leaves only runNow (tests that drive the schedule themselves). */
  timers?: boolean;
}

export interface Scheduler {
  /** Runs the named task now (after its current run, if any) and returns what it returned. */
  runNow(name: string): Promise<unknown>;
  /** Completed runs of the named task, timer-fired or on demand. */
  runs(name: string): number;
  /** The interval the named task fires at, in ms (after the speed-up). */
  intervalMs(name: string): number;
  /** Stops the timers and waits for runs in progress. */
  stop(): Promise<void>;
}

/** The shortest interval a speed-up may produce, so a large factor cannot spin the event loop. */
const MIN_INTERVAL_MS = 50;

export function scheduledEvent(name: string): ScheduledEvent {
  return {
    version: '0',
    id: randomUUID(),
    'detail-type': 'Scheduled Event',
    source: 'aws.events',
    account: '000000000000',
    time: new Date().toISOString(),
    region: 'us-east-1',
    resources: [`arn:aws:events:us-east-1:000000000000:rule/formfleet-local-${name}`],
    detail: {},
  };
}

export function startScheduler(options: SchedulerOptions): Scheduler {
  const speedUp = options.speedUp ?? 1;
  if (!(speedUp > 0)) throw new RangeError(`speedUp must be a positive number (got ${speedUp})`);
  const state = new Map(
    options.tasks.map((task) => [
      task.name,
      {
        task,
        intervalMs: Math.max(MIN_INTERVAL_MS, Math.round((task.everySeconds * 1000) / speedUp)),
        current: undefined as Promise<unknown> | undefined,
        runs: 0,
        timer: undefined as NodeJS.Timeout | undefined,
      },
    ]),
  );
  let stopped = false;

  type TaskState = NonNullable<ReturnType<typeof state.get>>;

  async function execute(s: TaskState): Promise<unknown> {
    const started = Date.now();
    try {
      const result = await s.task.run(scheduledEvent(s.task.name));
      options.onRun?.({ name: s.task.name, ms: Date.now() - started, result });
      return result;
    } catch (error) {
      options.onRun?.({ name: s.task.name, ms: Date.now() - started, error });
      throw error;
    } finally {
      s.runs += 1;
    }
  }

  /** Runs the task after its current run (if any); runs of one task never overlap. */
  function enqueue(s: TaskState): Promise<unknown> {
    const run = (s.current ?? Promise.resolve()).then(() => execute(s));
    const settled: Promise<unknown> = run.then(
      () => {
        if (s.current === settled) s.current = undefined;
      },
      () => {
        if (s.current === settled) s.current = undefined;
      },
    );
    s.current = settled;
    return run;
  }

  for (const s of options.timers === false ? [] : state.values()) {
    s.timer = setInterval(() => {
      if (stopped || s.current) return;
      // A timer-fired run's failure is reported through onRun; nobody awaits it.
      enqueue(s).catch(() => {});
    }, s.intervalMs);
    s.timer.unref();
  }

  return {
    runNow(name) {
      const s = state.get(name);
      if (!s) return Promise.reject(new Error(`no scheduled task named ${name}`));
      return enqueue(s);
    },
    runs: (name) => state.get(name)?.runs ?? 0,
    intervalMs: (name) => state.get(name)?.intervalMs ?? Number.NaN,
    async stop() {
      stopped = true;
      for (const s of state.values()) clearInterval(s.timer);
      await Promise.allSettled([...state.values()].map((s) => s.current));
    },
  };
}
