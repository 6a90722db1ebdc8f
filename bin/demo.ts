/**
 * `npm run demo`: a mixed-priority workload on formfleet with live progress per tier and a summary
 * (local/cli/demo.ts). Uses the running `npm start`, or starts a system for the demo and stops it after.
 * Ctrl-C stops waiting (and stops a system the demo started); a second Ctrl-C a moment later exits at once.
 */
import { runDemo } from '#local/cli/demo';
import { processIo } from '#local/cli/io';

process.env.POWERTOOLS_LOG_LEVEL ??= process.env.LOG_LEVEL ?? 'WARN';
process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const interrupted = new AbortController();
let firstSignalAt: number | undefined;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    // npm passes a Ctrl-C on as well: the same keypress can arrive twice within milliseconds.
    if (firstSignalAt !== undefined && Date.now() - firstSignalAt > 2_000) process.exit(130);
    firstSignalAt ??= Date.now();
    interrupted.abort();
  });
}

process.exitCode = await runDemo(process.argv.slice(2), processIo(), { signal: interrupted.signal });
