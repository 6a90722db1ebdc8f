-- Worker processes (Lambda execution environments, or local worker processes) and what they are doing.
-- Each worker upserts its row on every heartbeat; health checks and the dashboard read it to tell
-- active workers from stale ones and to show browser state.
CREATE TABLE workers (
  id              text PRIMARY KEY,
  started_at      timestamptz NOT NULL DEFAULT now(),
  last_seen_at    timestamptz NOT NULL DEFAULT now(),
  jobs_in_flight  integer NOT NULL DEFAULT 0 CHECK (jobs_in_flight >= 0),
  -- BrowserPool.state(): running, launches, recycles, pagesSinceLaunch, openContexts.
  browser         jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX workers_last_seen_idx ON workers (last_seen_at DESC);
