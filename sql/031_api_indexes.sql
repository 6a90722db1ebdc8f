-- Indexes for the API's list routes.
-- GET /v1/jobs for an admin (no owner filter): newest first, keyset on (created_at, id).
CREATE INDEX jobs_created_idx ON jobs (created_at DESC, id DESC);
-- GET /v1/directories: keyset on id with category / tier / active filters (the primary key serves the
-- order; this serves the common "active in a category" filter).
CREATE INDEX directories_category_idx ON directories (category, id) WHERE active;
