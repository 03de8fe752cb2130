-- Data-subject requests (GDPR art. 15-20), the erasure ledger and processing restriction.
-- All of it is regional (the organization's home region), tenant-isolated and guarded like
-- the other regional tables.

CREATE TABLE privacy_request (
  id uuid PRIMARY KEY DEFAULT uuidv7(),
  org_id text NOT NULL,
  region text NOT NULL DEFAULT atlas_region(),
  type text NOT NULL CHECK (type IN ('access', 'portability', 'rectification', 'erasure', 'restriction')),
  -- Pseudonymous: the keyed hash of the subject's e-mail, never the address itself.
  subject_ref text NOT NULL,
  subject_user_id text,
  status text NOT NULL DEFAULT 'received' CHECK (status IN ('received', 'processing', 'completed', 'rejected', 'failed')),
  requested_by text NOT NULL,
  received_at timestamptz NOT NULL DEFAULT now(),
  -- Art. 12(3): one month from receipt.
  due_at timestamptz NOT NULL DEFAULT (now() + interval '1 month'),
  completed_at timestamptz,
  -- Counts and ids only; an access/portability export lives in export (personal data, home
  -- region only, cleared by a later erasure of the same subject and by retention).
  result jsonb NOT NULL DEFAULT '{}',
  export jsonb
);
CREATE INDEX privacy_request_org_idx ON privacy_request (org_id, id DESC);

-- What an erasure removed, by pseudonymous ids only, so that a restore from a backup taken
-- before it can be followed by a replay that erases the subject again. Append-only.
CREATE TABLE erasure_ledger (
  id uuid PRIMARY KEY DEFAULT uuidv7(),
  org_id text NOT NULL,
  region text NOT NULL DEFAULT atlas_region(),
  request_id uuid,
  subject_ref text NOT NULL,
  user_ids text[] NOT NULL DEFAULT '{}',
  dossier_ids uuid[] NOT NULL DEFAULT '{}',
  activity_ids uuid[] NOT NULL DEFAULT '{}',
  document_ids uuid[] NOT NULL DEFAULT '{}',
  erased_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX erasure_ledger_org_idx ON erasure_ledger (org_id, erased_at);

DO $$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['privacy_request', 'erasure_ledger'] LOOP
    EXECUTE format('CREATE TRIGGER atlas_guard_residency BEFORE INSERT OR UPDATE ON %I
                    FOR EACH ROW EXECUTE FUNCTION atlas_guard_residency()', t);
    EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
    EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
  END LOOP;
END $$;
CREATE POLICY atlas_tenant_isolation ON privacy_request USING (org_id = atlas_tenant()) WITH CHECK (org_id = atlas_tenant());
CREATE POLICY atlas_tenant_read ON erasure_ledger FOR SELECT USING (org_id = atlas_tenant());
CREATE POLICY atlas_tenant_append ON erasure_ledger FOR INSERT WITH CHECK (org_id = atlas_tenant());

GRANT SELECT, INSERT, UPDATE ON privacy_request TO atlas_app;
GRANT SELECT, INSERT ON erasure_ledger TO atlas_app;

-- ---------------------------------------------------------------- restriction (art. 18)
-- A restricted record may be read, exported, erased or have its restriction lifted, but
-- not changed: any other UPDATE or DELETE is refused with AT002 (the API answers 423).
ALTER TABLE dossier ADD COLUMN restricted_at timestamptz;
ALTER TABLE activity ADD COLUMN restricted_at timestamptz;
ALTER TABLE document ADD COLUMN restricted_at timestamptz;
ALTER TABLE user_profile ADD COLUMN restricted_at timestamptz;

CREATE FUNCTION atlas_guard_restriction() RETURNS trigger
  LANGUAGE plpgsql SET search_path = public AS $$
BEGIN
  IF OLD.restricted_at IS NULL THEN
    RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
  END IF;
  -- Lifting the restriction (the privacy workflow does it, e.g. before an erasure).
  IF TG_OP = 'UPDATE' AND NEW.restricted_at IS NULL THEN
    RETURN NEW;
  END IF;
  RAISE EXCEPTION 'processing of this % is restricted at the data subject''s request (GDPR art. 18)', TG_TABLE_NAME
    USING ERRCODE = 'AT002';
END $$;

DO $$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['dossier', 'activity', 'document', 'user_profile'] LOOP
    EXECUTE format('CREATE TRIGGER atlas_guard_restriction BEFORE UPDATE OR DELETE ON %I
                    FOR EACH ROW EXECUTE FUNCTION atlas_guard_restriction()', t);
  END LOOP;
END $$;
