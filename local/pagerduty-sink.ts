/**
 * A local PagerDuty: the Events API v2 endpoint (POST /v2/enqueue) on loopback, checked as PagerDuty checks it
 * (routing key, event_action, dedup_key; a trigger needs payload.summary, source and severity), answered 202
 * as PagerDuty does, and kept: every event, and the incidents it makes (open from a trigger until the resolve
 * with the same dedup_key). The PagerDuty notifier posts here locally; tests read the trigger → resolve pairs.
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { DashboardPanel } from './dashboard/panels.ts';
import { serveOnLoopback } from './services/loopback-server.ts';

export interface PagerDutyEvent {
  receivedAt: string;
  action: 'trigger' | 'acknowledge' | 'resolve';
  dedupKey: string;
  summary: string | null;
  severity: string | null;
}

export interface PagerDutySink {
  /** The Events API URL to post to (PAGERDUTY_EVENTS_URL). */
  readonly url: string;
  /** The routing key it accepts (PAGERDUTY_ROUTING_KEY). */
  readonly routingKey: string;
  readonly events: readonly PagerDutyEvent[];
  /** Incidents by dedup key: open until resolved. */
  readonly incidents: ReadonlyMap<string, { status: 'triggered' | 'resolved'; triggers: number }>;
  /** The next `count` posts get `status` (default 500). */
  failNext(count: number, status?: number): void;
  readonly panel: DashboardPanel;
  stop(): Promise<void>;
}

const ACTIONS = ['trigger', 'acknowledge', 'resolve'];
const SEVERITIES = ['critical', 'error', 'warning', 'info'];

export async function startPagerDutySink(
  options: { onEvent?: (event: PagerDutyEvent) => void } = {},
): Promise<PagerDutySink> {
  const routingKey = randomBytes(16).toString('hex');
  const events: PagerDutyEvent[] = [];
  const incidents = new Map<string, { status: 'triggered' | 'resolved'; triggers: number }>();
  const faults: number[] = [];
  const answer = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method !== 'POST' || req.url !== '/v2/enqueue') return answer(res, 404, { status: 'not found' });
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const fault = faults.shift();
    if (fault) return answer(res, fault, { status: 'unavailable' });
    let e: Record<string, unknown>;
    try {
      e = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
    } catch {
      return answer(res, 400, { status: 'invalid event', message: 'Event object is invalid' });
    }
    const payload = (e.payload ?? {}) as Record<string, unknown>;
    const errors: string[] = [];
    if (e.routing_key !== routingKey) errors.push('routing_key is invalid');
    if (!ACTIONS.includes(e.event_action as string)) errors.push('event_action is invalid');
    if (typeof e.dedup_key !== 'string' || e.dedup_key.length === 0 || e.dedup_key.length > 255) {
      errors.push('dedup_key is required (formfleet always sends one)');
    }
    if (e.event_action === 'trigger') {
      if (typeof payload.summary !== 'string' || payload.summary.length > 1024)
        errors.push('payload.summary');
      if (typeof payload.source !== 'string') errors.push('payload.source');
      if (!SEVERITIES.includes(payload.severity as string)) errors.push('payload.severity');
    }
    if (errors.length > 0)
      return answer(res, 400, { status: 'invalid event', message: 'Event object is invalid', errors });
    const event: PagerDutyEvent = {
      receivedAt: new Date().toISOString(),
      action: e.event_action as PagerDutyEvent['action'],
      dedupKey: e.dedup_key as string,
      summary: typeof payload.summary === 'string' ? payload.summary : null,
      severity: typeof payload.severity === 'string' ? payload.severity : null,
    };
    events.push(event);
    const incident = incidents.get(event.dedupKey);
    if (event.action === 'trigger') {
      incidents.set(event.dedupKey, { status: 'triggered', triggers: (incident?.triggers ?? 0) + 1 });
    } else if (event.action === 'resolve' && incident) {
      incident.status = 'resolved';
    }
    options.onEvent?.(event);
    return answer(res, 202, { status: 'success', message: 'Event processed', dedup_key: event.dedupKey });
  }

  const server = await serveOnLoopback(handle, (res) => answer(res, 500, { status: 'error' }));
  const open = () => [...incidents.values()].filter((i) => i.status === 'triggered').length;

  return {
    url: `${server.origin}/v2/enqueue`,
    routingKey,
    events,
    incidents,
    failNext(count, status = 500) {
      for (let i = 0; i < count; i++) faults.push(status);
    },
    panel: {
      id: 'pagerduty',
      title: 'PagerDuty (local sink)',
      figures: [
        { key: 'open', label: 'open incidents' },
        { key: 'triggers', label: 'triggers' },
        { key: 'resolves', label: 'resolves' },
      ],
      columns: ['received', 'action', 'dedup key', 'summary'],
      empty: 'no critical alert yet',
      note: 'Critical alerts (policy ALERTS.critical) go here as well as to Slack.',
      data: () => ({
        figures: {
          open: open(),
          triggers: events.filter((e) => e.action === 'trigger').length,
          resolves: events.filter((e) => e.action === 'resolve').length,
        },
        rows: events
          .slice(-10)
          .reverse()
          .map((e) => [
            new Date(e.receivedAt).toLocaleTimeString('en-GB'),
            e.action,
            e.dedupKey,
            e.summary ?? '',
          ]),
      }),
    },
    stop: () => server.stop(),
  };
}
