/**
 * a. The submission pipeline against bare playwright-core on the same fixture pages at the same concurrency.
 *
 * Each lane submits one business to the same four fixture forms in turn (one page, a three-page wizard,
 * selects/checkboxes/radios, a redirect), `--copies` copies of each (its own sites, so lanes never wait for
 * each other's politeness lock). The bare lane is a hand-written playwright-core script per form. The
 * pipeline lane is one job of those directories (12 by default; formfleet's packages have 25 to 200,
 * so its fixed cost per job is, if anything, counted more heavily here than in use): created and enqueued
 * as the API does it, received from SQS FIFO (moto) by a poller standing in for the event source mapping,
 * claimed, walked by the worker handler (idempotency record on DynamoDB, politeness lock, fenced ledger
 * writes, heartbeats, the data-driven form engine), and finished. A third lane is the same pipeline without
 * proof per submission (the worker's evidence recorder left out: no screenshots, nothing uploaded), so the
 * cost of the proof is measured against the pipeline itself, in the same run, on the same machine state.
 * Rounds rotate the order of the three. Time per submission = round wall time / submissions per lane; the
 * ratios compare the medians.
 *
 * The politeness gap between visits to one site is set to 0 here: it is a deliberate wait, not overhead.
 */
import { makeWorkerHandler } from '#functions/worker/handler';
import { multiStepWizard, redirectSuccess, selectCheckRadio, simpleForm } from '#local/fixtures/variants';
import { startPoller } from '#local/sqs-poller';
import { baseId, siteCopies } from '#test/site-copies';
import { profile as businessProfile } from '#test/worker-jobs';
import { BARE_SCRIPTS, bareSubmit, launchBareChromium } from './lib/bare-forms.ts';
import { type Benchmark, intArg, intListArg } from './lib/benchmark.ts';
import { BenchJobs, waitForTerminal } from './lib/fixtures.ts';
import { fmt, type Table } from './lib/report.ts';
import { elapsedMs, median, summarize } from './lib/stats.ts';

/** The forms every lane fills (benchmark h fills the same ones at real-world latency). */
export const VARIANTS = [simpleForm, multiStepWizard, selectCheckRadio, redirectSuccess];

interface LaneRound {
  lanes: number;
  round: number;
  bareWallMs: number;
  pipelineWallMs: number;
  /** The same pipeline without proof (no screenshots, no uploads). */
  noProofWallMs: number;
  bareSubmissionMs: number[];
  /** Per lane: its submissions' total time / submissions per lane (the bare counterpart of pipelineJobMs). */
  bareLaneMs: number[];
  /** Per job: claim to finish, and creation to finish (ms), from the job rows. */
  pipelineJobMs: number[];
  pipelineEndToEndMs: number[];
}

export const pipeline: Benchmark = {
  name: 'pipeline',
  title: 'Submission pipeline vs bare playwright-core',
  summary: 'time per submission through queue + worker + ledger, against a bare playwright-core script',
  async run(ctx) {
    const laneCounts = intListArg(ctx.args, 'lanes', [1, 4]);
    const rounds = intArg(ctx.args, 'rounds', 5);
    const copiesPerForm = intArg(ctx.args, 'copies', 3);
    const maxLanes = Math.max(...laneCounts);
    const copies = siteCopies(VARIANTS, maxLanes * copiesPerForm);
    // Lane i: its own copies of every form, one job's worth of directories.
    const laneSites = Array.from({ length: maxLanes }, (_, i) =>
      copies.slice(i * copiesPerForm, (i + 1) * copiesPerForm).flat(),
    );
    const services = await ctx.services();
    const system = await services.system('pipeline', {
      fixtures: copies.flat(),
      workers: false,
      // One directory at a time per job (K = 1): "concurrency N" is N jobs beside N bare lanes, the same
      // number of forms in flight on both sides. K directories at once per job is benchmark i's (latency.ts).
      env: { SITE_MIN_GAP_MS: '0', WORKER_DIRECTORIES_IN_FLIGHT: '1' },
    });
    const p1 = system.queues.find((q) => q.priority === 1);
    if (!p1) throw new Error('no P1 queue');
    const jobs = new BenchJobs(system);
    const browser = await launchBareChromium();
    const perLane = VARIANTS.length * copiesPerForm;
    const results: LaneRound[] = [];
    let serial = 0;
    let proofObjects = { stored: 0, meanBytes: 0 };
    try {
      for (const lanes of laneCounts) {
        // A round ends when the worker handler has returned for each of its jobs (then one query confirms
        // every job completed), not by polling Postgres every few ms: that polling ran only during pipeline
        // rounds and took CPU from the worker it was timing.
        const withProof = makeWorkerHandler(system.worker);
        const withoutProof = makeWorkerHandler({ ...system.worker, evidence: undefined });
        let worker = withProof;
        let handled: { left: number; done: () => void } | undefined;
        const poller = startPoller({
          sqs: system.sqs,
          queueUrl: p1.url,
          queueArn: p1.arn,
          handler: async (event, context) => {
            try {
              return await worker(event, context);
            } finally {
              if (handled && --handled.left === 0) handled.done();
            }
          },
          batchSize: 1,
          maxConcurrency: lanes,
          functionName: 'bench-worker',
        });
        const lanesOf = laneSites.slice(0, lanes);

        const bareRound = async () => {
          const samples: number[] = [];
          const laneMs: number[] = [];
          const start = performance.now();
          await Promise.all(
            lanesOf.map(async (sites) => {
              const profile = businessProfile(`Bare Business ${serial++}`);
              const laneStart = performance.now();
              for (const variant of sites) {
                const t0 = performance.now();
                await bareSubmit(
                  browser,
                  baseId(variant.id),
                  system.fixtures.site(variant.id).origin,
                  profile,
                );
                samples.push(elapsedMs(t0));
              }
              laneMs.push(elapsedMs(laneStart) / sites.length);
            }),
          );
          return { wall: elapsedMs(start), samples, laneMs };
        };

        const pipelineRound = async (proof = true) => {
          worker = proof ? withProof : withoutProof;
          const customers = await Promise.all(
            lanesOf.map(() => jobs.customer(`Pipeline Business ${serial++}`)),
          );
          const allHandled = new Promise<void>((done) => {
            handled = { left: lanesOf.length, done };
          });
          const start = performance.now();
          const created = await Promise.all(
            lanesOf.map((sites, i) =>
              jobs.enqueue(
                customers[i] as string,
                sites.map((s) => s.id),
                1,
              ),
            ),
          );
          const ids = created.map((j) => j.id);
          let timer: NodeJS.Timeout | undefined;
          await Promise.race([allHandled, new Promise((r) => (timer = setTimeout(r, 120_000)))]);
          clearTimeout(timer);
          // Normally answered by the first query; polls on only if a job is somehow still open.
          await waitForTerminal(system, ids, 10_000, 10);
          const wall = elapsedMs(start);
          handled = undefined;
          const { rows } = await system.db.query<{ status: string; run_ms: number; e2e_ms: number }>(
            `SELECT status,
                    (extract(epoch FROM finished_at - started_at) * 1000)::float8 AS run_ms,
                    (extract(epoch FROM finished_at - created_at) * 1000)::float8 AS e2e_ms
             FROM jobs WHERE id = ANY($1::uuid[])`,
            [ids],
          );
          const { rows: bad } = await system.db.query(
            `SELECT 1 FROM submissions WHERE job_id = ANY($1::uuid[]) AND status <> 'submitted'`,
            [ids],
          );
          if (rows.some((r) => r.status !== 'completed') || bad.length > 0) {
            throw new Error('a pipeline job did not submit every directory; the measurement is void');
          }
          return { wall, jobMs: rows.map((r) => r.run_ms), e2eMs: rows.map((r) => r.e2e_ms) };
        };

        ctx.log(`lanes ${lanes}: warm-up`);
        await bareRound();
        await pipelineRound();
        await pipelineRound(false);
        for (let round = 1; round <= rounds; round++) {
          // Rotate which side goes first, so none always runs on a warmer machine.
          let bare: Awaited<ReturnType<typeof bareRound>> | undefined;
          let piped: Awaited<ReturnType<typeof pipelineRound>> | undefined;
          let noProof: Awaited<ReturnType<typeof pipelineRound>> | undefined;
          const sides = [
            async () => {
              bare = await bareRound();
            },
            async () => {
              piped = await pipelineRound();
            },
            async () => {
              noProof = await pipelineRound(false);
            },
          ];
          for (let i = 0; i < sides.length; i++) await sides[(round + i) % sides.length]?.();
          if (!bare || !piped || !noProof) throw new Error('a side of the round did not run');
          results.push({
            lanes,
            round,
            bareWallMs: bare.wall,
            pipelineWallMs: piped.wall,
            noProofWallMs: noProof.wall,
            bareSubmissionMs: bare.samples,
            bareLaneMs: bare.laneMs,
            pipelineJobMs: piped.jobMs,
            pipelineEndToEndMs: piped.e2eMs,
          });
          ctx.log(
            `lanes ${lanes} round ${round}: bare ${fmt(bare.wall / perLane, 0)} ms, pipeline ${fmt(piped.wall / perLane, 0)} ms, without proof ${fmt(noProof.wall / perLane, 0)} ms per submission`,
          );
        }
        await poller.stop(10_000);
      }
      // Every site received each business exactly once.
      for (const [id, counts] of Object.entries(system.fixtures.counts())) {
        const twice = Object.entries(counts).filter(([, n]) => n !== 1);
        if (twice.length > 0) throw new Error(`site ${id} received a business more than once: ${twice}`);
      }
      // The proof lane really kept its proof: both screenshots of every click, in S3 (the bucket on moto).
      const { rows: objects } = await system.db.query<{ state: string; n: number; bytes: number }>(
        `SELECT state, count(*)::int AS n, coalesce(avg(size_bytes), 0)::int AS bytes
         FROM evidence_objects GROUP BY state`,
      );
      const stored = objects.find((o) => o.state === 'stored');
      if (!stored || objects.some((o) => o.state !== 'stored')) {
        throw new Error(`the proof lane did not store its screenshots: ${JSON.stringify(objects)}`);
      }
      proofObjects = { stored: stored.n, meanBytes: stored.bytes };
    } finally {
      await browser.close();
    }

    const rowsFor = laneCounts.map((lanes) => {
      const mine = results.filter((r) => r.lanes === lanes);
      const bare = median(mine.map((r) => r.bareWallMs / perLane));
      const piped = median(mine.map((r) => r.pipelineWallMs / perLane));
      const noProof = median(mine.map((r) => r.noProofWallMs / perLane));
      // Like with like: a bare lane's mean over its forms against a pipeline job's mean over its directories.
      const bareEach = summarize(mine.flatMap((r) => r.bareLaneMs));
      const jobEach = summarize(mine.flatMap((r) => r.pipelineJobMs.map((ms) => ms / perLane)));
      const total = lanes * perLane;
      return {
        lanes,
        bare,
        piped,
        noProof,
        ratio: piped / bare,
        // Paired: each round runs the three sides back to back, so a round's ratio sees one machine state;
        // the median of those is steadier on a shared machine than a ratio of medians taken across rounds.
        proofCost: median(mine.map((r) => r.pipelineWallMs / r.noProofWallMs)),
        bareEach,
        jobEach,
        total,
      };
    });
    const table: Table = {
      title: 'Time per submission (median of rounds)',
      columns: [
        'concurrency',
        'submissions/round',
        'bare ms',
        'pipeline ms',
        'ratio',
        'without proof ms',
        'proof cost',
        'bare subs/min',
        'pipeline subs/min',
      ],
      rows: rowsFor.map((r) => [
        String(r.lanes),
        String(r.total),
        fmt(r.bare, 0),
        fmt(r.piped, 0),
        fmt(r.ratio, 3),
        fmt(r.noProof, 0),
        fmt(r.proofCost, 3),
        fmt((60_000 / r.bare) * r.lanes, 0),
        fmt((60_000 / r.piped) * r.lanes, 0),
      ]),
      notes: [
        `${rounds} rounds per concurrency after one warm-up round each; each lane submits one business to ${copiesPerForm} copies each of ${VARIANTS.map((v) => v.id).join(', ')} (${perLane} directories, one job in the pipeline)`,
        'pipeline = job created and enqueued (Postgres + SQS FIFO on moto) → poller → worker handler → completed in Postgres',
        'bare = one hand-written playwright-core script per form, fresh context per submission, same Chromium binary and flags',
        'without proof = the same pipeline with the worker’s evidence recorder left out (no screenshots, nothing uploaded); proof cost = the median over rounds of pipeline / without proof in the same round',
      ],
    };
    const detail: Table = {
      title: 'Where the time goes (per submission, all rounds)',
      columns: [
        'concurrency',
        'bare p50 ms (lane)',
        'bare p95 ms (lane)',
        'worker p50 ms (claim → finish)',
        'worker p95 ms',
      ],
      rows: rowsFor.map((r) => [
        String(r.lanes),
        fmt(r.bareEach.p50, 0),
        fmt(r.bareEach.p95, 0),
        fmt(r.jobEach.p50, 0),
        fmt(r.jobEach.p95, 0),
      ]),
      notes: [
        'worker = (finished_at − started_at) of the job row / directories in the job',
        'bare (lane) = a lane’s time for its forms in one round / forms per lane: the same mean over the same mix of forms as the worker’s',
      ],
    };
    return {
      params: {
        lanes: laneCounts,
        rounds,
        directoriesPerJob: perLane,
        forms: Object.keys(BARE_SCRIPTS),
        siteMinGapMs: 0,
        proofScreenshotsStored: proofObjects.stored,
        proofScreenshotMeanBytes: proofObjects.meanBytes,
        postgres: `${services.postgresKind} ${services.postgresVersion}`,
      },
      tables: [table, detail],
      goals: rowsFor.flatMap((r) => [
        {
          goal: `pipeline / bare at concurrency ${r.lanes}`,
          target: '≤ 1.05',
          measured: fmt(r.ratio, 3),
          met: r.ratio <= 1.05,
        },
        {
          goal: `proof per submission: pipeline / pipeline without proof at concurrency ${r.lanes}`,
          target: '≤ 1.05',
          measured: fmt(r.proofCost, 3),
          met: r.proofCost <= 1.05,
        },
      ]),
      raw: { rounds: results },
    };
  },
};
