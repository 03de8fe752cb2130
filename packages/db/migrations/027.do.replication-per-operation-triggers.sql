-- One trigger function per operation for global rows (issue 3: with the conflict triggers,
-- replication must keep at least 0.8x the write throughput of plain logical replication).
-- Same clock, same conflict rule, same erasure rule, same causal base, same merge as 026.
--
-- A PL/pgSQL call costs in proportion to the function it runs, not only to the statements
-- it takes: every call copies all of the function's variables, and every statement it
-- reaches is prepared again in each new transaction. The apply worker commits each
-- replicated transaction on its own, so it pays this for every row; the one apply function
-- carried every path (insert, update, delete, the merge) for every row. Now:
--
--   * atlas_apply_insert_<table>: one per global table, generated from atlas_global_table,
--     with that table's static insert (what 026 reached through four branches and a dynamic
--     one). A table registered later gets its own by atlas_install_global_triggers().
--   * atlas_apply_update: observe the clock, return at once when the update follows the
--     local row (nearly always), else decide.
--   * atlas_apply_delete: a replicated hard delete of a live row stays refused and logged.
--   * The decision and the merge, rare, live in plain functions on jsonb images
--     (atlas_apply_decide, atlas_apply_over), shared by the insert and update paths.
--   * The stamp splits the same way: atlas_stamp_insert and atlas_stamp_update; deletes keep
--     atlas_stamp_global_row. Both stay SECURITY DEFINER: the clock's bump is not granted to
--     atlas_app.
--
-- Measured on the apply worker (a scratch harness, µs of CPU per replicated write over plain
-- replication, five rounds): inserts +110 -> +80, updates +57 -> +43, the bench's mix
-- +66..77 -> +53.

-- A row with what a GDPR erasure leaves in its non-key fields (atlas_global_table's
-- erased_values): the stamp and the apply fill them in the same way.
CREATE FUNCTION atlas_erased_blanks(r anyelement, p_table text) RETURNS anyelement
  LANGUAGE sql STABLE AS $$
  SELECT jsonb_populate_record(r, coalesce((SELECT erased_values FROM public.atlas_global_table WHERE table_name = p_table), '{}'))
$$;

-- ---------------------------------------------------------------- local writes
CREATE FUNCTION atlas_stamp_insert() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
DECLARE
  v bigint := nextval('atlas_hlc_seq');
BEGIN
  -- The locked bump only when the clock is behind the wall clock.
  IF v < atlas_hlc_wall() THEN
    v := atlas_hlc_advance_to(atlas_hlc_wall() + atlas_hlc_slack());
  END IF;
  NEW.hlc := v;
  NEW.origin_region := atlas_region_literal();
  NEW.base_hlc := 0;
  NEW.base_origin := NULL;
  IF NEW.tombstone = 'erased' THEN
    NEW := public.atlas_erased_blanks(NEW, TG_TABLE_NAME);
  END IF;
  RETURN NEW;
END $$;

CREATE FUNCTION atlas_stamp_update() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
DECLARE
  v bigint := nextval('atlas_hlc_seq');
BEGIN
  -- Erasure always wins on every node, so a revival here would diverge: refuse it.
  IF OLD.tombstone = 'erased' AND NEW.tombstone IS DISTINCT FROM 'erased' THEN
    RAISE EXCEPTION '% % was erased and cannot be written again', TG_TABLE_NAME, to_jsonb(OLD) ->> TG_ARGV[0]
      USING ERRCODE = 'AT004';
  END IF;
  -- Above the wall clock and above the version it replaces.
  IF v < atlas_hlc_wall() OR v <= OLD.hlc THEN
    v := atlas_hlc_advance_to(greatest(atlas_hlc_wall() + atlas_hlc_slack(), OLD.hlc + 1));
  END IF;
  NEW.base_hlc := OLD.hlc;
  NEW.base_origin := OLD.origin_region;
  NEW.hlc := v;
  NEW.origin_region := atlas_region_literal();
  IF NEW.tombstone = 'erased' THEN
    NEW := public.atlas_erased_blanks(NEW, TG_TABLE_NAME);
  END IF;
  RETURN NEW;
END $$;

-- ---------------------------------------------------------------- apply path, rare part
-- The arriving row r meets the local row l (both as jsonb, erased blanks already filled in).
-- Logs a real conflict (r does not follow l, nor l r) and returns whether r wins; NULL when
-- r's version is already here.
CREATE FUNCTION atlas_apply_decide(p_table text, p_key text, p_op text, r jsonb, l jsonb) RETURNS boolean
  LANGUAGE plpgsql AS $$
DECLARE
  r_hlc bigint := (r ->> 'hlc')::bigint;
  r_origin text := r ->> 'origin_region';
  r_tombstone text := r ->> 'tombstone';
  l_hlc bigint := (l ->> 'hlc')::bigint;
  l_origin text := l ->> 'origin_region';
  l_tombstone text := l ->> 'tombstone';
  remote_wins boolean;
  related boolean;
BEGIN
  IF l_hlc = r_hlc AND l_origin = r_origin THEN
    RETURN NULL;
  END IF;
  remote_wins := public.atlas_version_wins(r_tombstone, r_hlc, r_origin, l_tombstone, l_hlc, l_origin);
  IF remote_wins THEN
    related := (r ->> 'base_hlc')::bigint = l_hlc AND (r ->> 'base_origin') IS NOT DISTINCT FROM l_origin;
  ELSE
    related := (l ->> 'base_hlc')::bigint = r_hlc AND (l ->> 'base_origin') IS NOT DISTINCT FROM r_origin;
  END IF;
  IF NOT related THEN
    PERFORM public.atlas_log_conflict(p_table, p_key,
      CASE
        WHEN 'erased' IN (r_tombstone, l_tombstone) THEN 'erase_update'
        WHEN r_tombstone IS DISTINCT FROM l_tombstone THEN 'delete_update'
        WHEN p_op = 'INSERT' THEN 'insert_exists'
        ELSE 'update_update'
      END,
      CASE WHEN remote_wins THEN 'remote_wins' ELSE 'local_wins' END, l, r);
  END IF;
  RETURN remote_wins;
END $$;

-- A replicated insert r found a row with its key in the way (already here, or inserted
-- meanwhile by a local write or another apply worker): lock it, decide, and when r wins
-- overwrite it (never a duplicate key). True when the row in the way was purged before it
-- could be locked (a tombstone's hard delete): the caller then inserts r.
CREATE FUNCTION atlas_apply_over(p_table text, p_key_column text, r jsonb) RETURNS boolean
  LANGUAGE plpgsql AS $$
DECLARE
  l jsonb;
  assignments text;
BEGIN
  EXECUTE format('SELECT to_jsonb(t) FROM public.%I t WHERE %I = $1 FOR UPDATE', p_table, p_key_column)
    INTO l USING r ->> p_key_column;
  IF l IS NULL THEN
    RETURN true;
  END IF;
  IF coalesce(public.atlas_apply_decide(p_table, r ->> p_key_column, 'INSERT', r, l), false) THEN
    SELECT string_agg(format('%I = r.%I', attname, attname), ', ' ORDER BY attnum) INTO assignments
      FROM pg_attribute
     WHERE attrelid = format('public.%I', p_table)::regclass AND attnum > 0 AND NOT attisdropped AND attname <> p_key_column;
    EXECUTE format('UPDATE public.%I t SET %s FROM jsonb_populate_record(NULL::public.%I, $1) r WHERE t.%I = $2',
                   p_table, assignments, p_table, p_key_column)
      USING r, r ->> p_key_column;
  END IF;
  RETURN false;
END $$;

-- ---------------------------------------------------------------- apply path, common part
CREATE FUNCTION atlas_apply_update() RETURNS trigger
  LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.hlc > coalesce(pg_sequence_last_value('public.atlas_hlc_seq'), 0) THEN
    PERFORM public.atlas_hlc_observe(NEW.hlc);
  END IF;
  -- Nearly always: the update follows the local row and wins. No conflict.
  IF public.atlas_update_follows(NEW.tombstone, NEW.hlc, NEW.origin_region, NEW.base_hlc, NEW.base_origin,
                                 OLD.tombstone, OLD.hlc, OLD.origin_region) THEN
    RETURN NEW;
  END IF;
  IF NEW.tombstone = 'erased' THEN
    NEW := public.atlas_erased_blanks(NEW, TG_TABLE_NAME);
  END IF;
  IF coalesce(public.atlas_apply_decide(TG_TABLE_NAME, to_jsonb(OLD) ->> TG_ARGV[0], 'UPDATE', to_jsonb(NEW), to_jsonb(OLD)), false) THEN
    RETURN NEW;
  END IF;
  RETURN NULL;
END $$;

-- A replicated hard delete: a tombstone is purged; a live row stays (deletes take part in
-- the rule only as tombstones) and the refusal is logged.
CREATE FUNCTION atlas_apply_delete() RETURNS trigger
  LANGUAGE plpgsql AS $$
BEGIN
  IF OLD.tombstone IS NOT NULL THEN
    RETURN OLD;
  END IF;
  PERFORM public.atlas_log_conflict(TG_TABLE_NAME, to_jsonb(OLD) ->> TG_ARGV[0], 'delete_live', 'local_wins', to_jsonb(OLD), NULL);
  RETURN NULL;
END $$;

-- The stamp and apply triggers of one global table, its own apply-insert function included.
-- A migration that registers a global table in atlas_global_table calls this for it.
CREATE FUNCTION atlas_install_global_triggers(p_table text) RETURNS void
  LANGUAGE plpgsql AS $gen$
DECLARE
  key_column text := (SELECT key_column FROM atlas_global_table WHERE table_name = p_table);
  apply_insert text := 'atlas_apply_insert_' || p_table;
BEGIN
  IF key_column IS NULL THEN
    RAISE EXCEPTION '% is not a registered global table', p_table;
  END IF;
  -- Static insert (its plan cached), yielding to a row with the same key: one already here,
  -- or one being inserted meanwhile (ON CONFLICT waits for that transaction).
  EXECUTE format($f$
CREATE OR REPLACE FUNCTION public.%1$I() RETURNS trigger
  LANGUAGE plpgsql AS $body$
BEGIN
  IF NEW.hlc > coalesce(pg_sequence_last_value('public.atlas_hlc_seq'), 0) THEN
    PERFORM public.atlas_hlc_observe(NEW.hlc);
  END IF;
  IF NEW.tombstone = 'erased' THEN
    NEW := public.atlas_erased_blanks(NEW, TG_TABLE_NAME);
  END IF;
  INSERT INTO public.%2$I OVERRIDING SYSTEM VALUE VALUES (NEW.*) ON CONFLICT (%3$I) DO NOTHING;
  IF FOUND THEN
    RETURN NULL;
  END IF;
  IF public.atlas_apply_over(TG_TABLE_NAME, TG_ARGV[0], to_jsonb(NEW)) THEN
    RETURN NEW;
  END IF;
  RETURN NULL;
END $body$
$f$, apply_insert, p_table, key_column);

  EXECUTE format('DROP TRIGGER IF EXISTS atlas_stamp ON public.%I', p_table);
  EXECUTE format('DROP TRIGGER IF EXISTS atlas_apply ON public.%I', p_table);
  EXECUTE format('CREATE OR REPLACE TRIGGER atlas_stamp_insert BEFORE INSERT ON public.%I FOR EACH ROW EXECUTE FUNCTION public.atlas_stamp_insert(%L)', p_table, key_column);
  EXECUTE format('CREATE OR REPLACE TRIGGER atlas_stamp_update BEFORE UPDATE ON public.%I FOR EACH ROW EXECUTE FUNCTION public.atlas_stamp_update(%L)', p_table, key_column);
  EXECUTE format('CREATE OR REPLACE TRIGGER atlas_stamp_delete BEFORE DELETE ON public.%I FOR EACH ROW EXECUTE FUNCTION public.atlas_stamp_global_row(%L)', p_table, key_column);
  -- Replica-only, at trigger depth 0: on the rows the apply worker or a repair session
  -- writes, not on the insert and merge these functions make themselves.
  EXECUTE format('CREATE OR REPLACE TRIGGER atlas_apply_insert BEFORE INSERT ON public.%I FOR EACH ROW WHEN (pg_trigger_depth() < 1) EXECUTE FUNCTION public.%I(%L)', p_table, apply_insert, key_column);
  EXECUTE format('CREATE OR REPLACE TRIGGER atlas_apply_update BEFORE UPDATE ON public.%I FOR EACH ROW WHEN (pg_trigger_depth() < 1) EXECUTE FUNCTION public.atlas_apply_update(%L)', p_table, key_column);
  EXECUTE format('CREATE OR REPLACE TRIGGER atlas_apply_delete BEFORE DELETE ON public.%I FOR EACH ROW WHEN (pg_trigger_depth() < 1) EXECUTE FUNCTION public.atlas_apply_delete(%L)', p_table, key_column);
  EXECUTE format('ALTER TABLE public.%I ENABLE REPLICA TRIGGER atlas_apply_insert', p_table);
  EXECUTE format('ALTER TABLE public.%I ENABLE REPLICA TRIGGER atlas_apply_update', p_table);
  EXECUTE format('ALTER TABLE public.%I ENABLE REPLICA TRIGGER atlas_apply_delete', p_table);
END $gen$;
REVOKE ALL ON FUNCTION atlas_install_global_triggers(text) FROM PUBLIC;

SELECT atlas_install_global_triggers(table_name) FROM atlas_global_table ORDER BY table_name;

-- The one apply function of 026 has no trigger left.
DROP FUNCTION atlas_apply_global_row();
