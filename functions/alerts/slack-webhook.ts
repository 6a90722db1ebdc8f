/**
 * Posting to a Slack incoming webhook. A 429, a 5xx, a refused connection or a timeout is retryable: it is
 * retried a couple of times here (honouring a short Retry-After), and then thrown so the invocation fails and
 * Lambda retries the event (and finally parks it on the on-failure destination). A 400 for the blocks is
 * retried once as plain text, so a formatting mistake never costs the alert. The webhook URL is a secret:
 * it appears in no error message.
 */
import { ALERTS } from '#policy';
import { Pacer, realSleep, type Sleep } from './pacer.ts';
import { postJson } from './post-json.ts';
import type { SlackMessage } from './slack-blocks.ts';

export interface SlackWebhook {
  post(message: SlackMessage): Promise<void>;
}

export class SlackDeliveryError extends Error {
  override readonly name = 'SlackDeliveryError';
  constructor(
    message: string,
    /** Worth retrying: 429, 5xx, network error or timeout. */
    readonly retryable: boolean,
    /** HTTP status, or null when no response arrived. */
    readonly status: number | null,
    /** Slack's Retry-After, when it sent one. */
    readonly retryAfterMs?: number,
  ) {
    super(message);
  }
}

export interface WebhookOptions {
  timeoutMs?: number;
  inlineRetries?: number;
  retryBaseMs?: number;
  maxInlineWaitMs?: number;
  /** Shared pacing (one message per ALERTS.minIntervalMs by default). */
  pacer?: Pacer;
  sleep?: Sleep;
}

export class WebhookSlackClient implements SlackWebhook {
  private readonly timeoutMs: number;
  private readonly inlineRetries: number;
  private readonly retryBaseMs: number;
  private readonly maxInlineWaitMs: number;
  private readonly pacer: Pacer;
  private readonly sleep: Sleep;

  constructor(
    private readonly url: string,
    options: WebhookOptions = {},
  ) {
    this.timeoutMs = options.timeoutMs ?? ALERTS.slackTimeoutMs;
    this.inlineRetries = options.inlineRetries ?? ALERTS.slackInlineRetries;
    this.retryBaseMs = options.retryBaseMs ?? ALERTS.slackRetryBaseMs;
    this.maxInlineWaitMs = options.maxInlineWaitMs ?? ALERTS.maxInlineRetryWaitMs;
    this.sleep = options.sleep ?? realSleep;
    this.pacer = options.pacer ?? new Pacer(ALERTS.minIntervalMs, Date.now, this.sleep);
  }

  async post(message: SlackMessage): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        await this.postOnce(message);
        return;
      } catch (err) {
        if (!(err instanceof SlackDeliveryError)) throw err;
        if (err.status === 400 && message.blocks.length > 0) {
          // Slack refused the blocks (invalid_blocks): the words still matter more than the layout.
          await this.postOnce({ text: message.text, blocks: [] });
          return;
        }
        const wait = Math.max(err.retryAfterMs ?? 0, this.retryBaseMs * 2 ** attempt);
        if (!err.retryable || attempt >= this.inlineRetries || wait > this.maxInlineWaitMs) throw err;
        await this.sleep(wait);
      }
    }
  }

  private async postOnce(message: SlackMessage): Promise<void> {
    await this.pacer.wait();
    const outcome = await postJson(
      this.url,
      JSON.stringify(message.blocks.length > 0 ? message : { text: message.text }),
      this.timeoutMs,
    );
    if ('failure' in outcome) throw new SlackDeliveryError(`Slack webhook: ${outcome.failure}`, true, null);
    const { response: res, excerpt: body } = outcome;
    if (res.ok) return;
    const retryAfter = Number(res.headers.get('retry-after'));
    throw new SlackDeliveryError(
      `Slack webhook answered ${res.status}${body ? ` (${body})` : ''}`,
      res.status === 429 || res.status >= 500,
      res.status,
      Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter * 1000 : undefined,
    );
  }
}
