-- Atlas foundation schema: the cluster's identity, the global (replicated) tables, the
-- regional (home-region only) tables with their residency guard, and operational tables.

-- The cluster's own region lives in a table the application role cannot write: a GUC
-- could be overridden by any session with SET, a row owned by the migrator cannot.
CREATE TABLE atlas_cluster (
  singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  region text NOT NULL,
  region_code text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE FUNCTION atlas_region() RETURNS text
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public
  AS $$ SELECT region FROM public.atlas_cluster $$;

CREATE FUNCTION atlas_region_code() RETURNS text
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public
  AS $$ SELECT region_code FROM public.atlas_cluster $$;

-- ---------------------------------------------------------------- global tables
-- Every global row carries its hybrid-logical-clock version (hlc), the region that wrote
-- it (origin_region) and a tombstone, so the replication conflict rule can order any two
-- images of a row. No unique index but the primary key: a duplicate business key would
-- stop a subscription, so business keys map to deterministic ids instead.

CREATE TABLE organization (
  id text PRIMARY KEY CHECK (id ~ '^org_[a-z0-9]{2,6}_[0-9a-z]{20}$'),
  name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  home_region text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  hlc bigint NOT NULL DEFAULT 0,
  origin_region text NOT NULL DEFAULT atlas_region(),
  tombstone text CHECK (tombstone IN ('deleted', 'erased'))
);

-- No plaintext personal data here (rule R3): the e-mail is a keyed hash (blind index).
CREATE TABLE app_user (
  id text PRIMARY KEY CHECK (id ~ '^usr_[0-9a-z]{26}$'),
  org_id text NOT NULL,
  role text NOT NULL CHECK (role IN ('admin', 'agent', 'viewer', 'dpo')),
  email_hash text NOT NULL CHECK (email_hash ~ '^[0-9a-f]{64}$'),
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  hlc bigint NOT NULL DEFAULT 0,
  origin_region text NOT NULL DEFAULT atlas_region(),
  tombstone text CHECK (tombstone IN ('deleted', 'erased'))
);
CREATE INDEX app_user_org_idx ON app_user (org_id);
CREATE INDEX app_user_email_hash_idx ON app_user (email_hash);

CREATE TABLE user_preferences (
  user_id text PRIMARY KEY,
  locale text NOT NULL DEFAULT 'en',
  timezone text NOT NULL DEFAULT 'UTC',
  theme text NOT NULL DEFAULT 'system' CHECK (theme IN ('light', 'dark', 'system')),
  preferred_region text,
  updated_at timestamptz NOT NULL DEFAULT now(),
  hlc bigint NOT NULL DEFAULT 0,
  origin_region text NOT NULL DEFAULT atlas_region(),
  tombstone text CHECK (tombstone IN ('deleted', 'erased'))
);

CREATE TABLE referential (
  id text PRIMARY KEY, -- kind || ':' || code
  kind text NOT NULL CHECK (kind ~ '^[a-z][a-z0-9_]{0,39}$'),
  code text NOT NULL CHECK (code ~ '^[A-Za-z0-9_.-]{1,64}$'),
  label text NOT NULL,
  sort_order integer NOT NULL DEFAULT 0,
  active boolean NOT NULL DEFAULT true,
  updated_at timestamptz NOT NULL DEFAULT now(),
  hlc bigint NOT NULL DEFAULT 0,
  origin_region text NOT NULL DEFAULT atlas_region(),
  tombstone text CHECK (tombstone IN ('deleted', 'erased')),
  CHECK (id = kind || ':' || code)
);
CREATE INDEX referential_kind_idx ON referential (kind, sort_order);

-- ---------------------------------------------------------------- regional tables
-- Rule R1: a regional row exists only in its home region's database. The API refuses
-- foreign organizations first (421); this trigger is the second line, for any writer.

CREATE FUNCTION atlas_guard_residency() RETURNS trigger
  LANGUAGE plpgsql SET search_path = public AS $$
BEGIN
  IF NEW.region IS DISTINCT FROM atlas_region() THEN
    RAISE EXCEPTION 'residency violation: % row for region % refused by region %',
      TG_TABLE_NAME, NEW.region, atlas_region()
      USING ERRCODE = 'AT001';
  END IF;
  IF split_part(NEW.org_id, '_', 2) IS DISTINCT FROM atlas_region_code() THEN
    RAISE EXCEPTION 'residency violation: % row of organization % refused by region %',
      TG_TABLE_NAME, NEW.org_id, atlas_region()
      USING ERRCODE = 'AT001';
  END IF;
  RETURN NEW;
END $$;

CREATE TABLE dossier (
  id uuid PRIMARY KEY DEFAULT uuidv7(),
  org_id text NOT NULL,
  region text NOT NULL DEFAULT atlas_region(),
  reference text,
  title text NOT NULL CHECK (length(title) BETWEEN 1 AND 300),
  description text,
  status text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'in_progress', 'won', 'lost', 'closed')),
  client_name text,
  client_email text,
  client_phone text,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX dossier_org_idx ON dossier (org_id, id DESC);

CREATE TABLE annonce (
  id uuid PRIMARY KEY DEFAULT uuidv7(),
  org_id text NOT NULL,
  region text NOT NULL DEFAULT atlas_region(),
  dossier_id uuid REFERENCES dossier (id) ON DELETE SET NULL,
  title text NOT NULL CHECK (length(title) BETWEEN 1 AND 300),
  description text,
  property_type text NOT NULL DEFAULT 'apartment',
  transaction_type text NOT NULL DEFAULT 'sale' CHECK (transaction_type IN ('sale', 'rent')),
  price numeric(14, 2) CHECK (price >= 0),
  currency char(3) NOT NULL DEFAULT 'EUR',
  surface_m2 numeric(10, 2) CHECK (surface_m2 > 0),
  rooms integer CHECK (rooms >= 0),
  city text,
  country char(2),
  status text NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'published', 'under_offer', 'sold', 'archived')),
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX annonce_org_idx ON annonce (org_id, id DESC);

CREATE TABLE document (
  id uuid PRIMARY KEY DEFAULT uuidv7(),
  org_id text NOT NULL,
  region text NOT NULL DEFAULT atlas_region(),
  dossier_id uuid REFERENCES dossier (id) ON DELETE SET NULL,
  filename text NOT NULL CHECK (length(filename) BETWEEN 1 AND 255),
  content_type text NOT NULL DEFAULT 'application/octet-stream',
  size_bytes bigint,
  sha256 text,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX document_org_idx ON document (org_id, id DESC);

CREATE TABLE activity (
  id uuid PRIMARY KEY DEFAULT uuidv7(),
  org_id text NOT NULL,
  region text NOT NULL DEFAULT atlas_region(),
  dossier_id uuid REFERENCES dossier (id) ON DELETE CASCADE,
  kind text NOT NULL CHECK (kind IN ('call', 'email', 'meeting', 'note', 'visit', 'task')),
  subject text NOT NULL CHECK (length(subject) BETWEEN 1 AND 300),
  body text,
  occurred_at timestamptz NOT NULL DEFAULT now(),
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX activity_org_idx ON activity (org_id, id DESC);

CREATE TABLE user_profile (
  user_id text PRIMARY KEY,
  org_id text NOT NULL,
  region text NOT NULL DEFAULT atlas_region(),
  email text NOT NULL,
  full_name text NOT NULL,
  phone text,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX user_profile_org_idx ON user_profile (org_id);

CREATE TABLE audit_event (
  id uuid PRIMARY KEY DEFAULT uuidv7(),
  org_id text NOT NULL,
  region text NOT NULL DEFAULT atlas_region(),
  actor text NOT NULL,
  action text NOT NULL,
  entity text NOT NULL,
  entity_id text,
  outcome text NOT NULL DEFAULT 'success',
  source_ip text,
  request_id text,
  at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX audit_event_org_idx ON audit_event (org_id, id DESC);

DO $$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['dossier', 'annonce', 'document', 'activity', 'user_profile', 'audit_event'] LOOP
    EXECUTE format('CREATE TRIGGER atlas_guard_residency BEFORE INSERT OR UPDATE ON %I
                    FOR EACH ROW EXECUTE FUNCTION atlas_guard_residency()', t);
  END LOOP;
END $$;

-- ---------------------------------------------------------------- operational tables

CREATE TABLE region_health (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  region text NOT NULL,
  status text NOT NULL,
  detail jsonb NOT NULL DEFAULT '{}',
  observed_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE failover_event (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  failover_id text NOT NULL,
  region text NOT NULL,
  step text NOT NULL,
  status text NOT NULL CHECK (status IN ('started', 'done', 'failed', 'not_run')),
  detail jsonb NOT NULL DEFAULT '{}',
  started_at timestamptz NOT NULL DEFAULT now(),
  finished_at timestamptz
);

CREATE TABLE replication_conflict (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  table_name text NOT NULL,
  row_id text NOT NULL,
  kind text NOT NULL,
  decision text NOT NULL,
  local_row jsonb,
  remote_row jsonb,
  local_hlc bigint,
  remote_hlc bigint,
  local_origin text,
  remote_origin text,
  detected_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE latency_sample (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  from_region text NOT NULL,
  to_region text NOT NULL,
  rtt_ms double precision NOT NULL CHECK (rtt_ms >= 0),
  source text NOT NULL DEFAULT 'probe' CHECK (source IN ('probe', 'client')),
  sampled_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX latency_sample_pair_idx ON latency_sample (from_region, to_region, sampled_at DESC);

-- ---------------------------------------------------------------- application role
-- The API connects as atlas_app: not the owner of any table, no BYPASSRLS, no DDL, and
-- audit_event is append-only for it.
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'atlas_app') THEN
    CREATE ROLE atlas_app LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS NOREPLICATION;
  END IF;
END $$;
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO atlas_app;
GRANT SELECT ON atlas_cluster TO atlas_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON organization, app_user, user_preferences, referential,
  dossier, annonce, document, activity, user_profile TO atlas_app;
GRANT SELECT, INSERT ON audit_event, region_health, failover_event, replication_conflict, latency_sample TO atlas_app;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO atlas_app;
