/**
 * The dashboard's routes on the local gateway (its `extra` hook): GET /dashboard (the page), /dashboard/app.js
 * and /dashboard/app.css (its assets, so the Content-Security-Policy can forbid everything not from here),
 * and /dashboard/data (the figures as JSON). The gateway listens on loopback only; the page shows ids,
 * counts and states, never profile data, and needs no key. /dashboard/tasks (tasks-page.ts) is the people's
 * queue: it asks for an admin key and reads and writes only through the API with it.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { describeError } from '#shared/telemetry';
import { DASHBOARD_CSS, dashboardHtml } from './page.ts';
import type { PanelSpec } from './panels.ts';
import type { DashboardSnapshot } from './snapshot.ts';
import { TASKS_PAGE_PATH, tasksPageHtml } from './tasks-page.ts';

export const DASHBOARD_PATH = '/dashboard';

const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
};

/**
 * The browser script: client/app.ts and the panel modules it imports, bundled once (esbuild, the transpiler
 * tsx itself runs on).
 */
async function clientScript(entry: string): Promise<string> {
  const result = await build({
    entryPoints: [fileURLToPath(new URL(entry, import.meta.url))],
    bundle: true,
    write: false,
    format: 'iife',
    target: 'es2022',
    logLevel: 'silent',
  });
  return result.outputFiles[0]?.text ?? '';
}

export type ExtraRoute = (req: IncomingMessage, res: ServerResponse) => Promise<boolean>;

export async function dashboardRoutes(
  snapshot: () => Promise<DashboardSnapshot>,
  panels: readonly PanelSpec[] = [],
): Promise<ExtraRoute> {
  const page = dashboardHtml(panels);
  const script = await clientScript('./client/app.ts');
  const tasksPage = tasksPageHtml();
  const tasksScript = await clientScript('./client/tasks.ts');
  const send = (
    res: ServerResponse,
    status: number,
    type: string,
    body: string,
    headers: Record<string, string> = {},
  ) => {
    res.writeHead(status, { 'content-type': type, ...SECURITY_HEADERS, ...headers });
    res.end(body);
  };
  return async function dashboard(req, res) {
    const path = (req.url ?? '/').split('?')[0] as string;
    if (path !== DASHBOARD_PATH && !path.startsWith(`${DASHBOARD_PATH}/`)) return false;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'application/json' });
      res.end(
        JSON.stringify({ error: { code: 'method_not_allowed', message: 'the dashboard is read only' } }),
      );
      return true;
    }
    switch (path) {
      case DASHBOARD_PATH:
      case `${DASHBOARD_PATH}/`:
        send(res, 200, 'text/html; charset=utf-8', page);
        return true;
      case `${DASHBOARD_PATH}/app.js`:
        send(res, 200, 'text/javascript; charset=utf-8', script);
        return true;
      case TASKS_PAGE_PATH:
        // The proof screenshot is a presigned link to the records bucket (another origin).
        send(res, 200, 'text/html; charset=utf-8', tasksPage, {
          'content-security-policy': SECURITY_HEADERS['content-security-policy'].replace(
            "img-src 'self' data:",
            "img-src 'self' data: http: https:",
          ),
        });
        return true;
      case `${TASKS_PAGE_PATH}.js`:
        send(res, 200, 'text/javascript; charset=utf-8', tasksScript);
        return true;
      case `${DASHBOARD_PATH}/app.css`:
        send(res, 200, 'text/css; charset=utf-8', DASHBOARD_CSS);
        return true;
      case `${DASHBOARD_PATH}/data`:
        try {
          send(res, 200, 'application/json', JSON.stringify(await snapshot()));
        } catch (err) {
          // The page shows "connection lost" and retries; the reason (never a stack) is in the body.
          send(
            res,
            503,
            'application/json',
            JSON.stringify({ error: { code: 'unavailable', message: describeError(err).message } }),
          );
        }
        return true;
      default:
        send(
          res,
          404,
          'application/json',
          JSON.stringify({ error: { code: 'not_found', message: 'no such page' } }),
        );
        return true;
    }
  };
}
