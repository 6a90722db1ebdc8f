/**
 * Webhooks in Postgres (sql/080_webhooks.sql): endpoints and their deliveries as the API manages them, and the
 * delivery engine's side: which endpoints have due work (wakes), claiming an endpoint's next delivery, and
 * recording each attempt's outcome (with the endpoint's pause, its disabling and the alert about it in the
 * same transaction). Times the engine decides by are passed in (`now`), so a test's clock can move an hour.
 */
import { randomUUID } from 'node:crypto';
import type { AlertOutbox } from '#functions/alerts/alert-outbox';
import { WEBHOOKS } from '#policy';
import type { Sql } from '#shared/db';
import { endpointDisabledAlert } from './alerts.ts';
import { TEST_EVENT_TYPE } from './events.ts';
import type { StoredEvent } from './render.ts';
import type { FailureDecision } from './retry.ts';
import type { AttemptResult } from './sender.ts';

export type EndpointScope = 'own' | 'all';
export type EndpointStatus = 'enabled' | 'disabled';
export type DeliveryStatus = 'pending' | 'delivered' | 'failed' | 'held';
export const DELIVERY_STATUSES: readonly DeliveryStatus[] = ['pending', 'delivered', 'failed', 'held'];

export interface Endpoint {
  id: string;
  ownerKeyId: string;
  scope: EndpointScope;
  url: string;
  events: string[];
  description: string | null;
  status: EndpointStatus;
  disabledReason: 'gone' | 'failing' | null;
  disabledAt: string | null;
  failingSince: string | null;
  consecutiveFailures: number;
  pausedUntil: string | null;
  lastSuccessAt: string | null;
  createdAt: string;
  updatedAt: string;
}

export interface Attempt {
  number: number;
  startedAt: string;
  durationMs: number;
  statusCode: number | null;
  error: string | null;
  response: string | null;
}

export interface Delivery {
  id: string;
  endpointId: string;
  eventId: string;
  eventType: string;
  jobId: string | null;
  status: DeliveryStatus;
  attempts: number;
  nextAttemptAt: string | null;
  deliveredAt: string | null;
  replayOf: string | null;
  createdAt: string;
  attemptLog: Attempt[];
}

export interface NewEndpoint {
  id: string;
  ownerKeyId: string;
  scope: EndpointScope;
  url: string;
  events: readonly string[];
  description: string | null;
  secretSealed: string;
}

/** A delivery claimed for one attempt: what to send, where, with which secret. */
export interface ClaimedDelivery {
  deliveryId: string;
  /** This attempt's number (1 = the first). */
  attempt: number;
  endpoint: {
    id: string;
    url: string;
    secretSealed: string;
    ownerKeyId: string;
    consecutiveFailures: number;
    failingSince: Date | null;
  };
  event: StoredEvent & { body: string | null };
}

interface EndpointRow {
  id: string;
  owner_key_id: string;
  scope: EndpointScope;
  url: string;
  events: string[];
  description: string | null;
  status: EndpointStatus;
  disabled_reason: 'gone' | 'failing' | null;
  disabled_at: Date | null;
  failing_since: Date | null;
  consecutive_failures: number;
  paused_until: Date | null;
  last_success_at: Date | null;
  created_at: Date;
  updated_at: Date;
}

const ENDPOINT_COLUMNS = `id, owner_key_id, scope, url, events, description, status, disabled_reason, disabled_at,
  failing_since, consecutive_failures, paused_until, last_success_at, created_at, updated_at`;

const iso = (d: Date | null) => (d ? d.toISOString() : null);

function toEndpoint(r: EndpointRow): Endpoint {
  return {
    id: r.id,
    ownerKeyId: r.owner_key_id,
    scope: r.scope,
    url: r.url,
    events: r.events,
    description: r.description,
    status: r.status,
    disabledReason: r.disabled_reason,
    disabledAt: iso(r.disabled_at),
    failingSince: iso(r.failing_since),
    consecutiveFailures: r.consecutive_failures,
    pausedUntil: iso(r.paused_until),
    lastSuccessAt: iso(r.last_success_at),
    createdAt: r.created_at.toISOString(),
    updatedAt: r.updated_at.toISOString(),
  };
}

interface DeliveryRow {
  id: string;
  endpoint_id: string;
  event_id: string;
  event_type: string;
  job_id: string | null;
  status: DeliveryStatus;
  attempts: number;
  next_attempt_at: Date;
  delivered_at: Date | null;
  replay_of: string | null;
  created_at: Date;
  attempt_log: {
    number: number;
    started_at: string;
    duration_ms: number;
    status_code: number | null;
    error: string | null;
    response: string | null;
  }[];
  cursor_at: string;
}

function toDelivery(r: DeliveryRow): Delivery {
  return {
    id: r.id,
    endpointId: r.endpoint_id,
    eventId: r.event_id,
    eventType: r.event_type,
    jobId: r.job_id,
    status: r.status,
    attempts: r.attempts,
    nextAttemptAt: r.status === 'pending' ? r.next_attempt_at.toISOString() : null,
    deliveredAt: iso(r.delivered_at),
    replayOf: r.replay_of,
    createdAt: r.created_at.toISOString(),
    attemptLog: r.attempt_log.map((a) => ({
      number: a.number,
      startedAt: new Date(a.started_at).toISOString(),
      durationMs: a.duration_ms,
      statusCode: a.status_code,
      error: a.error,
      response: a.response,
    })),
  };
}

/** A timestamp printed in UTC with microseconds: exact when it comes back as a keyset bound. */
const cursorAt = (column: string) =>
  `to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS cursor_at`;

const DELIVERY_SELECT = `SELECT d.id, d.endpoint_id, d.event_id, e.type AS event_type, e.job_id, d.status, d.attempts,
         d.next_attempt_at, d.delivered_at, d.replay_of, d.created_at, ${cursorAt('d.created_at')},
         coalesce((SELECT json_agg(a ORDER BY a.number) FROM (
           SELECT number, started_at, duration_ms, status_code, error, response FROM webhook_attempts
           WHERE delivery_id = d.id ORDER BY number DESC LIMIT ${WEBHOOKS.attemptsShown}) a), '[]') AS attempt_log
       FROM webhook_deliveries d JOIN webhook_events e ON e.id = d.event_id`;

export interface Page<T> {
  items: T[];
  /** Keyset of the last item when there is another page. */
  next: string[] | null;
}

export type ReplayOutcome =
  | { kind: 'replayed'; delivery: Delivery }
  | { kind: 'missing' }
  | { kind: 'disabled' };

/**
 * Locks the endpoint row first in every transaction that records an attempt: a disabling holds every pending
 * delivery of the endpoint, so two slots recording at once must meet at the endpoint, not at each other's
 * deliveries in opposite orders (a deadlock).
 */
async function lockEndpoint(tx: Pick<Sql, 'query'>, endpointId: string): Promise<void> {
  await tx.query('SELECT 1 FROM webhook_endpoints WHERE id = $1 FOR UPDATE', [endpointId]);
}

export class PgWebhookStore {
  constructor(
    private readonly sql: Sql,
    private readonly outbox: AlertOutbox,
  ) {}

  // --- endpoints (the API) ---

  /** Inserts the endpoint; undefined when its key already has WEBHOOKS.maxEndpointsPerKey of them. */
  async createEndpoint(input: NewEndpoint, maxPerKey: number = WEBHOOKS.maxEndpointsPerKey) {
    const { rows } = await this.sql.query<EndpointRow>(
      `INSERT INTO webhook_endpoints (id, owner_key_id, scope, url, events, description, secret_sealed)
       SELECT $1, $2, $3, $4, $5, $6, $7
       WHERE (SELECT count(*) FROM webhook_endpoints WHERE owner_key_id = $2) < $8
       RETURNING ${ENDPOINT_COLUMNS}`,
      [
        input.id,
        input.ownerKeyId,
        input.scope,
        input.url,
        input.events,
        input.description,
        input.secretSealed,
        maxPerKey,
      ],
    );
    return rows[0] ? toEndpoint(rows[0]) : undefined;
  }

  async getEndpoint(id: string): Promise<Endpoint | undefined> {
    const { rows } = await this.sql.query<EndpointRow>(
      `SELECT ${ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE id = $1`,
      [id],
    );
    return rows[0] ? toEndpoint(rows[0]) : undefined;
  }

  /** Endpoints newest first; of one owner key, or (undefined) every one. */
  async listEndpoints(filter: { ownerKeyId?: string; limit: number; after?: readonly string[] }) {
    const { rows } = await this.sql.query<EndpointRow & { cursor_at: string }>(
      `SELECT ${ENDPOINT_COLUMNS}, ${cursorAt('created_at')} FROM webhook_endpoints
       WHERE ($1::text IS NULL OR owner_key_id = $1)
         AND ($2::timestamptz IS NULL OR (created_at, id) < ($2::timestamptz, $3::uuid))
       ORDER BY created_at DESC, id DESC LIMIT $4`,
      [filter.ownerKeyId ?? null, filter.after?.[0] ?? null, filter.after?.[1] ?? null, filter.limit + 1],
    );
    return pageOf(rows, filter.limit, toEndpoint);
  }

  /** Deletes the endpoint with its deliveries; false when there was none. */
  async deleteEndpoint(id: string): Promise<boolean> {
    const { rowCount } = await this.sql.query('DELETE FROM webhook_endpoints WHERE id = $1', [id]);
    return rowCount === 1;
  }

  /**
   * Enables a disabled endpoint: its failure count and pause are cleared, and every delivery held while it
   * was disabled is due at once. Undefined when there is no such endpoint.
   */
  enableEndpoint(id: string): Promise<Endpoint | undefined> {
    return this.sql.transaction(async (tx) => {
      const { rows } = await tx.query<EndpointRow>(
        `UPDATE webhook_endpoints SET status = 'enabled', disabled_reason = NULL, disabled_at = NULL,
                failing_since = NULL, consecutive_failures = 0, paused_until = NULL
         WHERE id = $1 RETURNING ${ENDPOINT_COLUMNS}`,
        [id],
      );
      if (!rows[0]) return undefined;
      await tx.query(
        `UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = now(), lease_until = NULL
         WHERE endpoint_id = $1 AND status = 'held'`,
        [id],
      );
      return toEndpoint(rows[0]);
    });
  }

  // --- deliveries (the API) ---

  async listDeliveries(filter: {
    endpointId: string;
    status?: DeliveryStatus;
    limit: number;
    after?: readonly string[];
  }): Promise<Page<Delivery>> {
    const { rows } = await this.sql.query<DeliveryRow>(
      `${DELIVERY_SELECT}
       WHERE d.endpoint_id = $1 AND ($2::text IS NULL OR d.status = $2)
         AND ($3::timestamptz IS NULL OR (d.created_at, d.id) < ($3::timestamptz, $4::uuid))
       ORDER BY d.created_at DESC, d.id DESC LIMIT $5`,
      [
        filter.endpointId,
        filter.status ?? null,
        filter.after?.[0] ?? null,
        filter.after?.[1] ?? null,
        filter.limit + 1,
      ],
    );
    return pageOf(rows, filter.limit, toDelivery);
  }

  async getDelivery(endpointId: string, deliveryId: string): Promise<Delivery | undefined> {
    const { rows } = await this.sql.query<DeliveryRow>(
      `${DELIVERY_SELECT} WHERE d.endpoint_id = $1 AND d.id = $2`,
      [endpointId, deliveryId],
    );
    return rows[0] ? toDelivery(rows[0]) : undefined;
  }

  /**
   * A new delivery of the same event to the same endpoint, due now: the receiver gets the same webhook-id
   * (and body) again, so one that deduplicates sees it once. Refused while the endpoint is disabled.
   */
  replay(endpointId: string, deliveryId: string): Promise<ReplayOutcome> {
    return this.sql.transaction(async (tx) => {
      const found = await tx.query<{ status: EndpointStatus; event_id: string }>(
        `SELECT e.status, d.event_id FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id
         WHERE d.endpoint_id = $1 AND d.id = $2 FOR SHARE OF e`,
        [endpointId, deliveryId],
      );
      const row = found.rows[0];
      if (!row) return { kind: 'missing' as const };
      if (row.status !== 'enabled') return { kind: 'disabled' as const };
      const id = randomUUID();
      await tx.query(
        `INSERT INTO webhook_deliveries (id, event_id, endpoint_id, replay_of, status) VALUES ($1, $2, $3, $4, 'pending')`,
        [id, row.event_id, endpointId, deliveryId],
      );
      const { rows } = await tx.query<DeliveryRow>(`${DELIVERY_SELECT} WHERE d.id = $1`, [id]);
      return { kind: 'replayed' as const, delivery: toDelivery(rows[0] as DeliveryRow) };
    });
  }

  /**
   * A `webhook.test` event for this endpoint only (whatever it subscribed to), delivered like any other:
   * signed, retried, listed. Its data says which endpoint it tests.
   */
  createTestEvent(endpoint: Pick<Endpoint, 'id' | 'ownerKeyId' | 'status'>): Promise<Delivery> {
    return this.sql.transaction(async (tx) => {
      const eventId = `evt_${randomUUID().replaceAll('-', '')}`;
      const deliveryId = randomUUID();
      await tx.query(
        `INSERT INTO webhook_events (id, type, owner_key_id, resource) VALUES ($1, $2, $3, $4)`,
        [
          eventId,
          TEST_EVENT_TYPE,
          endpoint.ownerKeyId,
          {
            endpointId: endpoint.id,
            message: 'a test event from formfleet: your endpoint is reachable and verifies',
          },
        ],
      );
      await tx.query(
        `INSERT INTO webhook_deliveries (id, event_id, endpoint_id, status) VALUES ($1, $2, $3, $4)`,
        [deliveryId, eventId, endpoint.id, endpoint.status === 'enabled' ? 'pending' : 'held'],
      );
      const { rows } = await tx.query<DeliveryRow>(`${DELIVERY_SELECT} WHERE d.id = $1`, [deliveryId]);
      return toDelivery(rows[0] as DeliveryRow);
    });
  }

  // --- the delivery engine ---

  /** Whether any endpoint exists (a stage without one has nothing to dispatch). */
  async anyEndpoint(): Promise<boolean> {
    const { rows } = await this.sql.query('SELECT 1 FROM webhook_endpoints LIMIT 1');
    return rows.length > 0;
  }

  /**
   * The (endpoint, slot) wakes to send now: for each enabled, unpaused endpoint with deliveries due, one slot
   * per due delivery up to `slots`, each only if it has no wake outstanding (sent within `leaseSeconds`).
   * Recorded as sent in the same statement; `dropWakes` forgets them if the send fails.
   */
  async takeWakes(now: Date, slots: number, leaseSeconds: number, limit: number) {
    const { rows } = await this.sql.query<{ endpoint_id: string; slot: number; sent_at: Date }>(
      `WITH due AS (
         SELECT d.endpoint_id, count(*) AS n
         FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id
         WHERE d.status = 'pending' AND d.next_attempt_at <= $1 AND (d.lease_until IS NULL OR d.lease_until <= $1)
           AND e.status = 'enabled' AND (e.paused_until IS NULL OR e.paused_until <= $1)
         GROUP BY d.endpoint_id
       ), wanted AS (
         SELECT due.endpoint_id, s.slot FROM due, generate_series(0, least(due.n, $2) - 1) AS s(slot)
         ORDER BY s.slot, due.endpoint_id LIMIT $4
       )
       INSERT INTO webhook_wakes AS w (endpoint_id, slot, sent_at)
       SELECT endpoint_id, slot, $1 FROM wanted
       ON CONFLICT (endpoint_id, slot) DO UPDATE SET sent_at = EXCLUDED.sent_at
         WHERE w.sent_at <= $1::timestamptz - make_interval(secs => $3)
       RETURNING endpoint_id, slot, sent_at`,
      [now, slots, leaseSeconds, limit],
    );
    return rows.map((r) => ({ endpointId: r.endpoint_id, slot: r.slot, sentAt: r.sent_at.toISOString() }));
  }

  /** Forgets wakes whose message could not be sent, so the next look sends them again. */
  async dropWakes(wakes: readonly { endpointId: string; slot: number; sentAt: string }[]): Promise<void> {
    if (wakes.length === 0) return;
    await this.sql.query(
      `DELETE FROM webhook_wakes w USING unnest($1::uuid[], $2::int[], $3::timestamptz[]) AS x(endpoint_id, slot, sent_at)
       WHERE w.endpoint_id = x.endpoint_id AND w.slot = x.slot AND w.sent_at = x.sent_at`,
      [wakes.map((w) => w.endpointId), wakes.map((w) => w.slot), wakes.map((w) => w.sentAt)],
    );
  }

  /** A drain ended: its wake is done (a newer wake of the same group, if any, stays). */
  async finishWake(wake: { endpointId: string; slot: number; sentAt: string }): Promise<void> {
    await this.dropWakes([wake]);
  }

  /**
   * Claims the endpoint's next due delivery for one attempt (oldest due first; SKIP LOCKED, so two slots of
   * one endpoint take different deliveries), if the endpoint is enabled and not paused. The attempt count is
   * raised and a lease taken in the same statement: a delivery whose attempt died is due again when it lapses.
   */
  async claimNext(endpointId: string, now: Date, leaseSeconds: number): Promise<ClaimedDelivery | undefined> {
    const { rows } = await this.sql.query<{
      delivery_id: string;
      attempts: number;
      url: string;
      secret_sealed: string;
      owner_key_id: string;
      consecutive_failures: number;
      failing_since: Date | null;
      event_id: string;
      type: string;
      occurred_at: Date;
      job_id: string | null;
      sequence: number | null;
      resource: Record<string, unknown>;
      body: string | null;
    }>(
      `WITH ep AS (
         SELECT id, url, secret_sealed, owner_key_id, consecutive_failures, failing_since FROM webhook_endpoints
         WHERE id = $1 AND status = 'enabled' AND (paused_until IS NULL OR paused_until <= $2)
       ), next AS (
         SELECT d.id FROM webhook_deliveries d, ep
         WHERE d.endpoint_id = ep.id AND d.status = 'pending' AND d.next_attempt_at <= $2
           AND (d.lease_until IS NULL OR d.lease_until <= $2)
         ORDER BY d.next_attempt_at, d.id LIMIT 1
         FOR UPDATE OF d SKIP LOCKED
       ), claimed AS (
         UPDATE webhook_deliveries d SET attempts = d.attempts + 1,
                lease_until = $2::timestamptz + make_interval(secs => $3)
         FROM next WHERE d.id = next.id
         RETURNING d.id, d.attempts, d.event_id
       )
       SELECT c.id AS delivery_id, c.attempts, ep.url, ep.secret_sealed, ep.owner_key_id, ep.consecutive_failures,
              ep.failing_since, e.id AS event_id, e.type, e.occurred_at, e.job_id, e.sequence, e.resource, e.body
       FROM claimed c CROSS JOIN ep JOIN webhook_events e ON e.id = c.event_id`,
      [endpointId, now, leaseSeconds],
    );
    const r = rows[0];
    if (!r) return undefined;
    return {
      deliveryId: r.delivery_id,
      attempt: r.attempts,
      endpoint: {
        id: endpointId,
        url: r.url,
        secretSealed: r.secret_sealed,
        ownerKeyId: r.owner_key_id,
        consecutiveFailures: r.consecutive_failures,
        failingSince: r.failing_since,
      },
      event: {
        id: r.event_id,
        type: r.type,
        occurredAt: r.occurred_at,
        jobId: r.job_id,
        sequence: r.sequence,
        resource: r.resource,
        body: r.body,
      },
    };
  }

  /** Keeps the body rendered for an event; the one kept first wins (every renderer makes the same). */
  async keepBody(eventId: string, body: string): Promise<string> {
    const { rows } = await this.sql.query<{ body: string }>(
      'UPDATE webhook_events SET body = coalesce(body, $2) WHERE id = $1 RETURNING body',
      [eventId, body],
    );
    return rows[0]?.body ?? body;
  }

  /** A 2xx: the delivery is done, and the endpoint is healthy again. */
  async recordDelivered(claim: ClaimedDelivery, result: AttemptResult, startedAt: Date): Promise<void> {
    await this.sql.transaction(async (tx) => {
      await lockEndpoint(tx, claim.endpoint.id);
      await insertAttempt(tx, claim, result, startedAt);
      await tx.query(
        `UPDATE webhook_deliveries SET status = 'delivered', delivered_at = $2, lease_until = NULL
         WHERE id = $1`,
        [claim.deliveryId, new Date(startedAt.getTime() + result.durationMs)],
      );
      await tx.query(
        `UPDATE webhook_endpoints SET consecutive_failures = 0, failing_since = NULL, paused_until = NULL,
                last_success_at = $2
         WHERE id = $1`,
        [claim.endpoint.id, startedAt],
      );
    });
  }

  /**
   * A failed attempt, as `decision` says: the delivery retried later or given up, the endpoint paused, and,
   * when disabled, every delivery of it held and an alert in the outbox, all in one transaction.
   */
  async recordFailed(
    claim: ClaimedDelivery,
    result: AttemptResult,
    startedAt: Date,
    decision: FailureDecision,
  ): Promise<void> {
    await this.sql.transaction(async (tx) => {
      // The decision was made from the endpoint as claimed; another attempt in flight at the same time (up to
      // WEBHOOKS.perEndpointConcurrency) may have disabled it since. Only the attempt that finds it enabled
      // disables it and raises the alert: one disabling, one alert.
      const locked = await tx.query<{ status: EndpointStatus }>(
        'SELECT status FROM webhook_endpoints WHERE id = $1 FOR UPDATE',
        [claim.endpoint.id],
      );
      const disable = locked.rows[0]?.status === 'enabled' ? decision.disable : undefined;
      await insertAttempt(tx, claim, result, startedAt);
      if ('giveUp' in decision.delivery) {
        await tx.query(`UPDATE webhook_deliveries SET status = 'failed', lease_until = NULL WHERE id = $1`, [
          claim.deliveryId,
        ]);
      } else {
        await tx.query(
          `UPDATE webhook_deliveries SET next_attempt_at = $2, lease_until = NULL WHERE id = $1`,
          [claim.deliveryId, decision.delivery.retryAt],
        );
      }
      const { rows } = await tx.query<EndpointRow>(
        `UPDATE webhook_endpoints SET consecutive_failures = consecutive_failures + 1,
                failing_since = coalesce(failing_since, $2), paused_until = $3,
                status = CASE WHEN $4::text IS NULL THEN status ELSE 'disabled' END,
                disabled_reason = coalesce($4::text, disabled_reason),
                disabled_at = CASE WHEN $4::text IS NULL THEN disabled_at ELSE $2 END
         WHERE id = $1
         RETURNING ${ENDPOINT_COLUMNS}`,
        [claim.endpoint.id, startedAt, decision.pausedUntil, disable ?? null],
      );
      const endpoint = rows[0];
      if (disable && endpoint) {
        const held = await tx.query(
          `UPDATE webhook_deliveries SET status = 'held', lease_until = NULL
           WHERE endpoint_id = $1 AND status = 'pending'`,
          [claim.endpoint.id],
        );
        await this.outbox.add(
          tx,
          endpointDisabledAlert(toEndpoint(endpoint), {
            reason: disable,
            lastError: result.error ?? `answered ${result.status}`,
            held: held.rowCount,
            time: startedAt,
          }),
        );
      }
    });
  }

  /** Prunes events (with their deliveries and attempts) older than `days`; at most `limit`. */
  async prune(now: Date, days: number, limit: number): Promise<number> {
    const { rowCount } = await this.sql.query(
      `DELETE FROM webhook_events WHERE id IN (
         SELECT id FROM webhook_events WHERE occurred_at < $1::timestamptz - make_interval(days => $2) LIMIT $3)`,
      [now, days, limit],
    );
    return rowCount;
  }
}

async function insertAttempt(tx: Sql, claim: ClaimedDelivery, result: AttemptResult, startedAt: Date) {
  await tx.query(
    `INSERT INTO webhook_attempts (delivery_id, number, started_at, duration_ms, status_code, error, response)
     VALUES ($1, $2, $3, $4, $5, $6, $7)
     ON CONFLICT (delivery_id, number) DO NOTHING`,
    [
      claim.deliveryId,
      claim.attempt,
      startedAt,
      Math.max(0, Math.round(result.durationMs)),
      // A receiver may answer any three digits; only a real HTTP status is stored as one (the error says the rest).
      result.status !== null && result.status >= 100 && result.status <= 599 ? result.status : null,
      result.error?.slice(0, 1_000) ?? null,
      result.response ? result.response.slice(0, 1_000) : null,
    ],
  );
}

function pageOf<R extends { id: string; cursor_at: string }, T>(
  rows: R[],
  limit: number,
  map: (row: R) => T,
): Page<T> {
  const page = rows.slice(0, limit);
  const last = page.at(-1);
  return { items: page.map(map), next: rows.length > limit && last ? [last.cursor_at, last.id] : null };
}
