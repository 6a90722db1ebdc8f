/**
 * The evidence outbox, emptied by the stale-jobs run (every RECOVERY.staleCheckIntervalSeconds): screenshots
 * whose upload failed wait in Postgres with their bytes (functions/worker/evidence-uploads.ts), and this step
 * uploads them and marks them stored; a failed try is due again after EVIDENCE.retryBaseSeconds, doubling
 * up to retryMaxSeconds. Once S3 refuses twice in a row the step stops for this run: the rest wait for the
 * next one rather than spend the run's minute on timeouts.
 *
 * It also settles pending screenshots whose bytes were never kept (their worker died, or could not reach
 * Postgres, before the upload ended) once they are older than EVIDENCE.orphanAfterSeconds, when no worker
 * can still be holding them: found in S3 → stored (the upload had worked); not there → lost, with the
 * reason. A screenshot is never claimed stored that S3 does not have.
 */
import type { EvidenceStore } from '#shared/evidence-store';
import type { ObjectStore } from '#shared/object-store';
import { describeError, type Logger, type Metrics, MetricUnit } from '#shared/telemetry';

export interface EvidenceRetryOptions {
  /** Most kept screenshots uploaded per run. */
  batchSize: number;
  retryBaseSeconds: number;
  retryMaxSeconds: number;
  uploadTimeoutMs: number;
  /** Pending this long with no bytes kept: its worker is gone. */
  orphanAfterSeconds: number;
}

export interface EvidenceRetryDeps {
  store: EvidenceStore;
  objects: Pick<ObjectStore, 'put' | 'exists'>;
  logger: Logger;
  metrics: Metrics;
  options: EvidenceRetryOptions;
}

export interface EvidenceRetryReport {
  /** Kept screenshots this run uploaded. */
  uploaded: number;
  /** Kept screenshots whose upload failed again (due again later). */
  failed: number;
  /** Pending screenshots without bytes found in S3 after all. */
  foundStored: number;
  /** Pending screenshots without bytes and not in S3: recorded lost. */
  lost: number;
}

/** Kept screenshots read from Postgres per statement (each up to EVIDENCE.maxImageBytes). */
const CHUNK = 10;
/** S3 refusals in a row after which this run leaves the rest for the next. */
const GIVE_UP_AFTER_FAILURES = 2;

export const LOST_WITH_WORKER =
  'its bytes were never kept for a retry: the worker stopped (or lost Postgres) before the upload ended, and S3 does not have it';

export function retryDelaySeconds(tries: number, options: EvidenceRetryOptions): number {
  return Math.min(options.retryMaxSeconds, options.retryBaseSeconds * 2 ** Math.max(0, tries - 1));
}

export async function retryPendingEvidence(deps: EvidenceRetryDeps): Promise<EvidenceRetryReport> {
  const { store, objects, logger, options } = deps;
  const report: EvidenceRetryReport = { uploaded: 0, failed: 0, foundStored: 0, lost: 0 };
  let refusals = 0;
  // The lease outlasts one chunk's uploads, so a concurrent run never takes the same screenshot.
  const leaseSeconds = Math.ceil((CHUNK * options.uploadTimeoutMs) / 1000) + 60;
  try {
    while (report.uploaded + report.failed < options.batchSize && refusals < GIVE_UP_AFTER_FAILURES) {
      const due = await store.takeDue(
        Math.min(CHUNK, options.batchSize - report.uploaded - report.failed),
        leaseSeconds,
      );
      if (due.length === 0) break;
      for (const object of due) {
        if (refusals >= GIVE_UP_AFTER_FAILURES) {
          // Not tried: handed back, due at the next run.
          await store.retryLater(object.key, null, 0);
          continue;
        }
        try {
          await objects.put(object.key, object.body, {
            contentType: object.contentType,
            sha256: object.sha256,
            timeoutMs: options.uploadTimeoutMs,
          });
          await store.markStored(object.key);
          report.uploaded += 1;
          refusals = 0;
        } catch (err) {
          refusals += 1;
          report.failed += 1;
          const error = describeError(err).message;
          await store.retryLater(object.key, error, retryDelaySeconds(object.tries + 1, options));
          logger.warn('a kept screenshot failed to upload again', { key: object.key, error });
        }
      }
    }
    if (refusals < GIVE_UP_AFTER_FAILURES) {
      for (const key of await store.unkept(options.orphanAfterSeconds, options.batchSize)) {
        if (await objects.exists(key)) {
          await store.markStored(key);
          report.foundStored += 1;
        } else {
          await store.markLost(key, LOST_WITH_WORKER);
          report.lost += 1;
          logger.error('a screenshot was lost before it reached S3', { key });
        }
      }
    }
  } catch (err) {
    // Postgres or S3 failed outside one upload: the rest waits for the next run.
    logger.warn('evidence retry stopped early', { error: describeError(err).message, ...report });
  } finally {
    deps.metrics.addMetric('EvidenceRetried', MetricUnit.Count, report.uploaded);
    deps.metrics.addMetric('EvidenceRetryFailed', MetricUnit.Count, report.failed);
    deps.metrics.addMetric('EvidenceLost', MetricUnit.Count, report.lost);
  }
  if (report.uploaded + report.failed + report.foundStored + report.lost > 0)
    logger.info('pending evidence retried', { ...report });
  return report;
}
