/**
 * Structured logs and metrics: Powertools Logger and Metrics (EMF), with secrets kept out of every line.
 *
 * Redaction works two ways: values of keys that name secrets (x-api-key, authorization, password, webhook,
 * secret, token, connection strings) are replaced wherever they appear, and every value registered with
 * `registerSecret` (API keys, the database password, the Slack webhook URL, known at cold start) is
 * replaced inside any string it appears in.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { search } from '@aws-lambda-powertools/logger/correlationId';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { SERVICE } from '#policy';

export type { Logger, Metrics };
export { MetricUnit };

const REDACTED = '[REDACTED]';
const SECRET_KEY =
  /(api[-_]?key|authorization|password|passwd|secret|webhook|token|cookie|database_?url|connectionstring)/i;
/** Keys that contain "token" but are not secrets. */
const NOT_SECRET_KEYS = new Set(['fencingToken', 'enqueueToken', 'fencing_token', 'enqueue_token']);
const secrets = new Set<string>();

/** Every string equal to or containing `value` is redacted from logs from now on (short values ignored). */
export function registerSecret(value: string | undefined | null): void {
  if (value && value.length >= 6) secrets.add(value);
  // A URL's password alone is secret too.
  if (value && /^[a-z]+:\/\//i.test(value)) {
    try {
      const password = decodeURIComponent(new URL(value).password);
      if (password.length >= 6) secrets.add(password);
    } catch {
      // not a URL after all
    }
  }
}

export function redactString(text: string): string {
  let out = text;
  for (const secret of secrets) {
    if (out.includes(secret)) out = out.split(secret).join(REDACTED);
  }
  return out;
}

/** JSON replacer applied to every log line. */
export function redactingReplacer(key: string, value: unknown): unknown {
  if (
    key &&
    SECRET_KEY.test(key) &&
    !NOT_SECRET_KEYS.has(key) &&
    value !== null &&
    typeof value !== 'object'
  ) {
    return REDACTED;
  }
  if (typeof value === 'string') return redactString(value);
  if (typeof value === 'bigint') return value.toString();
  return value;
}

export function createLogger(component: string): Logger {
  return new Logger({
    serviceName: SERVICE.name,
    persistentKeys: { component },
    jsonReplacerFn: redactingReplacer,
    correlationIdSearchFn: search,
  });
}

export function createMetrics(component: string, logger: Logger = createLogger(component)): Metrics {
  return new Metrics({
    namespace: SERVICE.metricsNamespace,
    serviceName: SERVICE.name,
    defaultDimensions: { component },
    // Powertools' own warnings (e.g. "no metrics to publish") go out as structured log lines.
    logger,
  });
}

/** An error's message and name, for logs and ledgers, never its stack for callers. */
export function describeError(err: unknown): { name: string; message: string } {
  if (err instanceof Error) return { name: err.name, message: redactString(err.message) };
  return { name: 'Error', message: redactString(String(err)) };
}
