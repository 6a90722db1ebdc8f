/**
 * Local stand-ins for AWS services beyond the queues, topic and table (the records bucket now; an SMTP server,
 * a webhook receiver and a PagerDuty sink as they arrive): each is one small module with `start` and `stop`,
 * started in order from LOCAL_STAND_INS by startLocalSystem, whose handlers get the variables each returns.
 */
import { recordsBucket } from './services/records-bucket.ts';

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
  stop(): Promise<void>;
}

export interface LocalStandIn {
  readonly name: string;
  start(context: StandInContext): Promise<RunningStandIn>;
}

export const LOCAL_STAND_INS: readonly LocalStandIn[] = [recordsBucket];

/**
 * Starts each stand-in in order, registering its stop with `stops` as soon as it runs (so a later failure
 * stops it too), and returns the variables of all of them.
 */
export async function startStandIns(
  standIns: readonly LocalStandIn[],
  context: StandInContext,
  stops: Array<() => Promise<void>>,
): Promise<Record<string, string>> {
  const env: Record<string, string> = {};
  for (const standIn of standIns) {
    const running = await standIn.start(context).catch((err: unknown) => {
      throw new Error(`local ${standIn.name} did not start`, { cause: err });
    });
    stops.push(() => running.stop());
    Object.assign(env, running.env);
  }
  return env;
}
