-- Categories as each directory names them (functions/shared/categories.ts, issue 20).
--
-- category_map: the directory's map from formfleet category ids to its own options
--   ({"mapping": {"bakery": {"label": "Bakeries & Pastry Shops"}}, "default": {"value": "other"} | null}),
--   set by PUT /v1/directories/{id}/categories; NULL until set. Changing it bumps `version` (the worker's
--   directory cache keys on it). PUT /v1/directories/{id} leaves it as it is.
-- category_options: the options of the directory's category select as the worker last read them from the
--   form ([{"value", "label", "group"}]), with when and on what kind of visit. Written without bumping
--   `version`: what the site offers is an observation, not configuration.
--
-- Customers keep their category as written: a category stored before the taxonomy (free text such as
-- "Plumbing") is resolved through the taxonomy's names when the worker runs, and one that names no category is
-- matched on its own words (else it goes to a person). Only a create or an update that sends `category` must
-- name a known one, so no existing row is rewritten here.
ALTER TABLE directories
  ADD COLUMN category_map jsonb CHECK (category_map IS NULL OR jsonb_typeof(category_map) = 'object'),
  ADD COLUMN category_options jsonb CHECK (category_options IS NULL OR jsonb_typeof(category_options) = 'array'),
  ADD COLUMN category_options_seen_at timestamptz,
  ADD COLUMN category_options_source text CHECK (category_options_source IN ('submission', 'dry_run'));

-- The two new error classes of a select whose option is missing. The list only grows, so every existing row
-- satisfies the new check: NOT VALID skips the scan of the ledger.
ALTER TABLE submissions DROP CONSTRAINT submissions_error_class_check;
ALTER TABLE submissions ADD CONSTRAINT submissions_error_class_check CHECK (error_class IN
  ('site_down', 'timeout', 'selector_drift', 'validation_error', 'captcha', 'login_required', 'internal',
   'blocked_destination', 'category_unmapped', 'option_unmapped')) NOT VALID;
