/**
 * `npm run bench -- <name> [--option value ...]`: runs one benchmark, prints its tables and writes its JSON
 * under bench/results/. `npm run bench -- docs` puts the latest tables into docs/performance.md;
 * `npm run bench` alone lists the benchmarks. A benchmark is run on purpose: it is never part of `npm test`.
 */
import type { BenchContext, Benchmark } from './lib/benchmark.ts';
import { updatePerformanceDoc } from './lib/docs.ts';
import { machine, publish } from './lib/report.ts';
import { type BenchServices, startBenchServices } from './lib/services.ts';

// Handler logs at error level only and no EMF lines: the benchmark's own output is the tables.
process.env.POWERTOOLS_LOG_LEVEL ??= 'ERROR';
process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const { BENCHMARKS } = await import('./index.ts');

function parseArgs(argv: readonly string[]): { name: string | undefined; args: Record<string, string> } {
  const [name, ...rest] = argv;
  const args: Record<string, string> = {};
  for (let i = 0; i < rest.length; i++) {
    const flag = rest[i] as string;
    if (!flag.startsWith('--')) throw new Error(`unexpected argument ${flag} (options are --name value)`);
    const value = rest[i + 1];
    if (value === undefined || value.startsWith('--')) args[flag.slice(2)] = 'true';
    else {
      args[flag.slice(2)] = value;
      i++;
    }
  }
  return { name, args };
}

function usage(): string {
  const width = Math.max(...BENCHMARKS.map((b) => b.name.length));
  return [
    'usage: npm run bench -- <name> [--option value ...]',
    '',
    ...BENCHMARKS.map((b) => `  ${b.name.padEnd(width)}  ${b.summary}`),
    `  ${'docs'.padEnd(width)}  put the latest result of every benchmark into docs/performance.md`,
  ].join('\n');
}

async function runOne(bench: Benchmark, args: Record<string, string>): Promise<void> {
  let services: Promise<BenchServices> | undefined;
  const ctx: BenchContext = {
    args,
    command: [
      'npm run bench --',
      bench.name,
      ...Object.entries(args).flatMap(([k, v]) => [`--${k}`, v]),
    ].join(' '),
    services: () => {
      services ??= startBenchServices();
      return services;
    },
    log: (line) => process.stderr.write(`[${bench.name}] ${line}\n`),
  };
  const date = new Date().toISOString();
  ctx.log(`${bench.title}: started`);
  try {
    const outcome = await bench.run(ctx);
    await publish({
      name: bench.name,
      title: bench.title,
      date,
      command: ctx.command,
      machine: machine(),
      ...outcome,
    });
  } finally {
    if (services) await (await services).stop();
  }
}

const { name, args } = parseArgs(process.argv.slice(2));
if (!name) {
  console.log(usage());
} else if (name === 'docs') {
  console.log(await updatePerformanceDoc(BENCHMARKS.map((b) => b.name)));
} else {
  const bench = BENCHMARKS.find((b) => b.name === name);
  if (!bench) {
    console.error(`no benchmark "${name}"\n\n${usage()}`);
    process.exit(2);
  }
  try {
    await runOne(bench, args);
  } catch (err) {
    console.error(`[${name}] failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    process.exitCode = 1;
  }
}
// Stray handles (pg pools of stopped systems, SDK sockets) must not keep a finished benchmark alive.
process.exit(process.exitCode ?? 0);
