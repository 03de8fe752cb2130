-- The apply triggers' common paths take one test each (issue 3, as migration 029 did for the
-- stamps): every statement of a trigger function that calls a function is prepared again in
-- each transaction, and the apply worker commits every replicated transaction on its own.
--
--   * atlas_apply_update: a version the clock has already passed (observed before, or issued
--     here) that follows the local row returns at once, in one expression. Otherwise, as
--     before: observe, then decide.
--   * atlas_apply_insert_<table>: the observation of the clock and the blanks of an erasure
--     behind one test; nearly every replicated insert needs neither.
-- Same clock, same conflict rule, same merge as 027.
--
-- Measured on the subscriber's apply worker (its CPU per replicated write over plain
-- replication, batches of the bench's mix alternating between 027's functions and these,
-- two runs of 30): +68 -> +64 and +72 -> +66 us. What remains is mostly the insert's own
-- statement (about 75 us per replicated insert, the price of merging instead of failing on
-- a duplicate key) and the clock's observation (7 % of the rows take the locked bump).

CREATE OR REPLACE FUNCTION atlas_apply_update() RETURNS trigger
  LANGUAGE plpgsql AS $$
BEGIN
  -- Nearly always: no clock to move, and the update follows the local row and wins.
  IF NEW.hlc <= pg_sequence_last_value('public.atlas_hlc_seq')
     AND public.atlas_update_follows(NEW.tombstone, NEW.hlc, NEW.origin_region, NEW.base_hlc, NEW.base_origin,
                                     OLD.tombstone, OLD.hlc, OLD.origin_region) THEN
    RETURN NEW;
  END IF;
  -- atlas_hlc_observe moves the clock only when it is behind NEW.hlc.
  PERFORM public.atlas_hlc_observe(NEW.hlc);
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

-- As in 027, with the per-table insert's first two tests behind one.
CREATE OR REPLACE FUNCTION atlas_install_global_triggers(p_table text) RETURNS void
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
  IF NEW.hlc > coalesce(pg_sequence_last_value('public.atlas_hlc_seq'), 0) OR NEW.tombstone = 'erased' THEN
    PERFORM public.atlas_hlc_observe(NEW.hlc);
    IF NEW.tombstone = 'erased' THEN
      NEW := public.atlas_erased_blanks(NEW, TG_TABLE_NAME);
    END IF;
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
