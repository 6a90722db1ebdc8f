/**
 * A webhook receiver for tests, as an API client would write one: it verifies every delivery with the
 * Standard Webhooks reference library (`standardwebhooks` from npm, independent of formfleet's signing),
 * deduplicates by webhook-id, and counts what it saw (posts, distinct ids, attempts in flight at once). Its
 * behaviour per request is the test's to choose: answer a status (after a delay), hang, or accept.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { Webhook } from 'standardwebhooks';

export interface ReceivedDelivery {
  webhookId: string;
  timestamp: string;
  signature: string;
  body: string;
  /** The parsed body, once verified. */
  event: {
    id: string;
    type: string;
    timestamp: string;
    jobId?: string;
    sequence?: number;
    data: unknown;
  } | null;
  verified: boolean;
  at: number;
  path: string;
}

/**
 * What the receiver does with a request: answer `status` (with `processed`, it did its work before failing to
 * answer well, as a receiver that crashes after committing would), or hang (no answer until the sender gives up).
 */
export type Behaviour = (
  d: ReceivedDelivery,
) => { status: number; processed?: boolean; delayMs?: number } | 'hang';

export interface TestReceiver {
  readonly url: string;
  /** Every post, in arrival order. */
  readonly posts: readonly ReceivedDelivery[];
  /** Events processed once each (verified and answered 2xx), by webhook-id. */
  readonly processed: ReadonlyMap<string, ReceivedDelivery>;
  /** Posts of a webhook-id already processed (the receiver acknowledged them without processing again). */
  readonly duplicates: number;
  /** The most requests in flight at once (per path prefix `/<name>`, and in all). */
  maxInFlight(path?: string): number;
  /** The secret deliveries to paths under `/<name>` (or every path) are verified with. */
  setSecret(secret: string, prefix?: string): void;
  behave(b: Behaviour): void;
  stop(): Promise<void>;
}

export async function startTestReceiver(): Promise<TestReceiver> {
  const posts: ReceivedDelivery[] = [];
  const processed = new Map<string, ReceivedDelivery>();
  const sockets = new Set<Socket>();
  const inFlight = new Map<string, number>();
  const peak = new Map<string, number>();
  let duplicates = 0;
  const verifiers = new Map<string, Webhook>();
  let behaviour: Behaviour = () => ({ status: 200 });

  const track = (key: string, delta: number) => {
    const n = (inFlight.get(key) ?? 0) + delta;
    inFlight.set(key, n);
    peak.set(key, Math.max(peak.get(key) ?? 0, n));
  };

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = req.url ?? '/';
    const prefix = `/${path.split('/')[1] ?? ''}`;
    track('', 1);
    track(prefix, 1);
    res.on('close', () => {
      track('', -1);
      track(prefix, -1);
    });
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    const headers = {
      'webhook-id': String(req.headers['webhook-id'] ?? ''),
      'webhook-timestamp': String(req.headers['webhook-timestamp'] ?? ''),
      'webhook-signature': String(req.headers['webhook-signature'] ?? ''),
    };
    let event: ReceivedDelivery['event'] = null;
    try {
      const verifier = verifiers.get(prefix) ?? verifiers.get('');
      event = verifier ? (verifier.verify(body, headers) as ReceivedDelivery['event']) : null;
    } catch {
      event = null;
    }
    const delivery: ReceivedDelivery = {
      webhookId: headers['webhook-id'],
      timestamp: headers['webhook-timestamp'],
      signature: headers['webhook-signature'],
      body,
      event,
      verified: event !== null,
      at: Date.now(),
      path,
    };
    posts.push(delivery);
    if (!delivery.verified) {
      res.writeHead(401).end('bad signature');
      return;
    }
    const decision = behaviour(delivery);
    if (decision === 'hang') return;
    if (decision.delayMs) await new Promise((r) => setTimeout(r, decision.delayMs));
    if ((decision.status >= 200 && decision.status < 300) || decision.processed) {
      if (processed.has(delivery.webhookId)) duplicates += 1;
      else processed.set(delivery.webhookId, delivery);
    }
    res.writeHead(decision.status, { 'content-type': 'text/plain' }).end(`answered ${decision.status}`);
  }

  const server = createServer((req, res) => {
    handle(req, res).catch(() => res.destroy());
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    posts,
    processed,
    get duplicates() {
      return duplicates;
    },
    maxInFlight: (path = '') => peak.get(path) ?? 0,
    setSecret(secret, prefix = '') {
      verifiers.set(prefix, new Webhook(secret));
    },
    behave(b) {
      behaviour = b;
    },
    async stop() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
