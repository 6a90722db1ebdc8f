-- Exact API rate limits shared by every API Lambda: a sliding-window log per subject (an API key id or a
-- client IP). "In ANY 60-second span at most N requests" needs the time of every allowed request inside the
-- longest window; fixed buckets or token buckets would let up to 2N through across a bucket edge.
--
-- UNLOGGED: the log is rebuilt by traffic within one window; after a database crash a subject merely starts
-- with a fresh allowance, and skipping the WAL keeps every API request's write cheap.
CREATE UNLOGGED TABLE rate_limit_hits (
  subject  text NOT NULL,
  at       timestamptz NOT NULL
);
CREATE INDEX rate_limit_hits_subject_at_idx ON rate_limit_hits (subject, at);
CREATE INDEX rate_limit_hits_at_idx ON rate_limit_hits (at);

-- Takes one request from `p_subject`'s allowance, atomically across every caller:
--   * a per-subject transaction-scoped advisory lock serialises takers of one subject (others run freely);
--   * the hit is stamped with clock_timestamp() taken AFTER the lock, so stamps follow lock order, and a
--     request is allowed only if every window (now - w, now] holds fewer than its limit: then every span of
--     length w holds at most `limit` allowed requests;
--   * a refused request records nothing, so it does not consume the allowance.
-- Returns the window that binds most (least remaining, or the longest wait when refused):
--   allowed, its limit and window, remaining after this request, seconds until a slot frees (reset), and when refused
--   the seconds until a retry can succeed. `p_now` exists for tests of the window arithmetic only.
CREATE FUNCTION rate_limit_take(
  p_subject text,
  p_limits integer[],
  p_windows integer[],
  p_now timestamptz DEFAULT NULL
)
RETURNS TABLE (allowed boolean, lim integer, window_seconds integer, remaining integer, reset_seconds integer,
               retry_after_seconds integer)
LANGUAGE plpgsql AS $$
DECLARE
  v_now        timestamptz;
  v_max_window integer;
  v_count      integer;
  v_edge       timestamptz;
  v_wait       double precision;
  v_remaining  integer;
  v_best_rem   integer := NULL;
  v_best_lim   integer;
  v_best_win   integer;
  v_best_reset double precision;
  v_reset      double precision;
  v_ref_lim    integer := NULL;
  v_ref_win    integer;
  v_ref_wait   double precision := 0;
BEGIN
  IF coalesce(array_length(p_limits, 1), 0) = 0 OR array_length(p_limits, 1) <> array_length(p_windows, 1) THEN
    RAISE EXCEPTION 'rate_limit_take: limits and windows must be non-empty arrays of one length';
  END IF;
  -- Two-int4 advisory keys live apart from the one-bigint key space (the migration lock uses that).
  PERFORM pg_advisory_xact_lock(1919249516, hashtext(p_subject));
  v_now := coalesce(p_now, clock_timestamp());
  SELECT max(w) INTO v_max_window FROM unnest(p_windows) AS w;

  -- Hits older than the longest window can never count again.
  DELETE FROM rate_limit_hits WHERE subject = p_subject AND at <= v_now - make_interval(secs => v_max_window);
  -- Now and then, sweep subjects that went quiet (bounded, so no request pays much for it).
  IF random() < 0.01 THEN
    DELETE FROM rate_limit_hits WHERE ctid = ANY (ARRAY(
      SELECT ctid FROM rate_limit_hits WHERE at <= v_now - make_interval(secs => 86400) LIMIT 1000));
  END IF;

  FOR i IN 1 .. array_length(p_limits, 1) LOOP
    SELECT count(*) INTO v_count FROM rate_limit_hits
      WHERE subject = p_subject AND at > v_now - make_interval(secs => p_windows[i]);
    IF v_count >= p_limits[i] THEN
      -- The (count - limit + 1)-th oldest hit in the window has to leave it before a request fits.
      SELECT at INTO v_edge FROM rate_limit_hits
        WHERE subject = p_subject AND at > v_now - make_interval(secs => p_windows[i])
        ORDER BY at OFFSET (v_count - p_limits[i]) LIMIT 1;
      v_wait := extract(epoch FROM (v_edge + make_interval(secs => p_windows[i]) - v_now));
      IF v_ref_lim IS NULL OR v_wait > v_ref_wait THEN
        v_ref_lim := p_limits[i];
        v_ref_win := p_windows[i];
        v_ref_wait := v_wait;
      END IF;
    ELSE
      v_remaining := p_limits[i] - v_count - 1;
      -- When the oldest hit in this window (or this request, if it is the only one) leaves it.
      SELECT extract(epoch FROM (coalesce(min(at), v_now) + make_interval(secs => p_windows[i]) - v_now))
        INTO v_reset
        FROM rate_limit_hits WHERE subject = p_subject AND at > v_now - make_interval(secs => p_windows[i]);
      -- Least remaining binds; on a tie, the window that frees up last (it decides when a request fits).
      IF v_best_rem IS NULL OR v_remaining < v_best_rem OR (v_remaining = v_best_rem AND v_reset > v_best_reset) THEN
        v_best_rem := v_remaining;
        v_best_lim := p_limits[i];
        v_best_win := p_windows[i];
        v_best_reset := v_reset;
      END IF;
    END IF;
  END LOOP;

  IF v_ref_lim IS NOT NULL THEN
    RETURN QUERY SELECT false, v_ref_lim, v_ref_win, 0, greatest(1, ceil(v_ref_wait))::integer,
                        greatest(1, ceil(v_ref_wait))::integer;
    RETURN;
  END IF;
  INSERT INTO rate_limit_hits (subject, at) VALUES (p_subject, v_now);
  RETURN QUERY SELECT true, v_best_lim, v_best_win, v_best_rem, greatest(1, ceil(v_best_reset))::integer, NULL::integer;
END;
$$;
