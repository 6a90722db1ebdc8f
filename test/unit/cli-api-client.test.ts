/** The CLIs' HTTP client against a loopback server: 429s waited out, every failure a message a person can act on. */
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient } from '#local/cli/api-client';
import { CliError } from '#local/cli/io';

let server: Server;
let base: string;
const answers: { status: number; body: string; headers?: Record<string, string> }[] = [];
const seen: { url: string; key: string | undefined }[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    seen.push({ url: req.url ?? '', key: req.headers['x-api-key'] as string | undefined });
    const a = answers.shift() ?? { status: 200, body: '{"ok":true}' };
    res.writeHead(a.status, { 'content-type': 'application/json', ...a.headers });
    res.end(a.body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const address = server.address();
  base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/prod/`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

function client(sleeps: number[] = []) {
  return new ApiClient({ baseUrl: base, key: 'k1', sleep: async (ms) => void sleeps.push(ms) });
}

async function failure(promise: Promise<unknown>): Promise<CliError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(CliError);
  return err as CliError;
}

describe('the CLI API client', () => {
  it("keeps a stage's path, sends the key, and waits out a 429 for its Retry-After", async () => {
    const sleeps: number[] = [];
    answers.push({ status: 429, body: '{"message":"Too Many Requests"}', headers: { 'retry-after': '2' } });
    const res = await client(sleeps).request<{ ok: boolean }>('GET', '/v1/jobs', {
      query: { limit: 5, cursor: undefined },
    });
    expect(res).toEqual({ status: 200, body: { ok: true } });
    expect(sleeps).toEqual([2_000]);
    expect(seen.at(-1)).toEqual({ url: '/prod/v1/jobs?limit=5', key: 'k1' });
  });

  it('gives up on a 429 that persists, as "unavailable"', async () => {
    for (let i = 0; i < 4; i++) answers.push({ status: 429, body: '{"message":"Too Many Requests"}' });
    const err = await failure(client().request('GET', '/v1/jobs'));
    expect(err.exitCode).toBe(3);
  });

  it("turns the API's error into its message, field details and request id, with the right exit status", async () => {
    answers.push({
      status: 400,
      body: JSON.stringify({
        error: {
          code: 'bad_request',
          message: 'invalid request body',
          details: [{ field: 'limit', message: 'must be >= 1' }],
        },
      }),
    });
    const bad = await failure(client().request('POST', '/v1/dlq/redrive', { body: {} }));
    expect(bad.exitCode).toBe(1);
    expect(bad.message).toBe(
      'POST /v1/dlq/redrive: invalid request body (HTTP 400 bad_request)\n  limit: must be >= 1',
    );
    answers.push({
      status: 500,
      body: JSON.stringify({ error: { code: 'internal', message: 'internal error', requestId: 'r-1' } }),
    });
    const broken = await failure(client().request('GET', '/v1/health'));
    expect(broken.exitCode).toBe(3);
    expect(broken.message).toContain('(HTTP 500 internal) (request id r-1)');
    answers.push({ status: 502, body: '<html>Bad Gateway</html>' });
    expect((await failure(client().request('GET', '/v1/health'))).message).toContain(
      '<html>Bad Gateway</html>',
    );
    answers.push({ status: 403, body: '{"message":"Forbidden"}' });
    expect((await failure(client().request('GET', '/v1/jobs'))).message).toContain(
      'the API refused the key (403)',
    );
  });

  it('accepts statuses it is told are answers, and can leave the key out', async () => {
    answers.push({ status: 503, body: '{"status":"unhealthy"}' });
    const res = await client().request('GET', '/v1/health', { accept: [503], keyed: false });
    expect(res).toEqual({ status: 503, body: { status: 'unhealthy' } });
    expect(seen.at(-1)?.key).toBeUndefined();
  });
});
