-- The category choice of a submit click, beside its other facts (issue 20): which option the worker chose for
-- the customer's category and how ({"asked", "category", "via": "map" | "similarity" | "default", "value",
-- "label", "group", "score"?}), or NULL when the form had no category select. The same choice is in the
-- ledger row's evidence (`category`); here it is part of the click's proof.
ALTER TABLE submission_proofs
  ADD COLUMN category jsonb CHECK (category IS NULL OR jsonb_typeof(category) = 'object');
