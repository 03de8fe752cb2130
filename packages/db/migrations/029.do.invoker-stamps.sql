-- The stamps of local inserts and updates run with the writer's rights, and take the clock in
-- one expression (issue 3: with the conflict triggers, replication must keep at least 0.8x the
-- write throughput of plain logical replication).
--
-- What a stamp costs (a scratch harness: 8 sessions upserting into copies of referential, one
-- copy per stamp variant, batches alternating between the copies; CPU of those sessions'
-- backends per write, paired differences over 40 batches, +/- one standard error):
--   an empty PL/pgSQL trigger                        +25..34 us
--   + nextval                                        +16
--   + the test against the wall clock (no bump)      +20
--   + the locked bump (about 4 % of the stamps)      +10
--   + SECURITY DEFINER and SET search_path           +15..30
-- Each statement of a trigger function is prepared again in every transaction, so a stamp
-- costs in proportion to its statements that call functions, and SECURITY DEFINER with a
-- search_path of its own saves and restores the session's settings on every call.
--
--   * atlas_hlc_tick(): the next version in one SQL expression the planner inlines into the
--     stamp: nextval, and the bump only when that is below the wall clock (atlas_hlc_catch_up,
--     the one part that needs the owner's rights, reached a few times per 10 ms at most).
--   * atlas_stamp_insert and atlas_stamp_update no longer run as their owner. What they need
--     is granted to atlas_app, and none of it lets it drive the clock: nextval of the clock's
--     sequence (USAGE, which does not allow setval, was already granted), reading the wall
--     clock, a catch-up to the wall clock (what any stamp does), and moving past the version
--     of a row that exists (atlas_hlc_pass, which reads that version itself).
--   * Without a search_path of their own, every name in them is schema-qualified; operators
--     resolve in pg_catalog, searched first unless a session names it later, and the roles
--     that write global rows can create objects in no schema.
-- Same clock, same rule: a version is above the wall clock at the write (or up to the slack
-- ahead of it), above every version this region issued or observed, and above the version
-- it replaces.
--
-- Measured the same way: the stamps of 027 +147 +/- 10 us per write over no trigger, these
-- +107 +/- 11.

GRANT EXECUTE ON FUNCTION atlas_hlc_wall() TO atlas_app;

-- Catches the clock up with the wall clock (plus the slack). Never further: callable by the
-- application role.
CREATE FUNCTION atlas_hlc_catch_up() RETURNS bigint
  LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = public AS $$
  SELECT atlas_hlc_advance_to(atlas_hlc_wall() + atlas_hlc_slack())
$$;
REVOKE ALL ON FUNCTION atlas_hlc_catch_up() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION atlas_hlc_catch_up() TO atlas_app;

-- The next version of a local write. currval: the value this session's nextval just took.
CREATE FUNCTION atlas_hlc_tick() RETURNS bigint
  LANGUAGE sql VOLATILE AS $$
  SELECT CASE WHEN pg_catalog.nextval('public.atlas_hlc_seq'::pg_catalog.regclass) >= public.atlas_hlc_wall()
              THEN pg_catalog.currval('public.atlas_hlc_seq'::pg_catalog.regclass)
              ELSE public.atlas_hlc_catch_up() END
$$;
REVOKE ALL ON FUNCTION atlas_hlc_tick() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION atlas_hlc_tick() TO atlas_app;

-- A version above the one a global row holds now: for an update of a row whose version is
-- not below this region's clock. That never happens while every applied version is observed
-- first (the apply triggers do it); the stamp still never writes a version that would lose
-- to the one it replaces. The version is checked against the row itself, so the caller can
-- only move the clock past versions that already exist here.
CREATE FUNCTION atlas_hlc_pass(p_table text, p_key text, p_version bigint) RETURNS bigint
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = public AS $$
DECLARE
  key_column text := (SELECT g.key_column FROM atlas_global_table g WHERE g.table_name = p_table);
  held bigint;
BEGIN
  IF key_column IS NULL THEN
    RAISE EXCEPTION '% is not a registered global table', p_table USING ERRCODE = 'AT005';
  END IF;
  EXECUTE format('SELECT hlc FROM public.%I WHERE %I = $1', p_table, key_column) INTO held USING p_key;
  IF held IS DISTINCT FROM p_version THEN
    RAISE EXCEPTION '% % does not hold version %', p_table, p_key, p_version USING ERRCODE = 'AT005';
  END IF;
  RETURN atlas_hlc_advance_to(greatest(atlas_hlc_wall() + atlas_hlc_slack(), p_version + 1));
END $$;
REVOKE ALL ON FUNCTION atlas_hlc_pass(text, text, bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION atlas_hlc_pass(text, text, bigint) TO atlas_app;

CREATE OR REPLACE FUNCTION atlas_stamp_insert() RETURNS trigger
  LANGUAGE plpgsql AS $$
BEGIN
  NEW.hlc := public.atlas_hlc_tick();
  NEW.origin_region := public.atlas_region_literal();
  NEW.base_hlc := 0;
  NEW.base_origin := NULL;
  IF NEW.tombstone = 'erased' THEN
    NEW := public.atlas_erased_blanks(NEW, TG_TABLE_NAME);
  END IF;
  RETURN NEW;
END $$;

CREATE OR REPLACE FUNCTION atlas_stamp_update() RETURNS trigger
  LANGUAGE plpgsql AS $$
DECLARE
  v bigint := public.atlas_hlc_tick();
BEGIN
  -- One test for both rare cases.
  IF v <= OLD.hlc OR OLD.tombstone = 'erased' THEN
    -- Erasure always wins on every node, so a revival here would diverge: refuse it.
    IF OLD.tombstone = 'erased' AND NEW.tombstone IS DISTINCT FROM 'erased' THEN
      RAISE EXCEPTION '% % was erased and cannot be written again', TG_TABLE_NAME, pg_catalog.to_jsonb(OLD) ->> TG_ARGV[0]
        USING ERRCODE = 'AT004';
    END IF;
    IF v <= OLD.hlc THEN
      v := public.atlas_hlc_pass(TG_TABLE_NAME, pg_catalog.to_jsonb(OLD) ->> TG_ARGV[0], OLD.hlc);
    END IF;
  END IF;
  NEW.base_hlc := OLD.hlc;
  NEW.base_origin := OLD.origin_region;
  NEW.hlc := v;
  NEW.origin_region := public.atlas_region_literal();
  IF NEW.tombstone = 'erased' THEN
    NEW := public.atlas_erased_blanks(NEW, TG_TABLE_NAME);
  END IF;
  RETURN NEW;
END $$;
