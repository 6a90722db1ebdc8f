/** Lambda entry: the submission worker (SQS FIFO event source, one mapping per priority tier). */
import { workerDepsFromEnv } from './worker/deps.ts';
import { makeWorkerHandler } from './worker/handler.ts';

export const handler = makeWorkerHandler(await workerDepsFromEnv(process.env));
