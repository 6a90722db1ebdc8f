/**
 * The network guard on real Chromium and real sockets: a pool with no allowance reaches nothing on loopback;
 * a name that rebinds between two answers never reaches the address it was not checked against; the gate
 * speaks plain HTTP and CONNECT as a proxy should and refuses at both; a definition that asks for file: or
 * chrome: opens nothing; a lookup aimed at a private address ends at once. Every claim is counted at the far
 * end: the servers' own connection counters. (The hostile fixture sites through the whole worker are in
 * test/e2e/network-guard.test.ts.)
 */
import { createServer, type Server } from 'node:http';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BrowserPool } from '#functions/worker/browser-pool';
import type { FormDefinition } from '#functions/worker/form-definition';
import { runForm, verifyListing } from '#functions/worker/form-engine';
import { blockedAttempts, NetworkGuard } from '#functions/worker/network-guard';
import type { Profile } from '#shared/customer-store';

const profile: Profile = {
  name: 'Guarded Plumbing',
  email: 'owner@guarded.test',
  phone: null,
  website: null,
  address: null,
  city: null,
  state: null,
  zip: null,
  category: null,
  description: null,
};

/** A server that counts every connection and request it receives (the far end). */
interface Counted {
  server: Server;
  origin: string;
  port: number;
  connections: number;
  requests: string[];
  /** The headers of each request, in order. */
  headers: Record<string, string | string[] | undefined>[];
}

async function countedServer(host: string, port = 0, body = 'ok'): Promise<Counted> {
  const counted: Counted = {
    server: createServer(),
    origin: '',
    port: 0,
    connections: 0,
    requests: [],
    headers: [],
  };
  counted.server.on('connection', () => {
    counted.connections += 1;
  });
  counted.server.on('request', (req, res) => {
    counted.requests.push(`${req.method} ${req.url}`);
    counted.headers.push(req.headers);
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end(`<h1 id="body">${body}</h1><div id="listing"></div>`);
  });
  await new Promise<void>((resolve) => counted.server.listen(port, host, resolve));
  const address = counted.server.address();
  counted.port = typeof address === 'object' && address ? address.port : 0;
  counted.origin = `http://${host}:${counted.port}`;
  return counted;
}

const close = (s: Server) =>
  new Promise<void>((resolve) => {
    s.close(() => resolve());
    s.closeAllConnections();
  });

/** Sends raw bytes to a gate and returns what it answered (until it closes or goes quiet). */
async function raw(proxy: string, request: string, after?: string): Promise<string> {
  const socket = connect(Number(new URL(proxy).port), '127.0.0.1');
  let reply = '';
  socket.on('data', (chunk: Buffer) => {
    reply += chunk.toString();
    if (
      after &&
      reply.startsWith('HTTP/1.1 200 Connection Established\r\n\r\n') &&
      !reply.includes('HTTP/1.1 200 OK')
    ) {
      socket.write(after);
    }
  });
  socket.write(request);
  await new Promise<void>((resolve) => {
    const done = () => resolve();
    socket.on('close', done);
    socket.on('error', done);
    setTimeout(done, 1_000);
  });
  socket.destroy();
  return reply;
}

let site: Counted;
let victim: Counted;

beforeAll(async () => {
  site = await countedServer('127.0.0.1', 0, 'the directory');
  // The victim listens on every address (IPv4 and IPv6), so 127.0.0.2, 0.0.0.0 or ::1 would reach it too.
  victim = await countedServer('::', 0, 'runtime API');
});
afterAll(async () => {
  await close(site.server);
  await close(victim.server);
});

describe('the network guard in Chromium', () => {
  it('gives a pool without an allowance nothing on loopback: the default is closed', async () => {
    const pool = new BrowserPool({ recycleAfterPages: 10 });
    const lease = await pool.acquire();
    try {
      const page = await lease.newPage();
      const response = await page.goto(`${site.origin}/add`);
      expect(response?.status()).toBe(403);
      expect(await page.textContent('body')).toContain('refused by formfleet');
      expect(blockedAttempts(lease.context)).toEqual([{ target: `${site.origin}/add`, reason: 'loopback' }]);
      expect(site.connections).toBe(0);
    } finally {
      await lease.release();
      await pool.close();
    }
    // And a browser in Lambda cannot be built without one.
    expect(() => new BrowserPool({ recycleAfterPages: 1, inLambda: true, network: 'unrestricted' })).toThrow(
      /must have a network guard/,
    );
  });

  it('connects to exactly the address it checked: a name that rebinds between answers never reaches the other', async () => {
    // Here 127.0.0.2 stands for a private address and 127.0.0.1 for a public one: the ranges are narrowed
    // so both can be served on this machine. The name answers them in turn, as a rebinding DNS server would.
    const good = await countedServer('127.0.0.1', 0, 'public site');
    const inner = await countedServer('127.0.0.2', good.port, 'private service');
    let lookups = 0;
    const guard = new NetworkGuard({
      resolve: async () => [lookups++ % 2 === 0 ? '127.0.0.1' : '127.0.0.2'],
      blockedRanges: { ipv4: [{ cidr: '127.0.0.2/32', kind: 'private (test)' }], ipv6: [] },
    });
    const pool = new BrowserPool({ recycleAfterPages: 10, network: guard });
    const lease = await pool.acquire();
    try {
      const page = await lease.newPage();
      const statuses: number[] = [];
      for (let i = 0; i < 6; i++) {
        const response = await page.goto(`http://rebind.attacker.test:${good.port}/visit-${i}`);
        statuses.push(response?.status() ?? 0);
      }
      expect(statuses).toEqual([200, 403, 200, 403, 200, 403]);
      // One lookup per request, by the gate (Chromium resolves nothing behind a proxy), and never a second
      // lookup between the check and the connection: the private service saw nothing.
      expect(lookups).toBe(6);
      expect(good.requests).toEqual(['GET /visit-0', 'GET /visit-2', 'GET /visit-4']);
      expect(inner.connections).toBe(0);
      expect(blockedAttempts(lease.context).map((a) => a.reason)).toEqual([
        'resolves to 127.0.0.2, private (test)',
        'resolves to 127.0.0.2, private (test)',
        'resolves to 127.0.0.2, private (test)',
      ]);

      // The same through a CONNECT tunnel (https, WebSockets): the first is relayed to the checked address,
      // the next refused before any connection is made.
      const gate = await guard.open();
      try {
        const relayed = await raw(
          gate.proxy.server,
          `CONNECT rebind.attacker.test:${good.port} HTTP/1.1\r\nHost: rebind.attacker.test\r\n\r\n`,
          'GET /tunnelled HTTP/1.1\r\nHost: rebind.attacker.test\r\nConnection: close\r\n\r\n',
        );
        expect(relayed).toContain('HTTP/1.1 200 Connection Established');
        expect(relayed).toContain('public site');
        const refused = await raw(
          gate.proxy.server,
          `CONNECT rebind.attacker.test:${good.port} HTTP/1.1\r\n\r\n`,
        );
        expect(refused).toMatch(/^HTTP\/1.1 403 Forbidden/);
        expect(gate.blocked).toEqual([
          { target: `rebind.attacker.test:${good.port}`, reason: 'resolves to 127.0.0.2, private (test)' },
        ]);
      } finally {
        await gate.close();
      }
      expect(good.requests).toContain('GET /tunnelled');
      expect(inner.connections).toBe(0);
    } finally {
      await lease.release();
      await pool.close();
      await close(good.server);
      await close(inner.server);
    }
  });
});

describe('the gate as a proxy', () => {
  it('forwards plain http end to end only, and refuses a victim however the request is dressed', async () => {
    const guard = new NetworkGuard({ allowedOrigins: [site.origin] });
    const gate = await guard.open();
    try {
      // Allowed: forwarded, without the hop-by-hop and proxy headers.
      const forwarded = await raw(
        gate.proxy.server,
        `GET ${site.origin}/page?q=1 HTTP/1.1\r\nHost: ${new URL(site.origin).host}\r\nProxy-Connection: keep-alive\r\nProxy-Authorization: Basic c2VjcmV0\r\nX-Kept: yes\r\nConnection: close\r\n\r\n`,
      );
      expect(forwarded).toMatch(/^HTTP\/1.1 200 OK/);
      expect(site.requests).toContain('GET /page?q=1');
      const seen = site.headers[site.requests.indexOf('GET /page?q=1')];
      expect(seen).toMatchObject({ 'x-kept': 'yes' });
      expect(seen).not.toHaveProperty('proxy-authorization');
      expect(seen).not.toHaveProperty('proxy-connection');

      // Refused: plain, as an upgrade outside a tunnel, as a tunnel, by a name, to 0.0.0.0 and over IPv6.
      const attempts = [
        `GET ${victim.origin.replace('::', '127.0.0.1')}/x HTTP/1.1\r\nHost: v\r\nConnection: close\r\n\r\n`,
        `GET http://127.0.0.1:${victim.port}/ws HTTP/1.1\r\nHost: v\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n`,
        `CONNECT 127.0.0.1:${victim.port} HTTP/1.1\r\n\r\n`,
        `CONNECT localhost:${victim.port} HTTP/1.1\r\n\r\n`,
        `GET http://0.0.0.0:${victim.port}/ HTTP/1.1\r\nHost: v\r\nConnection: close\r\n\r\n`,
        `CONNECT [::1]:${victim.port} HTTP/1.1\r\n\r\n`,
        `CONNECT [::ffff:127.0.0.1]:${victim.port} HTTP/1.1\r\n\r\n`,
        `GET ftp://127.0.0.1:${victim.port}/ HTTP/1.1\r\nHost: v\r\nConnection: close\r\n\r\n`,
      ];
      for (const request of attempts) {
        expect({ request, reply: (await raw(gate.proxy.server, request)).split('\r\n')[0] }).toEqual({
          request,
          reply: 'HTTP/1.1 403 Forbidden',
        });
      }
      expect(gate.blocked.map((a) => a.reason)).toEqual([
        'loopback',
        'loopback',
        'loopback',
        'resolves to 127.0.0.1, loopback',
        'this-network (0.0.0.0 reaches the host itself)',
        'loopback',
        'loopback',
        'scheme ftp:',
      ]);
      expect(victim.connections).toBe(0);

      // A name that does not resolve is an unreachable site (502), not a refusal.
      const unreachable = await raw(gate.proxy.server, 'CONNECT nowhere.invalid:443 HTTP/1.1\r\n\r\n');
      expect(unreachable).toMatch(/^HTTP\/1.1 502 Bad Gateway/);
      expect(gate.blocked).toHaveLength(attempts.length);
    } finally {
      await gate.close();
    }
    // Closed with its context: nothing listens there any more.
    await expect(
      new Promise((resolve, reject) => {
        const socket = connect(Number(new URL(gate.proxy.server).port), '127.0.0.1');
        socket.on('connect', () => resolve(socket.destroy()));
        socket.on('error', reject);
      }),
    ).rejects.toThrow(/ECONNREFUSED/);
  });
});

describe('the form engine behind the guard', () => {
  let pool: BrowserPool;
  beforeAll(() => {
    pool = new BrowserPool({
      recycleAfterPages: 20,
      network: new NetworkGuard({ allowedOrigins: [site.origin] }),
    });
  });
  afterAll(async () => {
    await pool.close();
  });

  const definition = (overrides: Partial<FormDefinition>): FormDefinition => ({
    submissionUrl: `${site.origin}/add`,
    steps: [{ action: 'goto' }, { action: 'submit', selectors: ['#submit'] }],
    success: [{ selector: '#success' }],
    ...overrides,
  });

  it('opens nothing a definition names outside http(s), and ends the directory blocked, never retried', async () => {
    for (const steps of [
      { submissionUrl: 'file:///etc/passwd' },
      {
        steps: [
          { action: 'goto', url: 'chrome://version' },
          { action: 'submit', selectors: ['#submit'] },
        ],
      },
    ] as Partial<FormDefinition>[]) {
      const lease = await pool.acquire();
      try {
        const page = await lease.newPage();
        const outcome = await runForm(
          page,
          definition(steps),
          profile,
          { beforeSubmit: async () => true },
          { stepTimeoutMs: 2_000, directoryTimeoutMs: 5_000 },
        );
        expect(outcome).toMatchObject({
          status: 'failed',
          errorClass: 'blocked_destination',
          transient: false,
          submitted: false,
        });
        expect(outcome.error).toMatch(/^the definition asks to open a (file|chrome): URL/);
        expect(page.url()).toBe('about:blank');
      } finally {
        await lease.release();
      }
    }
  });

  it('ends a listing lookup aimed at a private address at once, inconclusive', async () => {
    const lease = await pool.acquire();
    try {
      const started = Date.now();
      const check = await verifyListing(
        await lease.newPage(),
        definition({
          verify: {
            url: `http://127.0.0.1:${victim.port}/listings?name={name}`,
            found: { selector: '#listing' },
          },
        }),
        profile,
        5_000,
      );
      expect(check.result).toBe('inconclusive');
      expect(check.error).toMatch(/tried to reach http:\/\/127\.0\.0\.1:\d+\/listings \(loopback\); refused/);
      expect(Date.now() - started).toBeLessThan(4_000);
      expect(victim.connections).toBe(0);
    } finally {
      await lease.release();
    }
  });
});
