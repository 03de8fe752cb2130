-- Cache invalidation through logical decoding instead of NOTIFY (issue 3).
--
-- pg_notify takes PostgreSQL's global notify-queue lock from pre-commit until the commit's
-- WAL flush, so with the 010 trigger every write to a global table committed one at a time.
-- The API now reads the WAL instead: a temporary pgoutput slot on the publication below,
-- opened over a replication connection by a dedicated role. The stream carries every
-- committed change in commit order, local or applied by the subscription apply worker
-- (pgoutput's default origin is 'any'), and costs a committing transaction nothing.
DROP TRIGGER atlas_notify_global_change ON organization;
DROP TRIGGER atlas_notify_global_change ON app_user;
DROP TRIGGER atlas_notify_global_change ON user_preferences;
DROP TRIGGER atlas_notify_global_change ON referential;
DROP FUNCTION atlas_notify_global_change();

-- Exactly the tables lib/cache.ts caches (keys: organization.id, app_user.id,
-- user_preferences.user_id, referential.kind). Truncate too: the API clears its cache on one.
-- Separate from atlas_global (the inter-region publication, which excludes truncate).
CREATE PUBLICATION atlas_cache FOR TABLE organization, app_user, user_preferences, referential
  WITH (publish = 'insert, update, delete, truncate');

-- The stream's role. Not atlas_app: a role that may replicate can decode EVERY table of the
-- database (test_decoding ships with PostgreSQL), regional personal data included, whatever
-- its grants; the API's query role must stay unable to. This role gets no table privilege
-- and only ever opens replication connections (listener in packages/api/src/lib/change-listener.ts).
-- Its password is set outside migrations, from secrets (packages/db/src/bootstrap.ts locally;
-- Secrets Manager in AWS), like atlas_app's.
--
-- RDS: the master user cannot give the REPLICATION attribute; replication there is the
-- membership of rds_replication (with rds.logical_replication = 1, set by
-- infra/components/rds.component.ts). The block below picks that form when the rds_replication
-- role exists, so the same migration runs on both.
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'atlas_cache_stream') THEN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'rds_replication') THEN
      CREATE ROLE atlas_cache_stream LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS;
      GRANT rds_replication TO atlas_cache_stream;
    ELSE
      CREATE ROLE atlas_cache_stream LOGIN REPLICATION NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS;
    END IF;
  END IF;
END $$;
