-- Directory health (issue 17 item 4; functions/directories/health.ts). The scheduled directory-health run
-- dry-runs each active directory at most once per HEALTH.checkIntervalSeconds and records what it saw here:
--   health            'unchecked' until the first check; 'ok' (the run reached the submit); 'drift' (a step's
--                     elements are missing: the site changed its form); 'error' (the check could not tell:
--                     site down, captcha, login wall, a timeout; health_outcome says which)
--   health_outcome    the dry run's outcome (functions/directories/probe-results.ts DryRunOutcome)
--   health_checked_at when the last check ran (the next is due HEALTH.checkIntervalSeconds later)
--   drift_step        the first missing step's index, while drifting
--   drift_since       when the drift was first seen (kept across checks that still drift)
--   paused_at         set when a drift, or the last HEALTH.driftSubmissions real submissions all failed with
--                     selector_drift, paused the directory: jobs then skip it ('skipped', evidence.skip
--                     'directory_paused'); NULL again only when an admin unpauses it
--   paused_reason     why, in words, for the alert, the API and the dashboard
--   unpaused_at       when an admin last unpaused it: submissions settled before it no longer count towards a
--                     pause (else the same three drift failures would pause it again at once)
ALTER TABLE directories
  ADD COLUMN health text NOT NULL DEFAULT 'unchecked'
    CHECK (health IN ('unchecked', 'ok', 'drift', 'error')),
  ADD COLUMN health_outcome text,
  ADD COLUMN health_checked_at timestamptz,
  ADD COLUMN drift_step integer CHECK (drift_step IS NULL OR drift_step >= 0),
  ADD COLUMN drift_since timestamptz,
  ADD COLUMN paused_at timestamptz,
  ADD COLUMN paused_reason text,
  ADD COLUMN unpaused_at timestamptz,
  ADD CONSTRAINT directories_paused_reason CHECK ((paused_at IS NULL) = (paused_reason IS NULL));

