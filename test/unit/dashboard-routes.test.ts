/** The dashboard's routes on a loopback server: page, assets and data, read only, locked down, errors without stacks. */
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dashboardRoutes } from '#local/dashboard/routes';
import type { DashboardSnapshot } from '#local/dashboard/snapshot';

let server: Server;
let base: string;
let snapshot: () => Promise<DashboardSnapshot>;

beforeAll(async () => {
  const route = await dashboardRoutes(() => snapshot());
  server = createServer((req, res) => {
    void route(req, res).then((handled) => {
      if (!handled) {
        res.writeHead(418);
        res.end('not mine');
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const address = server.address();
  base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

describe('dashboard routes', () => {
  it('serve the page, its script and style from here only, and the figures as JSON', async () => {
    snapshot = async () => ({ generatedAt: 'now' }) as unknown as DashboardSnapshot;
    const page = await fetch(`${base}/dashboard`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-security-policy')).toContain("default-src 'none'; script-src 'self'");
    expect(page.headers.get('cache-control')).toBe('no-store');
    const html = await page.text();
    expect(html).toContain('data-figure="queue.P1.depth"');
    expect(html).not.toMatch(/https?:\/\//);
    const script = await fetch(`${base}/dashboard/app.js`);
    expect(script.headers.get('content-type')).toContain('text/javascript');
    const js = await script.text();
    // Transpiled: no TypeScript left, and it reads the figures from this server.
    expect(js).not.toMatch(/import type|: DashboardSnapshot/);
    expect(js).toContain('/dashboard/data');
    expect((await fetch(`${base}/dashboard/app.css`)).headers.get('content-type')).toContain('text/css');
    expect(await (await fetch(`${base}/dashboard/data`)).json()).toEqual({ generatedAt: 'now' });
  });

  it('answer 503 with a reason and no stack when the figures cannot be read', async () => {
    snapshot = async () => {
      throw new Error('connect ECONNREFUSED 127.0.0.1:5432');
    };
    const res = await fetch(`${base}/dashboard/data`);
    expect(res.status).toBe(503);
    const body = await res.text();
    expect(JSON.parse(body)).toEqual({
      error: { code: 'unavailable', message: 'connect ECONNREFUSED 127.0.0.1:5432' },
    });
    expect(body).not.toContain(' at ');
  });

  it('are read only, answer 404 for unknown pages under /dashboard, and leave other paths alone', async () => {
    const post = await fetch(`${base}/dashboard/data`, { method: 'POST' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');
    expect((await fetch(`${base}/dashboard/nope`)).status).toBe(404);
    expect((await fetch(`${base}/dashboards`)).status).toBe(418);
    expect((await fetch(`${base}/v1/jobs`)).status).toBe(418);
  });
});
