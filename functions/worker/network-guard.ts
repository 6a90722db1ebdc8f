/**
 * The worker's network guard: directory sites are untrusted pages, and in Lambda the browser sits next to the
 * runtime API (127.0.0.1:9001), the credentials endpoints (169.254.169.254, 169.254.170.2) and whatever private
 * network the function can see. Every browser context gets its own gate: a small forward proxy on loopback
 * that Chromium must send every connection through (per-context proxy with `<-loopback>`, so not even
 * loopback bypasses it). For each connection the gate resolves the name itself, refuses it if any address is
 * in a range of BROWSER_NETWORK (policy), and otherwise connects to exactly the address it checked.
 *
 * Why a proxy, and not Playwright's page.route with a DNS lookup beside it:
 * - It sees every connection the browser's network stack makes, whoever asks: navigations, each hop of a
 *   redirect, subresources, fetch and XHR, form posts, frames, popups, WebSockets, EventSource, beacons,
 *   preconnects, and requests of dedicated, shared and service workers. page.route misses WebSockets (they
 *   need routeWebSocket), service workers' requests, and sees a redirect's hops only as Chromium allows.
 * - The check and the connection use the same address, so DNS rebinding (a name that answers a public
 *   address to the check and 127.0.0.1 to the browser a moment later) cannot slip between them. Chromium does
 *   not resolve destination names at all when it uses a proxy.
 * - It costs a loopback hop per connection, not a round trip through the Playwright driver per request.
 *
 * What a proxy cannot see is refused elsewhere: WebRTC's UDP (Chromium is told to send no non-proxied UDP,
 * browser-pool.ts), and non-web schemes: definitions may only navigate to http(s) (checkNavigation, and the
 * definition parser), while a page's own file:, chrome: and data: top-level navigations and file: frames are
 * refused by Chromium itself, which says so on the console; the gate records those too (watchContext).
 *
 * Written by hand: the well-kept proxy packages connect to the name they are given, which is exactly the
 * time-of-check/time-of-use gap this closes, and none takes a hook at connect time.
 */
import {
  Agent,
  createServer,
  request as httpRequest,
  type IncomingMessage,
  type OutgoingHttpHeaders,
  type Server,
  type ServerResponse,
} from 'node:http';
import { connect, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { BrowserContext, ConsoleMessage } from 'playwright-core';
import { BROWSER_NETWORK } from '#policy';
import {
  type Admission,
  admitDestination,
  type BlockedRanges,
  bareHost,
  type CompiledRanges,
  compileRanges,
  type Resolver,
} from '#shared/destination-guard';
import { ConfigError, type Env, listEnv } from '#shared/env';

// The address check is shared with webhook delivery; these names stay importable from here.
export { type BlockedRanges, blockedKind, type Resolver } from '#shared/destination-guard';

export interface BlockedAttempt {
  /** What the browser asked for: a URL (plain http and refused schemes) or host:port (https and wss tunnels). */
  target: string;
  /** Why it was refused: the kind of address it resolved to, or the scheme. */
  reason: string;
}

export interface NetworkGuardOptions {
  /**
   * Origins let through although their address is private: the local runtime's fixture sites, and nothing
   * else (BROWSER_ALLOWED_ORIGINS, refused in Lambda). Matched on host and port exactly as the browser asks.
   */
  allowedOrigins?: readonly string[];
  /** Name resolution (tests give names their own answers). @default every address of dns.lookup */
  resolve?: Resolver;
  /** Called for every refused attempt (metrics, logs). */
  onBlocked?: (attempt: BlockedAttempt) => void;
  /** The refused ranges (a test narrows them to tell two loopback addresses apart). @default BROWSER_NETWORK's */
  blockedRanges?: BlockedRanges;
}

/**
 * The worker's guard from its environment: nothing private reachable, unless BROWSER_ALLOWED_ORIGINS names
 * origins (the local runtime's fixture sites on loopback). In Lambda that variable is refused at cold start:
 * the deployed browser has no way to be opened.
 */
export function networkGuardFromEnv(env: Env, onBlocked?: (attempt: BlockedAttempt) => void): NetworkGuard {
  const allowedOrigins = listEnv(env, 'BROWSER_ALLOWED_ORIGINS');
  if (allowedOrigins.length > 0 && env.AWS_LAMBDA_FUNCTION_NAME) {
    throw new ConfigError(
      'BROWSER_ALLOWED_ORIGINS lets the browser reach private addresses and is for the local runtime only; remove it from the function',
    );
  }
  const invalid = allowedOrigins.filter((origin) => {
    try {
      originKey(origin);
      return false;
    } catch {
      return true;
    }
  });
  if (invalid.length > 0) {
    throw new ConfigError(`BROWSER_ALLOWED_ORIGINS must list http(s) origins (got ${invalid.join(', ')})`);
  }
  return new NetworkGuard({ allowedOrigins, ...(onBlocked ? { onBlocked } : {}) });
}

/** Where a refused attempt went, for logs: its origin or scheme, never its path or query. */
export function targetOrigin(target: string): string {
  if (!target.includes('://')) return target.startsWith('data:') ? 'data:' : target;
  try {
    const url = new URL(target);
    return url.protocol === 'http:' || url.protocol === 'https:' ? url.origin : url.protocol;
  } catch {
    return 'unparseable';
  }
}

/** Why a definition may not navigate to this URL ("a file: URL (...)"), or undefined when it may. */
export function checkNavigation(url: string): string | undefined {
  let protocol: string;
  try {
    protocol = new URL(url).protocol;
  } catch {
    return 'not a URL';
  }
  return (BROWSER_NETWORK.schemes as readonly string[]).includes(protocol)
    ? undefined
    : `a ${protocol} URL (only ${BROWSER_NETWORK.schemes.join(' and ')} may be opened)`;
}

/** The host:port key of an origin ("http://127.0.0.1:8080" → "127.0.0.1:8080"). */
export function originKey(origin: string): string {
  const url = new URL(origin);
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new Error(`${origin} is not an http(s) origin`);
  }
  const port = url.port || (url.protocol === 'https:' ? '443' : '80');
  return `${bareHost(url.hostname)}:${port}`;
}

/**
 * The guard of one worker process: its policy, and a gate per browser context (open one with `open()`).
 */
export class NetworkGuard {
  private readonly allowed: ReadonlySet<string>;
  private readonly ranges: CompiledRanges | undefined;

  constructor(private readonly options: NetworkGuardOptions = {}) {
    this.allowed = new Set((options.allowedOrigins ?? []).map(originKey));
    this.ranges = options.blockedRanges ? compileRanges(options.blockedRanges) : undefined;
  }

  /** A new gate on a free loopback port, for one browser context. */
  async open(): Promise<NetworkGate> {
    const gate = new NetworkGate(this, (attempt) => this.options.onBlocked?.(attempt));
    await gate.listen();
    return gate;
  }

  /**
   * Decides one destination: the address to connect to (one of those it resolved to, every one of them
   * checked), a refusal, or a failure to resolve (which is not a refusal: the site is unreachable).
   */
  admit(host: string, port: number): Promise<Admission> {
    return admitDestination(host, port, {
      allowed: this.allowed,
      ...(this.ranges ? { ranges: this.ranges } : {}),
      ...(this.options.resolve ? { resolve: this.options.resolve } : {}),
    });
  }
}

/** Request headers that belong to one hop (RFC 9110 7.6.1) and are not forwarded, either way. */
const HOP_BY_HOP = new Set([
  'connection',
  'proxy-connection',
  'keep-alive',
  'proxy-authorization',
  'proxy-authenticate',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

/**
 * One context's gate: an HTTP forward proxy on 127.0.0.1 (absolute-form requests for http://, CONNECT tunnels
 * for https:// and for WebSockets, ws:// included: Chromium tunnels those) that admits each destination
 * through the guard, and keeps what it refused. A request asking to upgrade outside a tunnel is admitted and
 * forwarded as a plain request (Node hands it to the request handler; Upgrade is hop-by-hop, not forwarded).
 */
export class NetworkGate {
  /** Every refused attempt of this context, oldest first. */
  readonly blocked: BlockedAttempt[] = [];
  private readonly server: Server;
  private readonly sockets = new Set<Duplex>();
  private readonly agent = new Agent({ keepAlive: true });
  private port = 0;
  private closed = false;

  constructor(
    private readonly guard: NetworkGuard,
    private readonly onBlocked: (attempt: BlockedAttempt) => void,
  ) {
    this.server = createServer();
    this.server.on('connection', (socket: Socket) => this.track(socket));
    this.server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      this.forward(req, res).catch(() => res.destroy());
    });
    this.server.on('connect', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      this.tunnel(req, socket, head).catch(() => socket.destroy());
    });
  }

  /** Playwright's per-context proxy setting: through this gate, loopback included. */
  get proxy(): { server: string; bypass: string } {
    return { server: `http://127.0.0.1:${this.port}`, bypass: '<-loopback>' };
  }

  async listen(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(0, '127.0.0.1', () => resolve());
    });
    const address = this.server.address();
    this.port = typeof address === 'object' && address ? address.port : 0;
  }

  /** Records a refusal the browser made itself (a non-web scheme), as the gate records its own. */
  record(target: string, reason: string): void {
    const attempt = { target, reason };
    this.blocked.push(attempt);
    this.onBlocked(attempt);
  }

  /** Stops the gate and cuts every connection through it. Never rejects. */
  async close(): Promise<void> {
    this.closed = true;
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const socket of this.sockets) socket.destroy();
    this.agent.destroy();
    await closed;
  }

  private track(socket: Duplex): void {
    // A connection the gate makes after closing (its admission was still resolving) is cut at once.
    if (this.closed) socket.destroy();
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    // A reset on either side ends the pair (see pipeTogether); the error itself needs no handling here.
    socket.on('error', () => {});
  }

  /** Plain http: the browser sends the absolute URL; the gate sends the request on to the checked address. */
  private async forward(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = parseAbsolute(req.url);
    if (!url) return answer(res, 400, 'not a proxy request');
    const admission = await this.admitUrl(url);
    if ('refused' in admission) return answer(res, 403, 'refused by formfleet: not a public address');
    if ('failed' in admission) return answer(res, 502, admission.failed);
    if (this.closed || req.socket.destroyed) return void res.destroy();
    const upstream = httpRequest({
      host: admission.address,
      port: portOf(url),
      method: req.method,
      path: `${url.pathname}${url.search}`,
      headers: endToEnd(req.rawHeaders) as unknown as OutgoingHttpHeaders,
      agent: this.agent,
      setHost: false,
    });
    upstream.on('response', (reply) => {
      res.writeHead(reply.statusCode ?? 502, reply.statusMessage, endToEnd(reply.rawHeaders));
      reply.pipe(res);
    });
    upstream.on('error', () => {
      if (res.headersSent) res.destroy();
      else answer(res, 502, 'the site could not be reached');
    });
    res.on('close', () => {
      if (!res.writableFinished) upstream.destroy();
    });
    req.pipe(upstream);
  }

  /** https and WebSockets: CONNECT host:port; the gate connects to the checked address and relays bytes. */
  private async tunnel(req: IncomingMessage, client: Duplex, head: Buffer): Promise<void> {
    const target = req.url ?? '';
    const split = /^(.*):(\d+)$/.exec(target);
    const host = split?.[1] ?? '';
    const port = Number(split?.[2] ?? 0);
    const admission = await this.admit(host, port, target);
    if ('refused' in admission) return void client.end('HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n');
    if ('failed' in admission)
      return void client.end('HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n');
    if (this.closed || client.destroyed) return void client.destroy();
    const upstream = connect({ host: admission.address, port });
    this.track(upstream);
    let connected = false;
    upstream.once('connect', () => {
      connected = true;
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length > 0) upstream.write(head);
      pipeTogether(client, upstream);
    });
    upstream.once('error', () => {
      if (!connected) client.end('HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n');
    });
    client.once('close', () => upstream.destroy());
  }

  private admitUrl(url: URL): Promise<Admission> {
    if (url.protocol !== 'http:') {
      this.record(url.href, `scheme ${url.protocol}`);
      return Promise.resolve({ refused: `scheme ${url.protocol}` });
    }
    return this.admit(url.hostname, portOf(url), url.href);
  }

  private async admit(host: string, port: number, target: string): Promise<Admission> {
    const admission = await this.guard.admit(host, port);
    if ('refused' in admission) this.record(target, admission.refused);
    return admission;
  }
}

function parseAbsolute(raw: string | undefined): URL | undefined {
  try {
    return new URL(raw ?? '');
  } catch {
    return undefined;
  }
}

function portOf(url: URL): number {
  return Number(url.port || 80);
}

/** Raw headers without the hop-by-hop ones (and those the Connection header names). */
function endToEnd(raw: readonly string[]): string[] {
  const named = new Set(HOP_BY_HOP);
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i]?.toLowerCase() === 'connection') {
      for (const token of (raw[i + 1] ?? '').split(',')) named.add(token.trim().toLowerCase());
    }
  }
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] ?? '';
    if (!named.has(name.toLowerCase())) out.push(name, raw[i + 1] ?? '');
  }
  return out;
}

function answer(res: ServerResponse, status: number, message: string): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' });
  res.end(message);
}

function pipeTogether(a: Duplex, b: Duplex): void {
  a.pipe(b);
  b.pipe(a);
  a.once('close', () => b.destroy());
  b.once('close', () => a.destroy());
}

/** The gate of each guarded context, so the form engine can ask what its page was refused. */
const gates = new WeakMap<BrowserContext, NetworkGate>();

/** Chromium's own refusal of a page's file:, chrome: or data: navigation or frame, as it logs it. */
const LOCAL_RESOURCE = /^Not allowed to (?:load local resource|navigate top frame to [\w-]+ URL): (\S+)/;

/** Binds a gate to its context: its refusals become the context's, and so do Chromium's own (see above). */
export function watchContext(context: BrowserContext, gate: NetworkGate): void {
  gates.set(context, gate);
  context.on('console', (message: ConsoleMessage) => {
    if (message.type() !== 'error') return;
    const match = LOCAL_RESOURCE.exec(message.text());
    if (match?.[1]) gate.record(match[1], `scheme ${match[1].split(':')[0]}:`);
  });
}

/** What the guard refused this context so far (empty for an unguarded one). */
export function blockedAttempts(context: BrowserContext): readonly BlockedAttempt[] {
  return gates.get(context)?.blocked ?? [];
}

/** A refusal in words, for the ledger's error. */
export function describeRefusal(attempt: BlockedAttempt): string {
  return `the page tried to reach ${shortTarget(attempt.target)} (${attempt.reason}); refused, nothing was sent there`;
}

/** The refused attempts for the ledger's evidence: the first few, and how many more. */
export function refusalEvidence(blocked: readonly BlockedAttempt[]): Record<string, unknown> {
  const kept = BROWSER_NETWORK.evidenceMaxAttempts;
  return {
    blocked: blocked.slice(0, kept).map((a) => ({ target: shortTarget(a.target), reason: a.reason })),
    ...(blocked.length > kept ? { blockedMore: blocked.length - kept } : {}),
  };
}

/**
 * A refused target as the ledger keeps it: without query, fragment or a data: URL's content (a hostile page
 * may put the profile there), and bounded in length.
 */
function shortTarget(target: string): string {
  const bare = target.startsWith('data:') ? `${target.split(',')[0]},…` : target.replace(/[?#].*$/, '');
  return bare.length > 120 ? `${bare.slice(0, 120)}…` : bare;
}
