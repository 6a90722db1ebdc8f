/**
 * The local stand-ins for third parties formfleet talks to (besides the fixture directory sites and the Slack
 * sink of the alert path): each one small module with start and stop, started from this list by the local
 * runtime, giving the handlers the variables that point at it and the dashboard its panel.
 */
import type { DashboardPanel } from './dashboard/panels.ts';
import { type PagerDutySink, startPagerDutySink } from './pagerduty-sink.ts';
import { startWebhookSink, type WebhookSink } from './webhook-sink.ts';

export interface StandIns {
  /** An API client's webhook receiver (npm run demo subscribes it). */
  readonly webhookSink: WebhookSink;
  /** PagerDuty's Events API, where critical alerts go. */
  readonly pagerDuty: PagerDutySink;
  /** What the handlers need to reach them. */
  readonly env: Readonly<Record<string, string>>;
  readonly panels: readonly DashboardPanel[];
  stop(): Promise<void>;
}

interface StandInModule<T extends { panel: DashboardPanel; stop(): Promise<void> }> {
  start(log: (line: string) => void): Promise<T>;
  env(started: T): Record<string, string>;
}

const WEBHOOK_SINK: StandInModule<WebhookSink> = {
  start: (log) =>
    startWebhookSink({
      onDelivery: (w) =>
        log(`webhook: ${w.type ?? '?'} ${w.webhookId} ${w.verified ? 'verified' : `refused (${w.refused})`}`),
    }),
  env: () => ({}),
};

const PAGERDUTY_SINK: StandInModule<PagerDutySink> = {
  start: (log) => startPagerDutySink({ onEvent: (e) => log(`pagerduty: ${e.action} ${e.dedupKey}`) }),
  env: (sink) => ({ PAGERDUTY_EVENTS_URL: sink.url, PAGERDUTY_ROUTING_KEY: sink.routingKey }),
};

export async function startStandIns(log: (line: string) => void = () => {}): Promise<StandIns> {
  const started: { panel: DashboardPanel; stop(): Promise<void> }[] = [];
  const stop = async () => {
    for (const s of started.reverse()) await s.stop().catch(() => {});
  };
  try {
    const webhookSink = await WEBHOOK_SINK.start(log);
    started.push(webhookSink);
    const pagerDuty = await PAGERDUTY_SINK.start(log);
    started.push(pagerDuty);
    return {
      webhookSink,
      pagerDuty,
      env: { ...WEBHOOK_SINK.env(webhookSink), ...PAGERDUTY_SINK.env(pagerDuty) },
      panels: started.map((s) => s.panel),
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
