/**
 * A local webhook receiver, as an API client would run one: it takes formfleet's deliveries on loopback,
 * verifies each the Standard Webhooks way (the signature over id.timestamp.body with the endpoint's secret, a
 * timestamp within five minutes), acknowledges a webhook-id it has seen before without counting it again, and
 * keeps what it received for the dashboard. `npm run demo` subscribes it: it makes a receiver
 * (POST <sink>/receivers), creates the webhook with the receiver's URL and registers the secret the API
 * answered once (PUT <sink>/receivers/<name>/secret). Until a secret is registered deliveries get 503, which
 * formfleet retries.
 */
import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { sign } from '#functions/webhooks/signature';
import type { DashboardPanel } from './dashboard/panels.ts';
import { serveOnLoopback } from './services/loopback-server.ts';

/** Standard Webhooks' tolerance for a message's timestamp. */
const TOLERANCE_SECONDS = 5 * 60;
const MAX_BODY = 1_048_576;
/** Deliveries kept for the dashboard and the demo. */
const KEPT = 1_000;

export interface ReceivedWebhook {
  receivedAt: string;
  receiver: string;
  webhookId: string;
  type: string | null;
  verified: boolean;
  /** Why it was refused (a bad signature, a stale timestamp), when it was. */
  refused?: string;
  /** The same webhook-id was received (and verified) before: acknowledged, not counted again. */
  duplicate: boolean;
}

export interface WebhookSink {
  /** The sink's base URL. */
  readonly url: string;
  /** Verified deliveries, duplicates included (flagged), and refused ones, oldest first (the last KEPT). */
  readonly received: readonly ReceivedWebhook[];
  /** Distinct webhook-ids verified so far. */
  readonly verifiedIds: ReadonlySet<string>;
  /** Makes a receiver (or finds it) and returns the URL to subscribe. */
  receiver(name: string): string;
  /** The secret a receiver verifies with (what POST /v1/webhooks answered once). */
  setSecret(name: string, secret: string): void;
  readonly panel: DashboardPanel;
  stop(): Promise<void>;
}

/** Whether `header` (space-separated `v1,<sig>` entries) holds the signature of this message. */
export function verifySignature(
  secret: string,
  headers: { id: string; timestamp: string; signature: string },
  body: string,
  nowSeconds: number = Math.floor(Date.now() / 1000),
): string | undefined {
  const timestamp = Number(headers.timestamp);
  if (!Number.isInteger(timestamp)) return 'webhook-timestamp is not a number';
  if (Math.abs(nowSeconds - timestamp) > TOLERANCE_SECONDS) return 'webhook-timestamp is too old or too new';
  const expected = Buffer.from(sign(secret, headers.id, timestamp, body));
  const match = headers.signature
    .split(' ')
    .some(
      (candidate) =>
        candidate.length === expected.length && timingSafeEqual(Buffer.from(candidate), expected),
    );
  return match ? undefined : 'no signature matches';
}

export async function startWebhookSink(
  options: { onDelivery?: (w: ReceivedWebhook) => void } = {},
): Promise<WebhookSink> {
  const secrets = new Map<string, string | undefined>();
  const received: ReceivedWebhook[] = [];
  const verifiedIds = new Set<string>();
  let base = '';

  const answer = (res: ServerResponse, status: number, body?: unknown) => {
    if (body === undefined) {
      res.writeHead(status);
      res.end();
      return;
    }
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  const keep = (w: ReceivedWebhook) => {
    received.push(w);
    if (received.length > KEPT) received.splice(0, received.length - KEPT);
    options.onDelivery?.(w);
  };

  async function readBody(req: IncomingMessage): Promise<string | undefined> {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req) {
      size += (chunk as Buffer).length;
      if (size > MAX_BODY) return undefined;
      chunks.push(chunk as Buffer);
    }
    return Buffer.concat(chunks).toString('utf8');
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0] as string;
    const named = /^\/(hooks|receivers)\/([A-Za-z0-9._-]{1,64})(\/secret)?$/.exec(path);
    if (req.method === 'POST' && path === '/receivers') {
      const body = JSON.parse((await readBody(req)) || '{}') as { name?: unknown };
      const name =
        typeof body.name === 'string' && /^[A-Za-z0-9._-]{1,64}$/.test(body.name) ? body.name : 'demo';
      return answer(res, 201, { name, url: sink.receiver(name) });
    }
    if (req.method === 'PUT' && named?.[1] === 'receivers' && named[3]) {
      const body = JSON.parse((await readBody(req)) || '{}') as { secret?: unknown };
      if (typeof body.secret !== 'string' || !body.secret.startsWith('whsec_')) {
        return answer(res, 400, { error: 'secret (whsec_...) required' });
      }
      sink.setSecret(named[2] as string, body.secret);
      return answer(res, 204);
    }
    if (req.method === 'POST' && named?.[1] === 'hooks' && !named[3]) {
      const name = named[2] as string;
      const body = await readBody(req);
      if (body === undefined) return answer(res, 413, { error: 'too large' });
      const secret = secrets.get(name);
      if (!secrets.has(name)) return answer(res, 404, { error: 'no such receiver' });
      if (!secret) return answer(res, 503, { error: 'no secret registered yet; retry later' });
      const id = String(req.headers['webhook-id'] ?? '');
      const refused = verifySignature(
        secret,
        {
          id,
          timestamp: String(req.headers['webhook-timestamp'] ?? ''),
          signature: String(req.headers['webhook-signature'] ?? ''),
        },
        body,
      );
      let type: string | null = null;
      try {
        type = (JSON.parse(body) as { type?: string }).type ?? null;
      } catch {
        // an unparsed body still counts (and is refused by its signature, if it was tampered with)
      }
      const duplicate = !refused && verifiedIds.has(id);
      keep({
        receivedAt: new Date().toISOString(),
        receiver: name,
        webhookId: id,
        type,
        verified: !refused,
        ...(refused ? { refused } : {}),
        duplicate,
      });
      if (refused) return answer(res, 401, { error: refused });
      verifiedIds.add(id);
      return answer(res, 200, { received: id, duplicate });
    }
    return answer(res, 404, { error: 'no such route' });
  }

  const server = await serveOnLoopback(handle, (res) => answer(res, 400, { error: 'bad request' }));
  base = server.origin;

  const sink: WebhookSink = {
    url: base,
    received,
    verifiedIds,
    receiver(name) {
      if (!secrets.has(name)) secrets.set(name, undefined);
      return `${base}/hooks/${name}`;
    },
    setSecret(name, secret) {
      secrets.set(name, secret);
    },
    panel: {
      id: 'webhooks',
      title: 'Webhooks received',
      figures: [
        { key: 'verified', label: 'verified' },
        { key: 'distinct', label: 'distinct ids' },
        { key: 'duplicates', label: 'duplicates' },
        { key: 'refused', label: 'refused' },
      ],
      columns: ['received', 'event', 'webhook-id', 'signature'],
      empty: 'nothing received yet: npm run demo subscribes this receiver',
      note: 'The local receiver (local/webhook-sink.ts) verifies each delivery’s Standard Webhooks signature.',
      data: () => ({
        figures: {
          verified: received.filter((w) => w.verified).length,
          distinct: verifiedIds.size,
          duplicates: received.filter((w) => w.duplicate).length,
          refused: received.filter((w) => !w.verified).length,
        },
        rows: received
          .slice(-10)
          .reverse()
          .map((w) => [
            new Date(w.receivedAt).toLocaleTimeString('en-GB'),
            w.type ?? '?',
            w.webhookId.slice(0, 16),
            w.verified ? (w.duplicate ? 'verified (duplicate)' : 'verified') : `refused: ${w.refused}`,
          ]),
      }),
    },
    stop: () => server.stop(),
  };
  return sink;
}
