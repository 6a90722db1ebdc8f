/** Jobs posted to a running local system over HTTP, as a client does. */
import { expect } from 'vitest';
import type { LocalSystem } from '#local/runtime';

/** POST /v1/jobs with the client key (priority 1); expects 202 and answers the job's id. */
export async function postLocalJob(
  system: Pick<LocalSystem, 'url' | 'keys'>,
  customerId: string,
  directoryIds: string[],
): Promise<string> {
  const res = await fetch(`${system.url}/v1/jobs`, {
    method: 'POST',
    headers: { 'x-api-key': system.keys.client, 'content-type': 'application/json' },
    body: JSON.stringify({ customerId, directoryIds, priority: 1 }),
  });
  expect(res.status).toBe(202);
  return ((await res.json()) as { id: string }).id;
}
