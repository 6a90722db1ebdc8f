/** The local system's API as an end-to-end test calls it: JSON in and out under a key, and a job waited for. */
import type { LocalSystem } from '#local/runtime';
import { eventually } from './services.ts';

export type LocalApi = (
  path: string,
  init?: { method?: string; body?: unknown; key?: string },
  // biome-ignore lint/suspicious/noExplicitAny: answers are inspected freely.
) => Promise<{ status: number; body: any }>;

/** Calls the running system's API with its client key unless told another. */
export const localApi =
  (system: () => LocalSystem): LocalApi =>
  async (path, init = {}) => {
    const res = await fetch(`${system().url}${path}`, {
      method: init.method ?? 'GET',
      headers: { 'content-type': 'application/json', 'x-api-key': init.key ?? system().keys.client },
      ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
    });
    return { status: res.status, body: await res.json() };
  };

/** The job once it has completed or failed (a minute at most). */
export function jobFinished(api: LocalApi, jobId: string) {
  return eventually(
    `job ${jobId} to finish`,
    async () => {
      const res = await api(`/v1/jobs/${jobId}`);
      return ['completed', 'failed'].includes(res.body.status) ? res.body : undefined;
    },
    { timeoutMs: 60_000, intervalMs: 250 },
  );
}
