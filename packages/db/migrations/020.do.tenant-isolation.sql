-- Tenant isolation in the database itself: row-level security, FORCED, on every table that
-- holds one organization's rows. The API sets the tenant per TRANSACTION
-- (set_config('atlas.org_id', <org>, true)), never per session, so a pooled connection
-- never carries one request's tenant into the next. No tenant set, or another one: no rows.
--
-- Who is not affected: superusers (migrations, the replication apply worker, which runs as
-- the subscription owner, anti-entropy and operator tools connect as postgres) bypass RLS;
-- the cache-invalidation listener only LISTENs. `organization` and `referential` carry no
-- tenant data (ids, names, home regions; reference data) and stay readable to route requests.

CREATE FUNCTION atlas_tenant() RETURNS text
  LANGUAGE sql STABLE PARALLEL SAFE
  AS $$ SELECT nullif(current_setting('atlas.org_id', true), '') $$;

DO $$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['dossier', 'annonce', 'document', 'activity', 'user_profile', 'app_user'] LOOP
    EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
    EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
    EXECUTE format('CREATE POLICY atlas_tenant_isolation ON %I USING (org_id = atlas_tenant()) WITH CHECK (org_id = atlas_tenant())', t);
  END LOOP;
END $$;

-- Append-only for the API: it may read and add its tenant's events, nothing else (no
-- UPDATE/DELETE grant either).
ALTER TABLE audit_event ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_event FORCE ROW LEVEL SECURITY;
CREATE POLICY atlas_tenant_read ON audit_event FOR SELECT USING (org_id = atlas_tenant());
CREATE POLICY atlas_tenant_append ON audit_event FOR INSERT WITH CHECK (org_id = atlas_tenant());

-- Preferences are keyed by user: visible only through a user of the tenant.
ALTER TABLE user_preferences ENABLE ROW LEVEL SECURITY;
ALTER TABLE user_preferences FORCE ROW LEVEL SECURITY;
CREATE POLICY atlas_tenant_isolation ON user_preferences
  USING (EXISTS (SELECT 1 FROM app_user u WHERE u.id = user_preferences.user_id AND u.org_id = atlas_tenant()))
  WITH CHECK (EXISTS (SELECT 1 FROM app_user u WHERE u.id = user_preferences.user_id AND u.org_id = atlas_tenant()));
