/** The pure parts of the demo and ops CLIs: tables, bars, progress output, statistics, workload plans, the summary. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { banner, withoutPassword } from '#local/banner';
import {
  DEMO_USAGE,
  demoProgress,
  directoriesFor,
  parseDemoArgs,
  priorityPlan,
  renderSummary,
  summarize,
} from '#local/cli/demo';
import { duration, percentile } from '#local/cli/format';
import type { Io } from '#local/cli/io';
import { bar, plainProgress, terminalProgress } from '#local/cli/progress';
import { renderTable } from '#local/cli/table';
import { cacheFigures, MetricCounters, tapMetrics } from '#local/metrics-tap';
import { DEMO_CUSTOMERS } from '#local/seed';
import { LOCAL } from '#policy';

function recorder(isTTY: boolean): Io & { text: () => string } {
  let text = '';
  return {
    out: (s) => {
      text += s;
    },
    err: () => {},
    isTTY,
    columns: 80,
    text: () => text,
  };
}

describe('tables', () => {
  it('aligns numbers right and text left under a rule, and cuts long cells with an ellipsis', () => {
    const table = renderTable(
      [
        { header: 'name', value: (r: { name: string; n: number | null }) => r.name, max: 8 },
        { header: 'count', value: (r) => r.n, align: 'right' },
      ],
      [
        { name: 'simple-form', n: 12 },
        { name: 'p1', n: null },
      ],
    );
    expect(table.split('\n')).toEqual([
      'name      count',
      '────────  ─────',
      'simple-…     12',
      'p1            -',
    ]);
  });
});

describe('progress bars', () => {
  it('are always exactly as wide as asked, with segments in proportion', () => {
    fc.assert(
      fc.property(
        fc.array(fc.nat(50), { minLength: 1, maxLength: 4 }),
        fc.nat(60),
        fc.integer({ min: 1, max: 80 }),
        (counts, extra, width) => {
          const total = counts.reduce((a, b) => a + b, 0) + extra;
          const chars = ['█', '▓', '▒', '░'];
          const drawn = bar(
            counts.map((count, i) => ({ count, char: chars[i] as string })),
            total,
            width,
          );
          expect([...drawn]).toHaveLength(width);
          if (total > 0) {
            const filled = [...drawn].filter((c) => c !== '·').length;
            expect(Math.abs(filled - ((total - extra) / total) * width)).toBeLessThanOrEqual(1);
          }
        },
      ),
    );
    expect(bar([{ count: 1, char: '█' }], 4, 8)).toBe('██······');
  });

  it('redraw in place on a terminal', () => {
    const io = recorder(true);
    const view = terminalProgress(io);
    view.update({ lines: ['a', 'b'] });
    view.finish({ lines: ['c', 'd'] });
    expect(io.text()).toBe('\x1b[2Ka\n\x1b[2Kb\n\x1b[2A\x1b[2Kc\n\x1b[2Kd\n');
  });

  it('print a plain line only when something changed, at most every interval, and always the final state', () => {
    const io = recorder(false);
    let now = 0;
    const view = plainProgress(io, 1_000, () => now);
    view.update({ lines: ['x'], plain: 'one' }); // printed: first
    now = 500;
    view.update({ lines: ['x'], plain: 'two' }); // too soon
    now = 1_600;
    view.update({ lines: ['x'], plain: 'two' }); // printed: changed since the last print
    now = 3_000;
    view.update({ lines: ['x'], plain: 'two' }); // unchanged
    view.finish({ lines: ['x'], plain: 'three' });
    view.finish({ lines: ['x'], plain: 'three' }); // already shown
    expect(io.text()).toBe('one\ntwo\nthree\n');
  });
});

describe('statistics', () => {
  it('takes percentiles by nearest rank: always one of the values, with at least p % at or below it', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 1e6 }), { minLength: 1 }),
        fc.integer({ min: 1, max: 100 }),
        (values, p) => {
          const v = percentile(values, p) as number;
          expect(values).toContain(v);
          expect(values.filter((x) => x <= v).length / values.length).toBeGreaterThanOrEqual(p / 100);
          expect(values.filter((x) => x < v).length / values.length).toBeLessThan(p / 100);
        },
      ),
    );
    expect(percentile([], 50)).toBeUndefined();
    expect(() => percentile([1], 0)).toThrow(RangeError);
    expect(percentile([5, 1, 4, 2, 3], 50)).toBe(3);
    expect(duration(61_500)).toBe('1 min 02 s');
  });
});

describe('the demo workload', () => {
  it('mixes priorities in the asked shares, interleaved', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 200 }),
        fc.tuple(fc.nat(5), fc.nat(5), fc.nat(5)).filter((m) => m[0] + m[1] + m[2] > 0),
        (jobs, mix) => {
          const plan = priorityPlan(jobs, mix);
          expect(plan).toHaveLength(jobs);
          const total = mix[0] + mix[1] + mix[2];
          for (const p of [1, 2, 3] as const) {
            const share = (jobs * (mix[p - 1] as number)) / total;
            expect(Math.abs(plan.filter((x) => x === p).length - share)).toBeLessThanOrEqual(1);
          }
        },
      ),
    );
    expect(priorityPlan(6, [1, 2, 3])).toEqual([3, 2, 3, 1, 2, 3]);
  });

  it('slides each job over the directory list so every directory is used', () => {
    const all = ['a', 'b', 'c', 'd', 'e'];
    const used = new Set(Array.from({ length: 3 }, (_, i) => directoriesFor(i, 2, all)).flat());
    expect(used).toEqual(new Set(all));
    expect(directoriesFor(0, 9, ['a', 'b'])).toEqual(['a', 'b']);
  });

  it('refuses a wrong command line with the usage', () => {
    expect(parseDemoArgs([]).settings).toEqual({
      jobs: LOCAL.demo.jobs,
      perJob: LOCAL.demo.directoriesPerJob,
      mix: LOCAL.demo.mix,
      timeoutSeconds: LOCAL.demo.timeoutSeconds,
    });
    for (const args of [
      ['--jobs', '0'],
      ['--jobs', '201'],
      ['--mix', '1:2'],
      ['--mix', '0:0:0'],
      ['--bogus'],
    ]) {
      expect(() => parseDemoArgs(args), args.join(' ')).toThrow(/must be|takes|Unknown option/);
    }
    expect(DEMO_USAGE).toContain('--per-job');
  });

  it('shows per-tier bars on a terminal and one compact line for logs', () => {
    const jobs = [
      { id: 'a', tier: 'P1' as const },
      { id: 'b', tier: 'P3' as const },
      { id: 'c', tier: 'P3' as const },
    ];
    const state = demoProgress(
      jobs,
      new Map([
        ['a', 'completed'],
        ['b', 'in_progress'],
      ]),
      2_000,
    );
    expect(state.lines[0]).toBe('demo 2.0 s: 1/3 jobs ended');
    expect(state.lines[1]).toMatch(
      /^P1 █{24} queued {3}0 {2}in progress {3}0 {2}done {3}1 {2}failed {3}0 {2}of 1$/,
    );
    expect(state.lines[2]).toMatch(/^P3 ▒{12}░{12} /);
    expect(state.plain).toBe(
      'demo 2.0 s: 1/3 jobs ended | P1 queued 0, in progress 0, done 1, failed 0 | P3 queued 1, in progress 1, done 0, failed 0',
    );
  });

  it('summarizes jobs, outcomes, throughput and cache hits from the data', () => {
    const job = (
      tier: 'P1' | 'P2',
      createdAt: string,
      startedAt: string,
      finishedAt: string,
      statuses: string[],
    ) => ({
      id: `${tier}-${createdAt}`,
      customerId: 'c',
      status: 'completed' as const,
      priority: 1 as const,
      tier,
      requestedPriority: 1 as const,
      package: null,
      attempts: 0,
      progress: {},
      error: null,
      errorClass: null,
      createdAt,
      queuedAt: createdAt,
      startedAt,
      finishedAt,
      heartbeatAt: null,
      submittedTier: tier,
      results: statuses.map((status, i) => ({
        directoryId: `d${i}`,
        status: status as 'submitted',
        attempt: 1,
        errorClass: null,
        error: null,
        finishedAt,
        // The first submitted row of each job was looked up and found; the others wait for the directory.
        lifecycle: status !== 'submitted' ? null : i === 0 ? ('live' as const) : ('under_review' as const),
        listingUrl: status === 'submitted' && i === 0 ? `https://d${i}.test/listing/1` : null,
        lifecycleReason: null,
        lifecycleCheckedAt: null,
        nextCheckAt: status === 'submitted' && i > 0 ? '2030-01-02T00:01:01.000Z' : null,
        proofs: [],
      })),
    });
    const jobs = [
      job('P1', '2030-01-01T00:00:00.000Z', '2030-01-01T00:00:01.000Z', '2030-01-01T00:00:11.000Z', [
        'submitted',
        'failed',
      ]),
      job('P2', '2030-01-01T00:00:00.000Z', '2030-01-01T00:00:31.000Z', '2030-01-01T00:01:01.000Z', [
        'submitted',
        'submitted',
      ]),
    ];
    const zero = { hits: 0, misses: 0, hitRate: null };
    const summary = summarize(jobs, 61_000, {
      before: { customers: zero, directories: zero, overall: zero },
      after: {
        customers: { hits: 1, misses: 1, hitRate: 0.5 },
        directories: { hits: 3, misses: 1, hitRate: 0.75 },
        overall: { hits: 4, misses: 2, hitRate: 4 / 6 },
      },
    });
    expect(summary.byTier.map((r) => [r.tier, r.jobs, r.p50JobMs])).toEqual([
      ['P1', 1, 11_000],
      ['P2', 1, 61_000],
      ['all', 2, 11_000],
    ]);
    expect(summary.byTier.at(-1)?.p95JobMs).toBe(61_000);
    expect(summary.outcomes).toMatchObject({ submitted: 3, failed: 1, skipped: 0 });
    // 4 settled from the first start (00:00:01) to the last finish (00:01:01): 4 per minute.
    expect(summary.submissionsPerMinute).toBeCloseTo(4);
    expect(summary.submittedPerMinute).toBeCloseTo(3);
    const text = renderSummary(summary);
    expect(text).toMatch(/^all\s+2\s+2\s+0\s+11\.0 s\s+1 min 01 s\s+10\.0 s$/m);
    expect(text).toContain(
      'cache hit rate   67 % (4 of 6): customers 50 % (1 of 2), directories 75 % (3 of 4)',
    );
    // It ends with what became of the listings: two found live, one under review with its recheck due.
    expect(summary.listings).toMatchObject({ live: 2, under_review: 1, not_found: 0, entering: 0 });
    expect(text.trimEnd().split('\n').at(-1)).toBe(
      'listings         3 submitted listings: 0 pending verification, 1 under review, 2 live, 0 not found, ' +
        '0 rejected; first recheck due 2030-01-02 00:01:01 UTC (npm run ops -- jobs show <job> follows them)',
    );
  });
});

describe('the local metrics tap', () => {
  it('counts what a handler records, by function and name, and turns cache counters into hit rates', () => {
    const recorded: string[] = [];
    const metrics = { addMetric: (name: string) => recorded.push(name) } as unknown as Parameters<
      typeof tapMetrics
    >[0];
    const counters = new MetricCounters();
    tapMetrics(metrics, counters, 'worker.');
    metrics.addMetric('CustomerCacheHit', 'Count', 1);
    metrics.addMetric('CustomerCacheMiss', 'Count', 1);
    metrics.addMetric('DirectoryCacheHit', 'Count', 3);
    expect(recorded).toEqual(['CustomerCacheHit', 'CustomerCacheMiss', 'DirectoryCacheHit']);
    expect(counters.snapshot()).toEqual({
      'worker.CustomerCacheHit': 1,
      'worker.CustomerCacheMiss': 1,
      'worker.DirectoryCacheHit': 3,
    });
    expect(cacheFigures(counters)).toEqual({
      customers: { hits: 1, misses: 1, hitRate: 0.5 },
      directories: { hits: 3, misses: 0, hitRate: 1 },
      overall: { hits: 4, misses: 1, hitRate: 0.8 },
    });
    expect(cacheFigures(new MetricCounters()).overall.hitRate).toBeNull();
  });
});

describe('the npm start banner', () => {
  it('offers a curl naming a seeded customer and two served directories, and never prints a database password', () => {
    const text = banner({
      url: 'http://127.0.0.1:3000',
      dashboardUrl: 'http://127.0.0.1:3000/dashboard',
      slackSinkUrl: 'http://127.0.0.1:4000/services/x',
      keys: { admin: 'ffadmin_a', client: 'ffclient_c' },
      databaseUrl: 'postgres://app:s3cret-pass@db.example:5432/formfleet',
      databaseNote: 'DATABASE_URL',
      motoEndpoint: 'http://127.0.0.1:5000',
      directories: ['simple-form', 'login-wall', 'multi-step-wizard'],
      schedules: [{ name: 'stale-jobs', everyMs: 120_000 }],
      speedUp: 1,
      runtimeFile: '.formfleet/runtime.json',
      capacity: {
        concurrency: { tiers: { P1: 4, P2: 3, P3: 2 }, reserved: {} },
        worker: { memoryMb: 3008, directoriesInFlight: 8 },
      },
      stageName: 'prod',
    });
    expect(text).toContain(
      `-d '{"customerId":"${DEMO_CUSTOMERS[0]?.id}","directoryIds":["simple-form","multi-step-wizard"],"priority":1}'`,
    );
    expect(text).toContain("-H 'x-api-key: ffclient_c'");
    expect(text).toContain('stale-jobs every 2 min');
    // The pollers' numbers, from the stage npm start was given (--stage), not policy's.
    expect(text).toContain(
      'P1 ×4, P2 ×3, P3 ×2 concurrent invocations per tier; 8 directories in flight each, 3008 MB in Lambda (stage prod)',
    );
    expect(text).not.toContain('s3cret-pass');
    expect(withoutPassword('not a url')).toBe('not a url');
  });
});
