/** The alert raised when a webhook endpoint is disabled (written to the alert outbox with the change). */
import { type Alert, makeAlert, RUNBOOKS } from '#functions/alerts/alert';
import { WEBHOOKS } from '#policy';
import type { Endpoint } from './store.ts';

export function endpointDisabledAlert(
  endpoint: Endpoint,
  what: { reason: 'gone' | 'failing'; lastError: string; held: number; time: Date },
): Alert {
  const origin = (() => {
    try {
      return new URL(endpoint.url).origin;
    } catch {
      return 'an unparseable URL';
    }
  })();
  return makeAlert({
    // One alert per disabling: the endpoint and the moment it was disabled.
    id: `webhook_disabled:${endpoint.id}:${what.time.toISOString()}`,
    kind: 'webhook_disabled',
    severity: 'warning',
    title:
      what.reason === 'gone'
        ? `Webhook endpoint disabled: it answered 410 Gone (${origin})`
        : `Webhook endpoint disabled: failing for ${WEBHOOKS.disableAfterFailingDays} days (${origin})`,
    summary:
      `${what.reason === 'gone' ? 'The receiver said it is gone.' : `No delivery succeeded since ${endpoint.failingSince ?? what.time.toISOString()}.`} ` +
      `Last attempt: ${what.lastError}. Its ${what.held} undelivered event(s) are held, not lost: ` +
      'POST /v1/webhooks/{id}/enable sends them once the receiver is fixed.',
    counts: { held: what.held, consecutiveFailures: endpoint.consecutiveFailures },
    // The URL's origin only: a path or query may carry the client's own token.
    items: [{ title: endpoint.id, fields: { owner: endpoint.ownerKeyId, origin, reason: what.reason } }],
    runbook: RUNBOOKS.webhookDisabled,
    time: what.time.toISOString(),
    source: 'webhook-delivery',
  });
}
