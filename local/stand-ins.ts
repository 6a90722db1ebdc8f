/**
 * Local stand-ins for what formfleet talks to beyond the queues, topic and table: the records bucket, an API
 * client's webhook receiver and PagerDuty's Events API (an SMTP server as it arrives). Each is one small module
 * with `start` and `stop`, started in order from LOCAL_STAND_INS by startLocalSystem, whose handlers get the
 * variables each returns; one that shows something on the dashboard returns its panel.
 */
import type { DashboardPanel } from './dashboard/panels.ts';
import { startPagerDutySink } from './pagerduty-sink.ts';
import { recordsBucket } from './services/records-bucket.ts';
import { startWebhookSink } from './webhook-sink.ts';

/** What every stand-in starts from. */
export interface StandInContext {
  /** moto's endpoint and dummy credentials (local/services/moto.ts motoEnv). */
  readonly awsEnv: Readonly<Record<string, string>>;
  /** The run's name prefix, so several systems can share one moto. */
  readonly prefix: string;
  readonly log: (line: string) => void;
}

export interface RunningStandIn {
  /** What the handlers need to reach it (as CDK's bind* methods set in AWS). */
  readonly env: Readonly<Record<string, string>>;
  /** Its dashboard panel, when it shows one. */
  readonly panel?: DashboardPanel;
  stop(): Promise<void>;
}

export interface LocalStandIn {
  readonly name: string;
  start(context: StandInContext): Promise<RunningStandIn>;
}

/**
 * An API client's webhook receiver: verifies each delivery's signature (`npm run demo` subscribes it and
 * registers the secret). FORMFLEET_WEBHOOK_SINK_URL is for the demo and the dashboard, not for a handler.
 */
export const webhookReceiver: LocalStandIn = {
  name: 'webhook receiver',
  async start({ log }) {
    const sink = await startWebhookSink({
      onDelivery: (w) =>
        log(`webhook: ${w.type ?? '?'} ${w.webhookId} ${w.verified ? 'verified' : `refused (${w.refused})`}`),
    });
    return { env: { FORMFLEET_WEBHOOK_SINK_URL: sink.url }, panel: sink.panel, stop: () => sink.stop() };
  },
};

/** PagerDuty's Events API v2, where critical alerts go: records trigger and resolve per dedup_key. */
export const pagerDutySink: LocalStandIn = {
  name: 'PagerDuty sink',
  async start({ log }) {
    const sink = await startPagerDutySink({ onEvent: (e) => log(`pagerduty: ${e.action} ${e.dedupKey}`) });
    return {
      env: { PAGERDUTY_EVENTS_URL: sink.url, PAGERDUTY_ROUTING_KEY: sink.routingKey },
      panel: sink.panel,
      stop: () => sink.stop(),
    };
  },
};

export const LOCAL_STAND_INS: readonly LocalStandIn[] = [recordsBucket, webhookReceiver, pagerDutySink];

export interface StartedStandIns {
  /** The variables of all of them. */
  readonly env: Record<string, string>;
  /** The panels of those that show one, in list order. */
  readonly panels: readonly DashboardPanel[];
}

/**
 * Starts each stand-in in order, registering its stop with `stops` as soon as it runs (so a later failure
 * stops it too), and returns the variables and panels of all of them.
 */
export async function startStandIns(
  standIns: readonly LocalStandIn[],
  context: StandInContext,
  stops: Array<() => Promise<void>>,
): Promise<StartedStandIns> {
  const env: Record<string, string> = {};
  const panels: DashboardPanel[] = [];
  for (const standIn of standIns) {
    const running = await standIn.start(context).catch((err: unknown) => {
      throw new Error(`local ${standIn.name} did not start`, { cause: err });
    });
    stops.push(() => running.stop());
    Object.assign(env, running.env);
    if (running.panel) panels.push(running.panel);
  }
  return { env, panels };
}
