-- E-mail verification (issue 13 item 4). A definition with emailMode 'alias' types a per-job alias instead of
-- the customer's address; the directory's verification mail comes to formfleet's inbound mail domain, and
-- mail-inbound (functions/mail/) reads it, visits its link and moves the listing on.

-- One alias per (job, directory): the unguessable local part of `<prefix><alias>@<inboundMailDomain>`. Kept
-- for the job's life, so every run of the job (a continuation, a retry in doubt) types the same address.
CREATE TABLE mail_aliases (
  alias         text PRIMARY KEY CHECK (alias ~ '^[a-z2-7]{16,64}$'),
  job_id        uuid NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
  directory_id  text NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  UNIQUE (job_id, directory_id)
);

-- Every mail mail-inbound was handed, once per message (SES's retries and the local stand-in's land on the
-- same row), with what became of it. A refused mail is here with its reason and its link never visited.
--   confirmed      the link was visited and the page showed the definition's confirmation
--   unconfirmed    the link was visited but the page did not show it (the listing stays pending)
--   refused        not acted on: see reason
--   early          it came before its submission was recorded, and stayed so through every retry
CREATE TABLE inbound_mail (
  id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  message_id     text NOT NULL UNIQUE CHECK (length(message_id) BETWEEN 1 AND 200),
  received_at    timestamptz NOT NULL DEFAULT now(),
  recipient      text CHECK (length(recipient) <= 320),
  sender         text CHECK (length(sender) <= 320),
  subject        text CHECK (length(subject) <= 200),
  size_bytes     bigint CHECK (size_bytes >= 0),
  object_key     text NOT NULL CHECK (length(object_key) <= 300),
  job_id         uuid REFERENCES jobs(id) ON DELETE SET NULL,
  directory_id   text,
  submission_id  bigint,
  outcome        text NOT NULL CHECK (outcome IN ('processing', 'confirmed', 'unconfirmed', 'refused', 'early')),
  reason         text CHECK (reason IN ('unknown_alias', 'not_our_domain', 'too_large', 'malformed',
                   'not_verification', 'no_link', 'link_host', 'not_pending', 'visit_failed', 'no_definition')),
  detail         text CHECK (length(detail) <= 500),
  -- The host of the link visited (never the link: it carries the directory's token).
  link_host      text CHECK (length(link_host) <= 255),
  visited        boolean NOT NULL DEFAULT false,
  tries          integer NOT NULL DEFAULT 0,
  updated_at     timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT inbound_mail_refused_reason CHECK ((outcome = 'refused') = (reason IS NOT NULL))
);

CREATE INDEX inbound_mail_job_idx ON inbound_mail (job_id) WHERE job_id IS NOT NULL;
CREATE INDEX inbound_mail_recent_idx ON inbound_mail (received_at);
