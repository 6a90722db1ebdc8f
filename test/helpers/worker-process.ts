/**
 * A worker process on its own, for crash tests: the worker handler behind one poller per tier queue (as
 * Lambda's event source mappings would run it), built by workerDepsFromEnv from its environment, against
 * the test's Postgres, moto queues and fixture sites. Prints "ready" once polling; SIGTERM stops it
 * gracefully, and a test may SIGKILL it to simulate a crash.
 *
 * Environment: what workerDepsFromEnv needs, plus WORKER_QUEUES = JSON [{ url, arn, batchSize, maxConcurrency }].
 */
import { SQSClient } from '@aws-sdk/client-sqs';
import { workerDepsFromEnv } from '#functions/worker/deps';
import { makeWorkerHandler } from '#functions/worker/handler';
import { startPoller } from '#local/sqs-poller';
import { awsClientConfig } from '#shared/aws';
import { requireEnv } from '#shared/env';

interface QueueSpec {
  url: string;
  arn: string;
  batchSize: number;
  maxConcurrency: number;
}

const { WORKER_QUEUES } = requireEnv(process.env, ['WORKER_QUEUES']);
const queues = JSON.parse(WORKER_QUEUES) as QueueSpec[];
const deps = await workerDepsFromEnv(process.env);
const handler = makeWorkerHandler(deps);
const sqs = new SQSClient(awsClientConfig(process.env));
const pollers = queues.map((q, i) =>
  startPoller({
    sqs,
    queueUrl: q.url,
    queueArn: q.arn,
    handler,
    batchSize: q.batchSize,
    maxConcurrency: q.maxConcurrency,
    functionName: `formfleet-test-worker-${i + 1}`,
  }),
);
process.stdout.write('ready\n');

process.on('SIGTERM', () => {
  void (async () => {
    await Promise.all(pollers.map((p) => p.stop(5_000)));
    await deps.browser.close();
    process.exit(0);
  })();
});
