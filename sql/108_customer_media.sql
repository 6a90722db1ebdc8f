-- Customers' images (issue 14): each upload the API handed a presigned POST for, and what became of it. The
-- bytes live in the records bucket at object_key (media/<customer>/<id>); a row is 'pending' until the
-- client confirms the upload, then 'ready' (its bytes are the image they claim, within policy MEDIA) or
-- 'rejected' (reason says why; the object stays, unreferenced: nothing in formfleet deletes from the bucket).
CREATE TABLE customer_media (
  id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  customer_id   uuid NOT NULL REFERENCES customers (id),
  kind          text NOT NULL CHECK (kind IN ('logo')),
  content_type  text NOT NULL CHECK (content_type IN ('image/png', 'image/jpeg', 'image/webp')),
  object_key    text NOT NULL UNIQUE CHECK (object_key LIKE 'media/%'),
  status        text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'ready', 'rejected')),
  reason        text CHECK (length(reason) <= 500),
  size_bytes    bigint CHECK (size_bytes >= 0),
  sha256        text CHECK (sha256 ~ '^[0-9a-f]{64}$'),
  created_at    timestamptz NOT NULL DEFAULT now(),
  completed_at  timestamptz,
  CHECK ((status = 'ready') = (size_bytes IS NOT NULL AND sha256 IS NOT NULL AND completed_at IS NOT NULL))
);
CREATE INDEX customer_media_customer_idx ON customer_media (customer_id, created_at);

-- The profile's logo: the ready image it points at, or none.
ALTER TABLE customers ADD COLUMN logo_media_id uuid REFERENCES customer_media (id);
