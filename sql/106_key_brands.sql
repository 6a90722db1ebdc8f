-- White label (issue 14): the name and logo an API key's customers see on their reports (GET /v1/jobs/{id}/report),
-- set by an admin per key (PUT /v1/keys/{id}/brand). A key without a row reports under formfleet's own name.
CREATE TABLE key_brands (
  key_id        text PRIMARY KEY CHECK (length(key_id) BETWEEN 1 AND 128),
  display_name  text NOT NULL CHECK (length(display_name) BETWEEN 1 AND 200),
  logo_url      text CHECK (length(logo_url) <= 2048),
  updated_at    timestamptz NOT NULL DEFAULT now()
);
