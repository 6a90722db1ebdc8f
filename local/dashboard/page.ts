/**
 * The dashboard's static page and style sheet. The page is a shell: client/app.ts (served as
 * /dashboard/app.js) fills it from /dashboard/data and refreshes it every LOCAL.dashboardRefreshMs. Every
 * figure sits in an element with a `data-figure` name, which is what the dashboard test reads. Nothing is
 * loaded from outside the local gateway (loopback only).
 */
import { LOCAL, PRIORITY_TIERS } from '#policy';
import { JOB_STATUSES } from '#shared/job-store';
import { lifecyclePanelHtml } from './panels/lifecycle.ts';
import { type PanelSpec, panelHtml } from './panels.ts';

const figure = (name: string, label: string) =>
  `<div class="tile"><span class="value" data-figure="${name}">–</span><span class="label">${label}</span></div>`;

const queueRows = PRIORITY_TIERS.map(
  (t) => `<tr>
        <th scope="row">${t.name}</th>
        <td data-figure="queue.${t.name}.depth">–</td>
        <td data-figure="queue.${t.name}.inFlight">–</td>
        <td data-figure="queue.${t.name}.running">–</td>
        <td data-figure="queue.${t.name}.dlqDepth">–</td>
      </tr>`,
).join('\n');

export function dashboardHtml(panels: readonly PanelSpec[] = []): string {
  return `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>formfleet · local dashboard</title>
  <link rel="stylesheet" href="/dashboard/app.css">
  <script src="/dashboard/app.js" defer></script>
</head>
<body data-refresh-ms="${LOCAL.dashboardRefreshMs}">
  <header>
    <h1>formfleet <small>local</small></h1>
    <span class="status" data-figure="health.status">loading</span>
    <span class="reasons" data-figure="health.reasons"></span>
    <span class="updated"><span class="dot" data-figure="live"></span><span data-figure="updated">connecting…</span></span>
  </header>
  <main>
    <section class="queues">
      <h2>Queues</h2>
      <table>
        <thead><tr><th>tier</th><th>waiting</th><th>in flight</th><th>running / max</th><th>DLQ</th></tr></thead>
        <tbody>
${queueRows}
        </tbody>
      </table>
    </section>
    <section class="jobs">
      <h2>Jobs by status</h2>
      <div class="tiles">
        ${JOB_STATUSES.map((s) => figure(`jobs.${s}`, s.replace('_', ' '))).join('\n        ')}
      </div>
      <p class="note">today: <b data-figure="health.completedToday">–</b> completed,
        <b data-figure="health.failedToday">–</b> failed; stale now: <b data-figure="health.staleJobs">–</b></p>
    </section>
    <section class="chart">
      <h2>Submissions per minute <small>last ${LOCAL.dashboardMinutes} min · <i class="key ok"></i> submitted
        <i class="key other"></i> other outcomes</small></h2>
      <div data-figure="chart" class="bars" role="img" aria-label="submissions per minute"></div>
      <div class="axis"><span data-figure="chart.from">–</span><span>now</span></div>
      <p class="note">last minute: <b data-figure="submissions.lastMinute">–</b> ·
        peak: <b data-figure="submissions.peak">–</b> · total shown: <b data-figure="submissions.total">–</b></p>
    </section>
    <section class="workers">
      <h2>Workers and browser</h2>
      <div class="tiles">
        ${figure('workers.active', 'workers active')}
        ${figure('workers.stale', 'workers stale')}
        ${figure('workers.jobsInFlight', 'jobs in flight')}
        ${figure('browser.running', 'browsers running')}
        ${figure('browser.openContexts', 'open contexts')}
        ${figure('browser.launches', 'launches')}
        ${figure('browser.recycles', 'recycles')}
        ${figure('cache.hitRate', 'cache hit rate')}
      </div>
      <table class="list"><thead><tr><th>worker</th><th>state</th><th>jobs</th><th>last seen</th></tr></thead>
        <tbody data-figure="workers.list"></tbody></table>
    </section>
    <section class="recent-jobs">
      <h2>Recent jobs</h2>
      <table class="list"><thead><tr><th>job</th><th>tier</th><th>status</th><th>progress</th><th>created</th></tr></thead>
        <tbody data-figure="jobs.recent"></tbody></table>
    </section>
    <section class="alerts">
      <h2>Recent alerts <small data-figure="slack.mode"></small></h2>
      <ul data-figure="alerts.list" class="alerts-list"></ul>
      <h3>Slack <small><b data-figure="slack.received">–</b> message(s) received</small></h3>
      <ul data-figure="slack.list" class="slack-list"></ul>
    </section>
    ${lifecyclePanelHtml()}
    <section class="schedules">
      <h2>Schedules</h2>
      <table class="list"><thead><tr><th>function</th><th>every</th><th>runs</th></tr></thead>
        <tbody data-figure="schedules.list"></tbody></table>
    </section>
    ${panels.map(panelHtml).join('\n    ')}
  </main>
  <footer>Figures from <code>/dashboard/data</code>, built like <code>GET /v1/health</code>; refreshed every
    ${LOCAL.dashboardRefreshMs / 1000} s.</footer>
</body>
</html>
`;
}

export const DASHBOARD_CSS = `
:root { --bg: #0f1419; --panel: #18202a; --line: #2a3542; --text: #e6edf3; --muted: #8b98a5;
  --ok: #3fb950; --warn: #d29922; --bad: #f85149; --accent: #58a6ff; --other: #a371f7; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; background: var(--bg); color: var(--text); }
header { display: flex; gap: 16px; align-items: center; padding: 14px 24px; border-bottom: 1px solid var(--line); flex-wrap: wrap; }
h1 { font-size: 20px; margin: 0; } h1 small { color: var(--muted); font-weight: 400; }
h2 { font-size: 13px; text-transform: uppercase; letter-spacing: .06em; color: var(--muted); margin: 0 0 10px; }
h2 small, h3 small { text-transform: none; letter-spacing: 0; font-weight: 400; }
h3 { font-size: 13px; color: var(--muted); margin: 14px 0 6px; }
main { display: grid; grid-template-columns: repeat(auto-fit, minmax(420px, 1fr)); gap: 16px; padding: 16px 24px; }
section { background: var(--panel); border: 1px solid var(--line); border-radius: 8px; padding: 14px 16px; }
.status { padding: 2px 10px; border-radius: 999px; font-weight: 600; background: var(--line); }
.status.healthy { background: rgba(63,185,80,.2); color: var(--ok); }
.status.degraded { background: rgba(210,153,34,.2); color: var(--warn); }
.status.unhealthy { background: rgba(248,81,73,.2); color: var(--bad); }
.reasons { color: var(--warn); font-size: 13px; }
.updated { margin-left: auto; color: var(--muted); font-size: 12px; display: flex; gap: 6px; align-items: center; }
.dot { width: 8px; height: 8px; border-radius: 50%; background: var(--muted); display: inline-block; }
.dot.live { background: var(--ok); } .dot.lost { background: var(--bad); }
table { width: 100%; border-collapse: collapse; font-variant-numeric: tabular-nums; }
th, td { text-align: right; padding: 4px 8px; border-bottom: 1px solid var(--line); }
th:first-child, td:first-child { text-align: left; }
thead th { color: var(--muted); font-weight: 500; font-size: 12px; }
table.list td, table.list th { text-align: left; font-size: 12px; }
.tiles { display: grid; grid-template-columns: repeat(auto-fill, minmax(110px, 1fr)); gap: 8px; }
.tile { background: var(--bg); border: 1px solid var(--line); border-radius: 6px; padding: 8px 10px; display: flex; flex-direction: column; }
.tile .value { font-size: 22px; font-weight: 600; font-variant-numeric: tabular-nums; }
.tile .label { color: var(--muted); font-size: 12px; }
.note { color: var(--muted); font-size: 12px; margin: 10px 0 0; } .note b { color: var(--text); }
.bars { display: flex; align-items: flex-end; gap: 2px; height: 140px; border-bottom: 1px solid var(--line); }
.bars .bar { flex: 1; display: flex; flex-direction: column-reverse; min-width: 4px; }
.bars .ok { background: var(--ok); } .bars .other { background: var(--other); }
.axis { display: flex; justify-content: space-between; color: var(--muted); font-size: 11px; margin-top: 2px; }
.key { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin-left: 8px; }
.key.ok { background: var(--ok); } .key.other { background: var(--other); }
ul { list-style: none; padding: 0; margin: 0; }
li { padding: 6px 0; border-bottom: 1px solid var(--line); font-size: 12px; }
li .sev { font-weight: 600; margin-right: 6px; } .sev.critical { color: var(--bad); } .sev.warning { color: var(--warn); } .sev.info { color: var(--accent); }
li .when { color: var(--muted); margin-left: 6px; }
.empty { color: var(--muted); font-style: italic; }
.lc-live { color: var(--ok); } .lc-rejected, .lc-not_found { color: var(--bad); } .lc-under_review { color: var(--accent); }
.st-completed { color: var(--ok); } .st-failed, .st-cancelled { color: var(--bad); } .st-in_progress { color: var(--accent); }
code { font-size: 12px; } footer { color: var(--muted); font-size: 12px; padding: 0 24px 20px; }
`;
