/**
 * The dashboard in the browser: asks /dashboard/data for fresh figures every few seconds and writes them into
 * the page's `data-figure` elements. Text only goes in through textContent (an alert title or a job error
 * comes from a directory site: never HTML). Browser-only modules (and type imports): the local runtime serves
 * them bundled, as /dashboard/app.js. Each panel beyond the first ones renders from its own module.
 */
import type { DashboardSnapshot } from '../snapshot.ts';
import { $, el, fill, row, set, time } from './dom.ts';
import { renderLifecycle } from './lifecycle.ts';

const percent = (rate: number | null) => (rate === null ? '–' : `${Math.round(rate * 100)} %`);
const every = (ms: number) => (ms >= 60_000 ? `${ms / 60_000} min` : `${ms / 1000} s`);

function render(d: DashboardSnapshot): void {
  const h = d.health;
  const status = $('health.status');
  if (status) {
    status.textContent = h.status;
    status.className = `status ${h.status}`;
  }
  set('health.reasons', h.reasons.join(' · '));

  for (const q of d.queues) {
    set(`queue.${q.tier}.depth`, q.depth);
    set(`queue.${q.tier}.inFlight`, q.inFlight);
    set(`queue.${q.tier}.running`, `${q.running} / ${q.maxConcurrency}`);
    set(`queue.${q.tier}.dlqDepth`, q.dlqDepth);
  }

  for (const [status, n] of Object.entries(d.jobs.byStatus)) set(`jobs.${status}`, n);
  set('health.completedToday', h.jobs?.completedToday);
  set('health.failedToday', h.jobs?.failedToday);
  set('health.staleJobs', h.staleJobs?.count);

  const series = d.submissionsPerMinute;
  const peak = Math.max(1, ...series.map((m) => m.submitted + m.other));
  fill(
    'chart',
    series.map((m) => {
      const bar = el('div', undefined, 'bar');
      bar.title = `${time(m.minute)}: ${m.submitted} submitted, ${m.other} other`;
      const ok = el('div', undefined, 'ok');
      ok.style.height = `${(m.submitted / peak) * 100}%`;
      const other = el('div', undefined, 'other');
      other.style.height = `${(m.other / peak) * 100}%`;
      bar.style.height = '100%';
      bar.append(ok, other);
      return bar;
    }),
    'no data',
  );
  set('chart.from', series[0] ? time(series[0].minute) : '–');
  const last = series.at(-1);
  set('submissions.lastMinute', last ? last.submitted + last.other : 0);
  set('submissions.peak', Math.max(0, ...series.map((m) => m.submitted + m.other)));
  set(
    'submissions.total',
    series.reduce((n, m) => n + m.submitted + m.other, 0),
  );

  set('workers.active', h.workers?.active);
  set('workers.stale', h.workers?.stale);
  set('workers.jobsInFlight', h.workers?.jobsInFlight);
  set('browser.running', h.browser?.running);
  set('browser.openContexts', h.browser?.openContexts);
  set('browser.launches', h.browser?.launches);
  set('browser.recycles', h.browser?.recycles);
  set('cache.hitRate', percent(d.cache.overall.hitRate));
  fill(
    'workers.list',
    d.workers.map((w) =>
      row([w.id, w.active ? 'active' : 'stale', String(w.jobsInFlight), time(w.lastSeenAt)]),
    ),
    'no worker has heartbeated yet',
    4,
  );

  fill(
    'jobs.recent',
    d.recentJobs.map((j) =>
      row([
        el('code', j.id.slice(0, 8)),
        j.tier,
        el('span', j.status, `st-${j.status}`),
        `${j.done} / ${j.total}`,
        time(j.createdAt),
      ]),
    ),
    'no jobs yet: try npm run demo',
    5,
  );

  set('slack.mode', d.slack.mode === 'local-sink' ? 'delivered to the local Slack sink' : 'posted to Slack');
  fill(
    'alerts.list',
    d.alerts.map((a) => {
      const li = el('li');
      li.append(
        el('span', a.severity, `sev ${a.severity}`),
        el('span', a.title),
        el('span', `${time(a.createdAt)}${a.publishedAt ? '' : ' · not yet published'}`, 'when'),
      );
      if (a.summary) li.append(el('div', a.summary));
      return li;
    }),
    'no alerts',
  );
  set('slack.received', d.slack.received);
  fill(
    'slack.list',
    d.slack.recent.map((m) => {
      const li = el('li', m.text);
      li.append(el('span', time(m.receivedAt), 'when'));
      return li;
    }),
    d.slack.mode === 'local-sink' ? 'nothing received yet' : 'messages go to the real channel',
  );

  renderLifecycle(d.lifecycle);

  fill(
    'schedules.list',
    d.schedules.map((s) => row([s.name, every(s.everyMs), String(s.runs)])),
    'no schedules',
    3,
  );

  // The stand-ins' panels: figures and a table each, drawn the same way (local/dashboard/panels.ts).
  for (const section of Array.from(document.querySelectorAll<HTMLElement>('section[data-panel]'))) {
    const id = section.dataset.panel as string;
    const panel = d.panels[id];
    if (!panel) continue;
    for (const [key, value] of Object.entries(panel.figures)) set(`panel.${id}.${key}`, value);
    fill(
      `panel.${id}.rows`,
      panel.rows.map((cells) => row(cells)),
      section.dataset.empty ?? 'nothing yet',
      Number(section.dataset.columns) || 1,
    );
  }
}

const refreshMs = Number(document.body.dataset.refreshMs) || 2_000;
let lastOk = 0;

async function refresh(): Promise<void> {
  const dot = $('live');
  try {
    const res = await fetch('/dashboard/data', { cache: 'no-store' });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    const snapshot = (await res.json()) as DashboardSnapshot;
    render(snapshot);
    // When the figures on screen were read (server time): a test waits for a refresh newer than its own reads.
    document.body.dataset.generatedAt = snapshot.generatedAt;
    lastOk = Date.now();
    if (dot) dot.className = 'dot live';
    set('updated', `updated ${new Date(lastOk).toLocaleTimeString()}`);
  } catch (err) {
    if (dot) dot.className = 'dot lost';
    set('updated', `connection lost (${(err as Error).message}); retrying`);
  } finally {
    setTimeout(() => void refresh(), refreshMs);
  }
}

void refresh();
