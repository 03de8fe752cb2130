-- Multi-master replication of the global tables: a hybrid logical clock stamped in the
-- database on every local write, and the conflict rule applied by replica-only triggers in
-- the logical-replication apply path (and by the anti-entropy repair, through the same
-- trigger). Publications and subscriptions are created by packages/db/src/replication.

-- ---------------------------------------------------------------- registry of global tables
-- The one list of replicated tables: the mesh publishes exactly these, by name, and the
-- repair compares exactly these. erased_values are what a GDPR erasure leaves in the
-- non-key fields (values that still satisfy the tables' CHECK constraints).
CREATE TABLE atlas_global_table (
  table_name text PRIMARY KEY,
  key_column text NOT NULL,
  erased_values jsonb NOT NULL DEFAULT '{}'
);
INSERT INTO atlas_global_table (table_name, key_column, erased_values) VALUES
  ('organization', 'id', '{"name": "(erased)"}'),
  ('app_user', 'id', '{"role": "viewer", "email_hash": "0000000000000000000000000000000000000000000000000000000000000000"}'),
  ('user_preferences', 'user_id', '{"locale": "en", "timezone": "UTC", "theme": "system", "preferred_region": null}'),
  ('referential', 'id', '{"label": "(erased)", "active": false, "sort_order": 0}');

-- The version a write replaced (its causal base): an incoming version whose base is the
-- local version follows it causally and is not a conflict.
ALTER TABLE organization ADD COLUMN base_hlc bigint NOT NULL DEFAULT 0, ADD COLUMN base_origin text;
ALTER TABLE app_user ADD COLUMN base_hlc bigint NOT NULL DEFAULT 0, ADD COLUMN base_origin text;
ALTER TABLE user_preferences ADD COLUMN base_hlc bigint NOT NULL DEFAULT 0, ADD COLUMN base_origin text;
ALTER TABLE referential ADD COLUMN base_hlc bigint NOT NULL DEFAULT 0, ADD COLUMN base_origin text;

-- Which link delivered a conflicting version (subscription name, or 'repair:<region>').
ALTER TABLE replication_conflict ADD COLUMN source text;
CREATE INDEX replication_conflict_detected_idx ON replication_conflict (detected_at DESC, id DESC);

-- ---------------------------------------------------------------- hybrid logical clock
-- hlc = (wall-clock milliseconds << 16) | logical counter, as one bigint.
-- The last issued value lives in a sequence: durable across restarts (WAL-logged), and
-- nextval is atomic without holding a lock until commit, so concurrent writers do not
-- serialise on the clock. Only moving the counter forward to the wall clock (or past a
-- remote version) takes a short session-level lock, so the counter never moves back.
CREATE SEQUENCE atlas_hlc_seq AS bigint MINVALUE 0 START 0 NO CYCLE;

-- offset_ms shifts this region's wall clock: tests put a region minutes behind with it.
-- Only the owner (superuser) can change it; the application role cannot read or write it.
CREATE TABLE atlas_hlc_state (
  singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  offset_ms bigint NOT NULL DEFAULT 0
);
INSERT INTO atlas_hlc_state DEFAULT VALUES;

-- Arbitrary constant: the advisory-lock key of the clock's slow path.
CREATE FUNCTION atlas_hlc_advance_to(target bigint) RETURNS bigint
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = public AS $$
DECLARE
  v bigint;
BEGIN
  PERFORM pg_advisory_lock(1095060547, 1212957491);
  BEGIN
    v := nextval('atlas_hlc_seq');
    IF v < target THEN
      PERFORM setval('atlas_hlc_seq', target);
      v := target;
    END IF;
    PERFORM pg_advisory_unlock(1095060547, 1212957491);
  EXCEPTION WHEN OTHERS THEN
    -- a session lock survives a rollback: never leave it held
    PERFORM pg_advisory_unlock(1095060547, 1212957491);
    RAISE;
  END;
  RETURN v;
END $$;

-- The next version for a local write; strictly above `after` (the version it replaces).
CREATE FUNCTION atlas_hlc_next(after bigint DEFAULT 0) RETURNS bigint
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = public AS $$
DECLARE
  wall bigint;
  v bigint;
BEGIN
  SELECT (floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint + offset_ms) << 16
    INTO wall FROM atlas_hlc_state;
  v := nextval('atlas_hlc_seq');
  IF v >= wall AND v > after THEN
    RETURN v;
  END IF;
  RETURN atlas_hlc_advance_to(greatest(wall, after + 1));
END $$;

-- Receiving a remote version moves the clock past it, so a later local write (even on a
-- region whose wall clock is behind) is ordered after what this region has seen.
CREATE FUNCTION atlas_hlc_observe(remote bigint) RETURNS void
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = public AS $$
BEGIN
  IF remote > (SELECT last_value FROM atlas_hlc_seq) THEN
    PERFORM atlas_hlc_advance_to(remote);
  END IF;
END $$;

-- The last version issued here (for status pages and tests); reads only.
CREATE FUNCTION atlas_hlc_current() RETURNS bigint
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public
  AS $$ SELECT last_value FROM atlas_hlc_seq $$;

REVOKE ALL ON FUNCTION atlas_hlc_advance_to(bigint), atlas_hlc_next(bigint), atlas_hlc_observe(bigint) FROM PUBLIC;

-- ---------------------------------------------------------------- the conflict rule
-- True when version a beats version b: an erasure beats anything that is not an erasure;
-- otherwise the higher (hlc, origin region) wins. Mirrored by versionWins() in
-- packages/core/src/hlc.ts, which the repair uses to decide what to send.
CREATE FUNCTION atlas_version_wins(a_tombstone text, a_hlc bigint, a_origin text,
                                   b_tombstone text, b_hlc bigint, b_origin text) RETURNS boolean
  LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE
    WHEN coalesce(a_tombstone = 'erased', false) <> coalesce(b_tombstone = 'erased', false)
      THEN coalesce(a_tombstone = 'erased', false)
    ELSE (a_hlc, a_origin COLLATE "C") > (b_hlc, b_origin COLLATE "C")
  END
$$;

CREATE FUNCTION atlas_row_lock_key(table_name text, key text) RETURNS integer
  LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT hashtext(table_name || ':' || key) $$;

-- ---------------------------------------------------------------- local writes
-- Fires for ordinary sessions only (not in the apply worker, not in a repair session, both of
-- which run with session_replication_role = replica). Security definer: the application
-- role may not drive the clock directly.
CREATE FUNCTION atlas_stamp_global_row() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
DECLARE
  key_col text := TG_ARGV[0];
  blanks jsonb;
BEGIN
  IF TG_OP = 'DELETE' THEN
    -- A delete takes part in the conflict rule only as a tombstone: a plain-SQL DELETE of
    -- a live row becomes one. Deleting a row that is already a tombstone purges it.
    IF OLD.tombstone IS NOT NULL THEN
      RETURN OLD;
    END IF;
    EXECUTE format('UPDATE %I.%I SET tombstone = %L WHERE %I = $1', TG_TABLE_SCHEMA, TG_TABLE_NAME, 'deleted', key_col)
      USING to_jsonb(OLD) ->> key_col;
    RETURN NULL;
  END IF;

  IF TG_OP = 'UPDATE' THEN
    -- Erasure always wins on every node, so a revival here would diverge: refuse it.
    IF OLD.tombstone = 'erased' AND NEW.tombstone IS DISTINCT FROM 'erased' THEN
      RAISE EXCEPTION '% % was erased and cannot be written again', TG_TABLE_NAME, to_jsonb(OLD) ->> key_col
        USING ERRCODE = 'AT004';
    END IF;
    NEW.base_hlc := OLD.hlc;
    NEW.base_origin := OLD.origin_region;
    NEW.hlc := atlas_hlc_next(OLD.hlc);
  ELSE
    -- Serialises with an apply worker inserting the same key (see atlas_apply_global_row),
    -- so the two never race into a duplicate-key error.
    PERFORM pg_advisory_xact_lock(1095060548, atlas_row_lock_key(TG_TABLE_NAME, to_jsonb(NEW) ->> key_col));
    NEW.base_hlc := 0;
    NEW.base_origin := NULL;
    NEW.hlc := atlas_hlc_next(0);
  END IF;
  NEW.origin_region := atlas_region();
  IF NEW.tombstone = 'erased' THEN
    SELECT erased_values INTO blanks FROM atlas_global_table WHERE table_name = TG_TABLE_NAME;
    NEW := jsonb_populate_record(NEW, coalesce(blanks, '{}'));
  END IF;
  RETURN NEW;
END $$;

-- ---------------------------------------------------------------- apply path
-- Records a real conflict (concurrent versions): both row images, the kind, the decision.
CREATE FUNCTION atlas_log_conflict(p_table text, p_key text, p_kind text, p_decision text,
                                   p_local jsonb, p_remote jsonb) RETURNS void
  LANGUAGE plpgsql SET search_path = public AS $$
DECLARE
  src text;
BEGIN
  SELECT subname INTO src FROM pg_stat_subscription WHERE pid = pg_backend_pid() LIMIT 1;
  INSERT INTO replication_conflict (table_name, row_id, kind, decision, local_row, remote_row,
                                    local_hlc, remote_hlc, local_origin, remote_origin, source)
  VALUES (p_table, p_key, p_kind, p_decision, p_local, p_remote,
          (p_local ->> 'hlc')::bigint, (p_remote ->> 'hlc')::bigint,
          p_local ->> 'origin_region', p_remote ->> 'origin_region',
          coalesce(src, nullif(current_setting('atlas.apply_source', true), ''), 'replica-session'));
END $$;

-- Fires only where session_replication_role = replica: in the logical-replication apply
-- worker (which runs with an empty search_path, hence SET search_path) and in repair
-- sessions. Decides between the incoming version (NEW) and the local row:
--   * the higher version wins (atlas_version_wins); an equal version is a duplicate: skipped;
--   * an INSERT whose key exists becomes an update of the existing row, or nothing;
--   * a replicated hard DELETE purges a local tombstone but never a live row;
--   * no conflict is logged when one version is the causal base of the other.
CREATE FUNCTION atlas_apply_global_row() RETURNS trigger
  LANGUAGE plpgsql SET search_path = public AS $$
DECLARE
  key_col text := TG_ARGV[0];
  k text;
  loc jsonb;
  rem jsonb;
  remote_wins boolean;
  related boolean;
  kind text;
  blanks jsonb;
  assignments text;
BEGIN
  -- The merge below updates the row from inside this trigger: let that nested write through.
  IF pg_trigger_depth() > 1 THEN
    IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
    RETURN NEW;
  END IF;

  IF TG_OP = 'DELETE' THEN
    IF OLD.tombstone IS NOT NULL THEN
      RETURN OLD;
    END IF;
    PERFORM atlas_log_conflict(TG_TABLE_NAME, to_jsonb(OLD) ->> key_col, 'delete_live', 'local_wins', to_jsonb(OLD), NULL);
    RETURN NULL;
  END IF;

  PERFORM atlas_hlc_observe(NEW.hlc);
  IF NEW.tombstone = 'erased' THEN
    SELECT erased_values INTO blanks FROM atlas_global_table WHERE table_name = TG_TABLE_NAME;
    NEW := jsonb_populate_record(NEW, coalesce(blanks, '{}'));
  END IF;
  rem := to_jsonb(NEW);
  k := rem ->> key_col;

  IF TG_OP = 'INSERT' THEN
    PERFORM pg_advisory_xact_lock(1095060548, atlas_row_lock_key(TG_TABLE_NAME, k));
    EXECUTE format('SELECT to_jsonb(t) FROM %I.%I t WHERE %I = $1 FOR UPDATE', TG_TABLE_SCHEMA, TG_TABLE_NAME, key_col)
      INTO loc USING k;
    IF loc IS NULL THEN
      RETURN NEW;
    END IF;
  ELSE
    loc := to_jsonb(OLD);
  END IF;

  IF (loc ->> 'hlc')::bigint = NEW.hlc AND loc ->> 'origin_region' = NEW.origin_region THEN
    RETURN NULL; -- this version is already here
  END IF;

  remote_wins := atlas_version_wins(NEW.tombstone, NEW.hlc, NEW.origin_region,
                                    loc ->> 'tombstone', (loc ->> 'hlc')::bigint, loc ->> 'origin_region');
  IF remote_wins THEN
    related := NEW.base_hlc = (loc ->> 'hlc')::bigint AND NEW.base_origin IS NOT DISTINCT FROM loc ->> 'origin_region';
  ELSE
    related := (loc ->> 'base_hlc')::bigint = NEW.hlc AND loc ->> 'base_origin' IS NOT DISTINCT FROM NEW.origin_region;
  END IF;

  IF NOT related THEN
    kind := CASE
      WHEN 'erased' IN (NEW.tombstone, loc ->> 'tombstone') THEN 'erase_update'
      WHEN NEW.tombstone IS DISTINCT FROM loc ->> 'tombstone' THEN 'delete_update'
      WHEN TG_OP = 'INSERT' THEN 'insert_exists'
      ELSE 'update_update'
    END;
    PERFORM atlas_log_conflict(TG_TABLE_NAME, k, kind, CASE WHEN remote_wins THEN 'remote_wins' ELSE 'local_wins' END, loc, rem);
  END IF;

  IF NOT remote_wins THEN
    RETURN NULL;
  END IF;
  IF TG_OP = 'UPDATE' THEN
    RETURN NEW;
  END IF;
  -- INSERT of an existing key: overwrite the existing row instead (never a duplicate key).
  SELECT string_agg(format('%I = r.%I', attname, attname), ', ' ORDER BY attnum) INTO assignments
    FROM pg_attribute WHERE attrelid = TG_RELID AND attnum > 0 AND NOT attisdropped AND attname <> key_col;
  EXECUTE format('UPDATE %I.%I t SET %s FROM jsonb_populate_record(NULL::%I.%I, $1) r WHERE t.%I = $2',
                 TG_TABLE_SCHEMA, TG_TABLE_NAME, assignments, TG_TABLE_SCHEMA, TG_TABLE_NAME, key_col)
    USING rem, k;
  RETURN NULL;
END $$;

DO $$
DECLARE
  g record;
BEGIN
  FOR g IN SELECT table_name, key_column FROM atlas_global_table LOOP
    EXECUTE format('CREATE TRIGGER atlas_stamp BEFORE INSERT OR UPDATE OR DELETE ON %I
                    FOR EACH ROW EXECUTE FUNCTION atlas_stamp_global_row(%L)', g.table_name, g.key_column);
    EXECUTE format('CREATE TRIGGER atlas_apply BEFORE INSERT OR UPDATE OR DELETE ON %I
                    FOR EACH ROW EXECUTE FUNCTION atlas_apply_global_row(%L)', g.table_name, g.key_column);
    EXECUTE format('ALTER TABLE %I ENABLE REPLICA TRIGGER atlas_apply', g.table_name);
  END LOOP;
END $$;

-- ---------------------------------------------------------------- application role
-- The API reads the registry and the conflict log and may read the clock; it never sets it.
GRANT SELECT ON atlas_global_table TO atlas_app;
GRANT SELECT ON replication_conflict TO atlas_app;
GRANT EXECUTE ON FUNCTION atlas_hlc_current() TO atlas_app;
