/**
 * A local "Slack": an HTTP server on loopback that accepts incoming-webhook posts the way Slack does (JSON
 * with text or blocks, Slack's block limits, 404 "no_service" for a wrong path), records each message, and
 * can be told to misbehave: fail the next N posts with a 5xx, answer 429 with Retry-After, or hang without
 * answering. The notifier's retry, pacing and de-duplication are tested against it.
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { SLACK_LIMITS } from '#functions/alerts/slack-blocks';
import { serveOnLoopback } from './services/loopback-server.ts';

export interface SlackSinkMessage {
  receivedAt: string;
  text: string | undefined;
  blocks: Record<string, unknown>[];
}

export interface SlackSink {
  /** The webhook URL (its path is the secret, as in Slack's). */
  readonly url: string;
  /** Messages accepted (answered 200), oldest first. */
  readonly messages: readonly SlackSinkMessage[];
  /** Every POST to the webhook, including refused and hung ones. */
  readonly attempts: number;
  /** The next `count` posts get `status` (default 500). */
  failNext(count: number, status?: number): void;
  /** The next `count` posts get 429 with Retry-After. */
  rateLimitNext(count: number, retryAfterSeconds?: number): void;
  /** The next `count` posts get no answer at all (until the client gives up or the sink stops). */
  hangNext(count: number): void;
  /** Forgets the faults not yet used: the sink answers 200 again. */
  clearFaults(): void;
  /** Resolves once at least `count` messages were accepted. */
  waitForMessages(count: number, timeoutMs?: number): Promise<SlackSinkMessage[]>;
  stop(): Promise<void>;
}

type Fault = { kind: 'status'; status: number } | { kind: 'rate'; retryAfter: number } | { kind: 'hang' };

/** Largest body accepted, well above any alert. */
const MAX_BODY = 1_048_576;

function invalidBlocks(blocks: unknown): string | undefined {
  if (!Array.isArray(blocks)) return 'invalid_blocks_format';
  if (blocks.length > SLACK_LIMITS.blocks) return 'invalid_blocks';
  for (const block of blocks as Record<string, unknown>[]) {
    const text = (block.text as { text?: unknown } | undefined)?.text;
    if (block.type === 'header' && (typeof text !== 'string' || text.length > SLACK_LIMITS.headerText)) {
      return 'invalid_blocks';
    }
    if (block.type === 'section') {
      if (typeof text === 'string' && text.length > SLACK_LIMITS.sectionText) return 'invalid_blocks';
      if (Array.isArray(block.fields) && block.fields.length > SLACK_LIMITS.fields) return 'invalid_blocks';
      if (text === undefined && !Array.isArray(block.fields)) return 'invalid_blocks';
    }
  }
  return undefined;
}

export async function startSlackSink(
  options: { onMessage?: (message: SlackSinkMessage) => void } = {},
): Promise<SlackSink> {
  const path = `/services/T00LOCAL/B00LOCAL/${randomBytes(12).toString('hex')}`;
  const messages: SlackSinkMessage[] = [];
  const faults: Fault[] = [];
  const waiters = new Set<() => void>();
  let attempts = 0;

  const answer = (
    res: ServerResponse,
    status: number,
    body: string,
    headers: Record<string, string> = {},
  ) => {
    res.writeHead(status, { 'content-type': 'text/plain', ...headers });
    res.end(body);
  };

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method !== 'POST' || req.url !== path) {
      answer(res, req.url === path ? 405 : 404, req.url === path ? 'method_not_allowed' : 'no_service');
      return;
    }
    attempts += 1;
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req) {
      size += (chunk as Buffer).length;
      if (size > MAX_BODY) {
        answer(res, 413, 'request_too_large');
        return;
      }
      chunks.push(chunk as Buffer);
    }
    const fault = faults.shift();
    if (fault?.kind === 'hang') return; // the socket stays open until the client aborts or the sink stops
    if (fault?.kind === 'rate') {
      answer(res, 429, 'rate_limited', { 'retry-after': String(fault.retryAfter) });
      return;
    }
    if (fault?.kind === 'status') {
      answer(res, fault.status, 'service_unavailable');
      return;
    }
    let body: { text?: unknown; blocks?: unknown };
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch {
      answer(res, 400, 'invalid_payload');
      return;
    }
    if (typeof body !== 'object' || body === null || (typeof body.text !== 'string' && !body.blocks)) {
      answer(res, 400, 'no_text');
      return;
    }
    const blocksError = body.blocks === undefined ? undefined : invalidBlocks(body.blocks);
    if (blocksError) {
      answer(res, 400, blocksError);
      return;
    }
    const message: SlackSinkMessage = {
      receivedAt: new Date().toISOString(),
      text: typeof body.text === 'string' ? body.text : undefined,
      blocks: (body.blocks as Record<string, unknown>[] | undefined) ?? [],
    };
    messages.push(message);
    options.onMessage?.(message);
    for (const wake of waiters) wake();
    answer(res, 200, 'ok');
  }

  const server = await serveOnLoopback(handle, (res) => answer(res, 500, 'internal_error'));

  return {
    url: `${server.origin}${path}`,
    messages,
    get attempts() {
      return attempts;
    },
    failNext(count, status = 500) {
      for (let i = 0; i < count; i++) faults.push({ kind: 'status', status });
    },
    rateLimitNext(count, retryAfterSeconds = 1) {
      for (let i = 0; i < count; i++) faults.push({ kind: 'rate', retryAfter: retryAfterSeconds });
    },
    hangNext(count) {
      for (let i = 0; i < count; i++) faults.push({ kind: 'hang' });
    },
    clearFaults() {
      faults.length = 0;
    },
    waitForMessages(count, timeoutMs = 15_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (messages.length < count) return;
          cleanup();
          resolve([...messages]);
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`timed out after ${timeoutMs} ms waiting for ${count} Slack message(s)`));
        }, timeoutMs);
        const cleanup = () => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      });
    },
    stop: () => server.stop(),
  };
}
