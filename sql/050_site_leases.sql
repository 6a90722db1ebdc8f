-- Politeness without session state. A worker used to hold a session advisory lock on a dedicated
-- connection for a whole site visit, which a transaction pooler (PgBouncer, Supavisor's transaction port)
-- cannot keep and RDS Proxy pins. Now the visit holds a lease on its site_visits row instead: taken in one
-- statement when free or expired, renewed while the visit lasts, released at its end, every write naming
-- the lease token. A worker that dies stops renewing, so its lease expires (WORKER.siteLeaseSeconds) and
-- the next worker takes the site over.
ALTER TABLE site_visits
  ADD COLUMN lease_token      uuid,
  ADD COLUMN lease_expires_at timestamptz,
  ADD CONSTRAINT site_visits_lease_whole CHECK ((lease_token IS NULL) = (lease_expires_at IS NULL));

COMMENT ON COLUMN site_visits.holder IS 'the worker holding the lease (NULL between visits)';
COMMENT ON COLUMN site_visits.lease_token IS 'the current visit''s lease; every renewal and release names it';
COMMENT ON COLUMN site_visits.lease_expires_at IS 'database-clock time the lease lapses unless renewed';
