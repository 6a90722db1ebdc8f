-- formfleet:no-transaction
-- The age indexes the retention run reads webhook events and inbound mail by, in (age, key) order, built
-- CONCURRENTLY so the webhook triggers' inserts (in every job's transaction) never wait for the build. The
-- deliveries' event index serves both the removable check and the archived deliveries of each event.
CREATE INDEX CONCURRENTLY IF NOT EXISTS webhook_events_retention_idx ON webhook_events (occurred_at, id);
CREATE INDEX CONCURRENTLY IF NOT EXISTS webhook_deliveries_event_idx ON webhook_deliveries (event_id);
CREATE INDEX CONCURRENTLY IF NOT EXISTS inbound_mail_retention_idx ON inbound_mail (received_at, id);
