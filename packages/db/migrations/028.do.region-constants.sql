-- atlas_region() and atlas_region_code() become compiled constants, like atlas_region_literal().
--
-- Both read atlas_cluster: a SQL function, SECURITY DEFINER with its own search_path, that runs
-- a query. Every write calls them: the origin_region default of each global table, and the
-- region default and the residency guard (rule R1, three calls) of each regional table. A
-- profile of the replication bench's writers (perf, 8 sessions) put the global tables'
-- default alone at about 5 % of the backends' CPU, some 35 µs per call.
--
-- The region is a constant of the database: atlas_compile_constants() (migration 026) now
-- compiles both functions from atlas_cluster, as it does atlas_region_literal(), whenever
-- atlas_cluster changes. They run as the caller (nothing to read any more) and the planner
-- inlines them. The region stays where the application role cannot change it: in a row and
-- in functions owned by the migrator. Before the region is recorded both return NULL, as the
-- query over an empty atlas_cluster did.
CREATE OR REPLACE FUNCTION atlas_compile_constants() RETURNS void
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
DECLARE
  here text;
  here_code text;
  shift bigint := coalesce((SELECT offset_ms FROM public.atlas_hlc_state), 0);
BEGIN
  SELECT region, region_code INTO here, here_code FROM public.atlas_cluster;
  EXECUTE format('CREATE OR REPLACE FUNCTION public.atlas_region_literal() RETURNS text LANGUAGE sql IMMUTABLE AS %L',
                 format('SELECT %L::text', here));
  EXECUTE format('CREATE OR REPLACE FUNCTION public.atlas_region() RETURNS text LANGUAGE sql STABLE AS %L',
                 format('SELECT %L::text', here));
  EXECUTE format('CREATE OR REPLACE FUNCTION public.atlas_region_code() RETURNS text LANGUAGE sql STABLE AS %L',
                 format('SELECT %L::text', here_code));
  -- The clock's wall time (ms << 16), this region's offset applied.
  EXECUTE format('CREATE OR REPLACE FUNCTION public.atlas_hlc_wall() RETURNS bigint LANGUAGE sql VOLATILE AS %L',
                 format('SELECT (floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint + %s::bigint) << 16', shift));
END $$;
REVOKE ALL ON FUNCTION atlas_compile_constants() FROM PUBLIC;

SELECT atlas_compile_constants();
