/**
 * Posting to PagerDuty's Events API v2. A 2xx (202) is accepted; a 429, a 5xx, a refused connection or a
 * timeout throws, so the invocation fails and Lambda retries the event (and finally parks it on the
 * undelivered-alerts queue, which an alarm watches). The routing key is a secret: it appears in no message.
 */
import { PAGERDUTY } from '#policy';
import { postJson } from './post-json.ts';

export interface PagerDutyClient {
  send(event: Record<string, unknown>): Promise<void>;
}

export class PagerDutyError extends Error {
  override readonly name = 'PagerDutyError';
  constructor(
    message: string,
    readonly status: number | null,
  ) {
    super(message);
  }
}

export class EventsApiClient implements PagerDutyClient {
  constructor(
    private readonly routingKey: string,
    private readonly url: string = PAGERDUTY.eventsUrl,
    private readonly timeoutMs: number = PAGERDUTY.timeoutMs,
  ) {}

  async send(event: Record<string, unknown>): Promise<void> {
    const outcome = await postJson(
      this.url,
      JSON.stringify({ routing_key: this.routingKey, ...event }),
      this.timeoutMs,
    );
    if ('failure' in outcome) throw new PagerDutyError(`PagerDuty: ${outcome.failure}`, null);
    const { response, excerpt } = outcome;
    if (!response.ok) {
      throw new PagerDutyError(
        `PagerDuty answered ${response.status}${excerpt ? ` (${excerpt})` : ''}`,
        response.status,
      );
    }
  }
}
