-- Data-subject requests find a subject by e-mail however it was typed where it is stored:
-- case and surrounding white space do not make a different person. One definition of
-- "the same address", used by the privacy lookup (findSubjectRows), with an index so that
-- finding a subject's dossiers does not read every dossier of the organization.

CREATE FUNCTION atlas_normalize_email(e text) RETURNS text
  LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT SET search_path = public
  AS $$ SELECT lower(btrim(e, E' \t\r\n\f\v')) $$;

CREATE INDEX dossier_client_email_norm_idx ON dossier (org_id, atlas_normalize_email(client_email))
  WHERE client_email IS NOT NULL;
CREATE INDEX user_profile_email_norm_idx ON user_profile (org_id, atlas_normalize_email(email));

GRANT EXECUTE ON FUNCTION atlas_normalize_email(text) TO atlas_app;
