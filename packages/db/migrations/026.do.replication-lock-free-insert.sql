-- Cheaper stamping and applying of global rows, second pass (issue 3: with the conflict
-- triggers, replication must keep at least 0.8x the write throughput of plain logical
-- replication; bench/replication.bench.ts). Same conflict rule, same erasure rule, same
-- causal base, same merge of a duplicate key. What goes away:
--
--   * Every stamp read this region's name and clock offset from two tables: a query with
--     its executor start-up and two table locks, its plan checked again in every new
--     transaction. Both are constants of the database. They are now compiled into two SQL
--     functions, atlas_region_literal() and atlas_hlc_wall(), which the planner inlines into
--     the stamp's expressions. Any change to atlas_cluster or atlas_hlc_state compiles them
--     again, and PostgreSQL drops the cached plans that inlined the old ones.
--   * Every local INSERT of a global row took a per-key advisory lock, after turning the whole
--     row into jsonb to find its key, only so that an apply worker inserting the same key at
--     the same moment would not stop on a duplicate key. The apply path now inserts the row
--     itself with ON CONFLICT DO NOTHING, which waits for a concurrent insert of the key and
--     then yields; when it yields, the conflict rule decides against the row that stood in the
--     way, as before. Local writes take no lock of their own.
--   * PL/pgSQL prepares each statement's expression again in every transaction, and the apply
--     worker commits each replicated transaction on its own: a replicated update walked a
--     dozen statements to find what is nearly always so, that it follows the local row and
--     wins. The function now starts with that one test (atlas_update_follows, inlined) and
--     returns. It no longer sets search_path for each row (it runs with the caller's rights,
--     so a search_path of its own protects nothing): every name in it is schema-qualified
--     instead, as the apply worker runs with an empty search_path. Its own nested writes
--     (the insert above, the merge) no longer call it again only to be let through: the
--     trigger fires at trigger depth 0 only.

-- Compiles this database's constants into SQL functions the planner can inline. Before the
-- region is recorded, atlas_region_literal() is NULL and a stamp fails on origin_region's
-- NOT NULL, as it did before.
CREATE FUNCTION atlas_compile_constants() RETURNS void
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
DECLARE
  here text := (SELECT region FROM public.atlas_cluster);
  shift bigint := coalesce((SELECT offset_ms FROM public.atlas_hlc_state), 0);
BEGIN
  EXECUTE format('CREATE OR REPLACE FUNCTION public.atlas_region_literal() RETURNS text LANGUAGE sql IMMUTABLE AS %L',
                 format('SELECT %L::text', here));
  -- The clock's wall time (ms << 16), this region's offset applied.
  EXECUTE format('CREATE OR REPLACE FUNCTION public.atlas_hlc_wall() RETURNS bigint LANGUAGE sql VOLATILE AS %L',
                 format('SELECT (floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint + %s::bigint) << 16', shift));
END $$;
REVOKE ALL ON FUNCTION atlas_compile_constants() FROM PUBLIC;

CREATE FUNCTION atlas_compile_constants_on_change() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
BEGIN
  PERFORM atlas_compile_constants();
  RETURN NULL;
END $$;
REVOKE ALL ON FUNCTION atlas_compile_constants_on_change() FROM PUBLIC;

CREATE TRIGGER atlas_compile_constants AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON atlas_cluster
  FOR EACH STATEMENT EXECUTE FUNCTION atlas_compile_constants_on_change();
CREATE TRIGGER atlas_compile_constants AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON atlas_hlc_state
  FOR EACH STATEMENT EXECUTE FUNCTION atlas_compile_constants_on_change();
SELECT atlas_compile_constants();

-- ---------------------------------------------------------------- local writes
CREATE OR REPLACE FUNCTION atlas_stamp_global_row() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
DECLARE
  blanks jsonb;
  after bigint := 0;
  wall bigint;
  v bigint;
BEGIN
  IF TG_OP = 'DELETE' THEN
    -- A delete takes part in the conflict rule only as a tombstone: a plain-SQL DELETE of
    -- a live row becomes one. Deleting a row that is already a tombstone purges it.
    IF OLD.tombstone IS NOT NULL THEN
      RETURN OLD;
    END IF;
    EXECUTE format('UPDATE %I.%I SET tombstone = %L WHERE %I = $1', TG_TABLE_SCHEMA, TG_TABLE_NAME, 'deleted', TG_ARGV[0])
      USING to_jsonb(OLD) ->> TG_ARGV[0];
    RETURN NULL;
  END IF;

  IF TG_OP = 'UPDATE' THEN
    -- Erasure always wins on every node, so a revival here would diverge: refuse it.
    IF OLD.tombstone = 'erased' AND NEW.tombstone IS DISTINCT FROM 'erased' THEN
      RAISE EXCEPTION '% % was erased and cannot be written again', TG_TABLE_NAME, to_jsonb(OLD) ->> TG_ARGV[0]
        USING ERRCODE = 'AT004';
    END IF;
    NEW.base_hlc := OLD.hlc;
    NEW.base_origin := OLD.origin_region;
    after := OLD.hlc;
  ELSE
    NEW.base_hlc := 0;
    NEW.base_origin := NULL;
  END IF;
  -- The clock, inline (atlas_hlc_next): one nextval; the locked bump only when the clock is
  -- behind the wall clock or the old version.
  wall := atlas_hlc_wall();
  v := nextval('atlas_hlc_seq');
  IF v < wall OR v <= after THEN
    v := atlas_hlc_advance_to(greatest(wall + atlas_hlc_slack(), after + 1));
  END IF;
  NEW.hlc := v;
  NEW.origin_region := atlas_region_literal();
  IF NEW.tombstone = 'erased' THEN
    SELECT erased_values INTO blanks FROM atlas_global_table WHERE table_name = TG_TABLE_NAME;
    NEW := jsonb_populate_record(NEW, coalesce(blanks, '{}'));
  END IF;
  RETURN NEW;
END $$;

-- ---------------------------------------------------------------- apply path
-- Same decisions as in 002 and 024 (see the comment in 002).

-- True when a replicated update n follows the local row o: n's base is o's version, n wins
-- under the rule, and n is no erasure (whose blanks the slow path fills in). The apply
-- trigger's fast path; inlined by the planner.
CREATE FUNCTION atlas_update_follows(n_tombstone text, n_hlc bigint, n_origin text, n_base_hlc bigint, n_base_origin text,
                                     o_tombstone text, o_hlc bigint, o_origin text) RETURNS boolean
  LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT n_base_hlc = o_hlc AND n_base_origin IS NOT DISTINCT FROM o_origin
     AND n_tombstone IS DISTINCT FROM 'erased'
     AND coalesce(public.atlas_version_wins(n_tombstone, n_hlc, n_origin, o_tombstone, o_hlc, o_origin), false)
$$;

CREATE OR REPLACE FUNCTION atlas_apply_global_row() RETURNS trigger
  LANGUAGE plpgsql AS $$
DECLARE
  inserted bigint;
  loc jsonb;
  l_hlc bigint;
  l_origin text;
  l_tombstone text;
  l_base_hlc bigint;
  l_base_origin text;
  remote_wins boolean;
  related boolean;
  kind text;
  blanks jsonb;
  assignments text;
BEGIN
  -- The common case first, in few statements: PL/pgSQL prepares each statement's expression
  -- again in every transaction, and the apply worker commits every replicated transaction.
  -- An update that follows the local row (its base is the local version) and wins is no
  -- conflict.
  IF TG_OP = 'UPDATE' AND public.atlas_update_follows(NEW.tombstone, NEW.hlc, NEW.origin_region, NEW.base_hlc, NEW.base_origin,
                                                      OLD.tombstone, OLD.hlc, OLD.origin_region) THEN
    IF NEW.hlc > coalesce(pg_sequence_last_value('public.atlas_hlc_seq'), 0) THEN
      PERFORM public.atlas_hlc_observe(NEW.hlc);
    END IF;
    RETURN NEW;
  END IF;

  -- The nested insert and merge below never reach here: the trigger fires at depth 0 only.

  IF TG_OP = 'DELETE' THEN
    IF OLD.tombstone IS NOT NULL THEN
      RETURN OLD;
    END IF;
    PERFORM public.atlas_log_conflict(TG_TABLE_NAME, to_jsonb(OLD) ->> TG_ARGV[0], 'delete_live', 'local_wins', to_jsonb(OLD), NULL);
    RETURN NULL;
  END IF;

  IF NEW.hlc > coalesce(pg_sequence_last_value('public.atlas_hlc_seq'), 0) THEN
    PERFORM public.atlas_hlc_observe(NEW.hlc);
  END IF;
  IF NEW.tombstone = 'erased' THEN
    SELECT erased_values INTO blanks FROM public.atlas_global_table WHERE table_name = TG_TABLE_NAME;
    NEW := jsonb_populate_record(NEW, coalesce(blanks, '{}'));
  END IF;

  IF TG_OP = 'INSERT' THEN
    -- Insert the row here, yielding to one with the same key: one already here, or one being
    -- inserted meanwhile by a local write or another apply worker (ON CONFLICT waits for that
    -- transaction). Yielded, the rule below decides against the row that stood in the way.
    -- Static statements for the registered tables (their plans are cached); anything else
    -- by dynamic SQL. Each branch is parsed only when first taken.
    IF TG_TABLE_SCHEMA = 'public' AND TG_TABLE_NAME = 'organization' AND TG_ARGV[0] = 'id' THEN
      INSERT INTO public.organization OVERRIDING SYSTEM VALUE VALUES (NEW.*) ON CONFLICT (id) DO NOTHING;
      GET DIAGNOSTICS inserted = ROW_COUNT;
      IF inserted > 0 THEN RETURN NULL; END IF;
      SELECT to_jsonb(t) INTO loc FROM public.organization t WHERE t.id = NEW.id FOR UPDATE;
    ELSIF TG_TABLE_SCHEMA = 'public' AND TG_TABLE_NAME = 'app_user' AND TG_ARGV[0] = 'id' THEN
      INSERT INTO public.app_user OVERRIDING SYSTEM VALUE VALUES (NEW.*) ON CONFLICT (id) DO NOTHING;
      GET DIAGNOSTICS inserted = ROW_COUNT;
      IF inserted > 0 THEN RETURN NULL; END IF;
      SELECT to_jsonb(t) INTO loc FROM public.app_user t WHERE t.id = NEW.id FOR UPDATE;
    ELSIF TG_TABLE_SCHEMA = 'public' AND TG_TABLE_NAME = 'user_preferences' AND TG_ARGV[0] = 'user_id' THEN
      INSERT INTO public.user_preferences OVERRIDING SYSTEM VALUE VALUES (NEW.*) ON CONFLICT (user_id) DO NOTHING;
      GET DIAGNOSTICS inserted = ROW_COUNT;
      IF inserted > 0 THEN RETURN NULL; END IF;
      SELECT to_jsonb(t) INTO loc FROM public.user_preferences t WHERE t.user_id = NEW.user_id FOR UPDATE;
    ELSIF TG_TABLE_SCHEMA = 'public' AND TG_TABLE_NAME = 'referential' AND TG_ARGV[0] = 'id' THEN
      INSERT INTO public.referential OVERRIDING SYSTEM VALUE VALUES (NEW.*) ON CONFLICT (id) DO NOTHING;
      GET DIAGNOSTICS inserted = ROW_COUNT;
      IF inserted > 0 THEN RETURN NULL; END IF;
      SELECT to_jsonb(t) INTO loc FROM public.referential t WHERE t.id = NEW.id FOR UPDATE;
    ELSE
      EXECUTE format('INSERT INTO %I.%I OVERRIDING SYSTEM VALUE SELECT ($1).* ON CONFLICT (%I) DO NOTHING', TG_TABLE_SCHEMA, TG_TABLE_NAME, TG_ARGV[0])
        USING NEW;
      GET DIAGNOSTICS inserted = ROW_COUNT;
      IF inserted > 0 THEN RETURN NULL; END IF;
      EXECUTE format('SELECT to_jsonb(t) FROM %I.%I t WHERE %I = $1 FOR UPDATE', TG_TABLE_SCHEMA, TG_TABLE_NAME, TG_ARGV[0])
        INTO loc USING to_jsonb(NEW) ->> TG_ARGV[0];
    END IF;
    IF loc IS NULL THEN
      -- The row in the way was purged before it could be locked (a tombstone's hard delete):
      -- nothing stands in the way now.
      RETURN NEW;
    END IF;
    l_hlc := (loc ->> 'hlc')::bigint;
    l_origin := loc ->> 'origin_region';
    l_tombstone := loc ->> 'tombstone';
    l_base_hlc := (loc ->> 'base_hlc')::bigint;
    l_base_origin := loc ->> 'base_origin';
  ELSE
    l_hlc := OLD.hlc;
    l_origin := OLD.origin_region;
    l_tombstone := OLD.tombstone;
    l_base_hlc := OLD.base_hlc;
    l_base_origin := OLD.base_origin;
  END IF;

  IF l_hlc = NEW.hlc AND l_origin = NEW.origin_region THEN
    RETURN NULL; -- this version is already here
  END IF;

  remote_wins := public.atlas_version_wins(NEW.tombstone, NEW.hlc, NEW.origin_region, l_tombstone, l_hlc, l_origin);
  IF remote_wins THEN
    related := NEW.base_hlc = l_hlc AND NEW.base_origin IS NOT DISTINCT FROM l_origin;
  ELSE
    related := l_base_hlc = NEW.hlc AND l_base_origin IS NOT DISTINCT FROM NEW.origin_region;
  END IF;

  IF NOT related THEN
    kind := CASE
      WHEN 'erased' IN (NEW.tombstone, l_tombstone) THEN 'erase_update'
      WHEN NEW.tombstone IS DISTINCT FROM l_tombstone THEN 'delete_update'
      WHEN TG_OP = 'INSERT' THEN 'insert_exists'
      ELSE 'update_update'
    END;
    PERFORM public.atlas_log_conflict(TG_TABLE_NAME, to_jsonb(NEW) ->> TG_ARGV[0], kind, CASE WHEN remote_wins THEN 'remote_wins' ELSE 'local_wins' END,
                               coalesce(loc, to_jsonb(OLD)), to_jsonb(NEW));
  END IF;

  IF NOT remote_wins THEN
    RETURN NULL;
  END IF;
  IF TG_OP = 'UPDATE' THEN
    RETURN NEW;
  END IF;
  -- INSERT of an existing key: overwrite the existing row instead (never a duplicate key).
  SELECT string_agg(format('%I = r.%I', attname, attname), ', ' ORDER BY attnum) INTO assignments
    FROM pg_attribute WHERE attrelid = TG_RELID AND attnum > 0 AND NOT attisdropped AND attname <> TG_ARGV[0];
  EXECUTE format('UPDATE %I.%I t SET %s FROM jsonb_populate_record(NULL::%I.%I, $1) r WHERE t.%I = $2',
                 TG_TABLE_SCHEMA, TG_TABLE_NAME, assignments, TG_TABLE_SCHEMA, TG_TABLE_NAME, TG_ARGV[0])
    USING to_jsonb(NEW), to_jsonb(NEW) ->> TG_ARGV[0];
  RETURN NULL;
END $$;

-- The apply trigger again, firing at trigger depth 0 only: on the rows the apply worker or a
-- repair session writes, not on the trigger's own nested insert and merge. (The fast path
-- stays inside the function: as a trigger condition it would be planned again for every
-- replicated row, since the apply worker builds a new executor state per change; measured
-- dearer than the function call.)
DO $$
DECLARE
  g record;
BEGIN
  FOR g IN SELECT table_name, key_column FROM atlas_global_table LOOP
    EXECUTE format('DROP TRIGGER atlas_apply ON %I', g.table_name);
    EXECUTE format('CREATE TRIGGER atlas_apply BEFORE INSERT OR UPDATE OR DELETE ON %I
                    FOR EACH ROW WHEN (pg_trigger_depth() < 1) EXECUTE FUNCTION atlas_apply_global_row(%L)', g.table_name, g.key_column);
    EXECUTE format('ALTER TABLE %I ENABLE REPLICA TRIGGER atlas_apply', g.table_name);
  END LOOP;
END $$;
