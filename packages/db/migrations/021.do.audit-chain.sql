-- The audit trail as a hash chain per region. A trigger (not the client) numbers every
-- event (seq, gapless), links it to the previous one (prev_hash) and seals it (hash over the
-- canonical row), under an advisory lock so that seq order is commit order. Any change to a
-- row breaks its own hash; any removed row leaves a gap in seq or a broken prev_hash link;
-- signed checkpoints (audit_checkpoint) pin the chain against a rewrite from a point on.

ALTER TABLE audit_event
  ADD COLUMN seq bigint,
  ADD COLUMN prev_hash text,
  ADD COLUMN hash text,
  -- What the event is about beyond (entity, entity_id): ids and counts, never personal data.
  ADD COLUMN details jsonb NOT NULL DEFAULT '{}';

-- Only the superuser owner reads or writes the head; the app role has no grant on it.
CREATE TABLE audit_chain_head (
  region text PRIMARY KEY,
  seq bigint NOT NULL,
  hash text NOT NULL
);

-- The canonical text of an event: a JSON array of every column but hash, in a fixed order.
-- jsonb's text form is deterministic; the timestamp is written in UTC to the microsecond.
CREATE FUNCTION atlas_audit_canonical(e audit_event) RETURNS text
  LANGUAGE sql STABLE SET search_path = public AS $$
  SELECT jsonb_build_array(
    e.seq, e.id::text, e.org_id, e.region, e.actor, e.action, e.entity, e.entity_id, e.outcome,
    e.source_ip, e.request_id, to_char(e.at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
    e.details, e.prev_hash)::text
$$;

CREATE FUNCTION atlas_audit_hash(e audit_event) RETURNS text
  LANGUAGE sql STABLE SET search_path = public AS $$
  SELECT encode(sha256(convert_to(atlas_audit_canonical(e), 'UTF8')), 'hex')
$$;

-- 64 zeros: the prev_hash of a region's first event.
CREATE FUNCTION atlas_audit_genesis() RETURNS text LANGUAGE sql IMMUTABLE AS $$ SELECT repeat('0', 64) $$;

-- Backfill what exists, in time order, before the chain is enforced.
DO $$
DECLARE
  r record;
  n bigint := 0;
  prev text := atlas_audit_genesis();
  e audit_event;
BEGIN
  FOR r IN SELECT id FROM audit_event ORDER BY at, id LOOP
    n := n + 1;
    UPDATE audit_event SET seq = n, prev_hash = prev WHERE id = r.id RETURNING * INTO e;
    prev := atlas_audit_hash(e);
    UPDATE audit_event SET hash = prev WHERE id = r.id;
  END LOOP;
  IF n > 0 THEN
    INSERT INTO audit_chain_head (region, seq, hash) SELECT atlas_region(), n, prev;
  END IF;
END $$;

ALTER TABLE audit_event
  ALTER COLUMN seq SET NOT NULL,
  ALTER COLUMN prev_hash SET NOT NULL,
  ALTER COLUMN hash SET NOT NULL;
CREATE UNIQUE INDEX audit_event_seq_idx ON audit_event (seq);

-- SECURITY DEFINER: the chain spans every tenant of the region, which the app role (under
-- row-level security) cannot see. The key of the advisory lock is an arbitrary constant.
CREATE FUNCTION atlas_audit_chain() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
DECLARE
  head audit_chain_head;
BEGIN
  PERFORM pg_advisory_xact_lock(1095060565, 1128808780);
  SELECT * INTO head FROM audit_chain_head WHERE region = NEW.region FOR UPDATE;
  IF NOT FOUND THEN
    head := ROW(NEW.region, 0, atlas_audit_genesis());
    INSERT INTO audit_chain_head VALUES (head.*);
  END IF;
  NEW.seq := head.seq + 1;
  NEW.prev_hash := head.hash;
  -- The server's clock, not the client's: a forged time would still chain but lie.
  NEW.at := clock_timestamp();
  NEW.hash := atlas_audit_hash(NEW);
  UPDATE audit_chain_head SET seq = NEW.seq, hash = NEW.hash WHERE region = NEW.region;
  RETURN NEW;
END $$;

-- Named to fire after every other BEFORE INSERT trigger (they fire in name order).
CREATE TRIGGER atlas_zz_audit_chain BEFORE INSERT ON audit_event
  FOR EACH ROW EXECUTE FUNCTION atlas_audit_chain();
ALTER TABLE audit_event ENABLE ALWAYS TRIGGER atlas_zz_audit_chain;

-- Append-only for everyone who does not first disable this trigger (the app role has no
-- UPDATE/DELETE grant at all; this also stops the owner by accident).
CREATE FUNCTION atlas_audit_immutable() RETURNS trigger
  LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit_event is append-only (% refused)', TG_OP USING ERRCODE = 'AT003';
END $$;
CREATE TRIGGER atlas_audit_immutable BEFORE UPDATE OR DELETE ON audit_event
  FOR EACH ROW EXECUTE FUNCTION atlas_audit_immutable();
CREATE TRIGGER atlas_audit_immutable_truncate BEFORE TRUNCATE ON audit_event
  FOR EACH STATEMENT EXECUTE FUNCTION atlas_audit_immutable();
ALTER TABLE audit_event ENABLE ALWAYS TRIGGER atlas_audit_immutable;
ALTER TABLE audit_event ENABLE ALWAYS TRIGGER atlas_audit_immutable_truncate;

-- Verification walks the whole regional chain and returns the first broken or missing link
-- (or nothing). It reports ids, sequence numbers and a reason: never a row's content.
CREATE FUNCTION atlas_audit_verify()
  RETURNS TABLE (checked bigint, broken_seq bigint, broken_id uuid, reason text)
  LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public AS $$
DECLARE
  e audit_event;
  expected_seq bigint := 1;
  prev text := atlas_audit_genesis();
  n bigint := 0;
  head audit_chain_head;
BEGIN
  FOR e IN SELECT * FROM audit_event WHERE region = atlas_region() ORDER BY seq LOOP
    n := n + 1;
    IF e.seq <> expected_seq THEN
      RETURN QUERY SELECT n, expected_seq, e.id,
        format('missing link: seq %s..%s absent before this event (seq %s)', expected_seq, e.seq - 1, e.seq);
      RETURN;
    END IF;
    IF e.hash IS DISTINCT FROM atlas_audit_hash(e) THEN
      RETURN QUERY SELECT n, e.seq, e.id, 'altered: the event no longer matches its hash'::text;
      RETURN;
    END IF;
    IF e.prev_hash IS DISTINCT FROM prev THEN
      RETURN QUERY SELECT n, e.seq, e.id, 'broken link: prev_hash is not the hash of the previous event'::text;
      RETURN;
    END IF;
    prev := e.hash;
    expected_seq := e.seq + 1;
  END LOOP;
  SELECT * INTO head FROM audit_chain_head WHERE region = atlas_region();
  IF FOUND AND (head.seq <> expected_seq - 1 OR head.hash <> prev) THEN
    RETURN QUERY SELECT n, expected_seq, NULL::uuid,
      format('missing link: the chain head is seq %s but the last event present is seq %s', head.seq, expected_seq - 1);
    RETURN;
  END IF;
  RETURN QUERY SELECT n, NULL::bigint, NULL::uuid, NULL::text;
END $$;

CREATE FUNCTION atlas_audit_head() RETURNS TABLE (region text, seq bigint, hash text)
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public
  AS $$ SELECT region, seq, hash FROM audit_chain_head WHERE region = atlas_region() $$;

CREATE FUNCTION atlas_audit_hash_at(p_seq bigint) RETURNS text
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public
  AS $$ SELECT hash FROM audit_event WHERE region = atlas_region() AND seq = p_seq $$;

-- Periodic checkpoints: the chain head signed (Ed25519) by the API's audit key. A
-- superuser can recompute hashes but cannot sign; verify checks every checkpoint.
CREATE TABLE audit_checkpoint (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  region text NOT NULL DEFAULT atlas_region(),
  seq bigint NOT NULL,
  hash text NOT NULL,
  signed_at timestamptz NOT NULL,
  key_id text NOT NULL,
  signature text NOT NULL
);
CREATE INDEX audit_checkpoint_seq_idx ON audit_checkpoint (seq);

REVOKE ALL ON FUNCTION atlas_audit_verify(), atlas_audit_head(), atlas_audit_hash_at(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION atlas_audit_verify(), atlas_audit_head(), atlas_audit_hash_at(bigint) TO atlas_app;
GRANT SELECT, INSERT ON audit_checkpoint TO atlas_app;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO atlas_app;
