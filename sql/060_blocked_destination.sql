-- 'blocked_destination': the directory's page (or its definition) aimed the worker's browser at a private or
-- special address (loopback, link-local, private ranges) or at a non-web scheme, and the network guard refused
-- it (functions/worker/network-guard.ts).
-- The list only grows, so every existing row satisfies the new check: NOT VALID skips the scan of the ledger
-- (the check still holds for every row written from now on).
ALTER TABLE submissions DROP CONSTRAINT submissions_error_class_check;
ALTER TABLE submissions ADD CONSTRAINT submissions_error_class_check CHECK (error_class IN
  ('site_down', 'timeout', 'selector_drift', 'validation_error', 'captcha', 'login_required', 'internal',
   'blocked_destination')) NOT VALID;
