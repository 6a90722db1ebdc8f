-- Politeness across workers: one row per directory site (its origin). A worker holds a Postgres advisory
-- lock keyed by the site while it submits there (at most one submission at a time per site, released at
-- once if the worker dies), and keeps here when the site was last visited, read against the database
-- clock so the minimum gap holds across machines whose clocks disagree.
CREATE TABLE site_visits (
  site              text PRIMARY KEY,
  -- The worker visiting the site now (NULL between visits), for people looking at a slow queue.
  holder            text,
  last_started_at   timestamptz,
  last_finished_at  timestamptz,
  visits            bigint NOT NULL DEFAULT 0 CHECK (visits >= 0)
);
