-- Cache invalidation for global rows: every change, local or applied by replication, is
-- announced on the channel atlas_global_changed as '<table>:<key>' when it commits. The
-- trigger is ALWAYS enabled, so it fires in the logical replication apply worker too (whose
-- search_path is empty: the function sets its own).
CREATE FUNCTION atlas_notify_global_change() RETURNS trigger
  LANGUAGE plpgsql SET search_path = public AS $$
DECLARE
  k text;
BEGIN
  IF TG_OP = 'DELETE' THEN
    k := to_jsonb(OLD) ->> TG_ARGV[0];
  ELSE
    k := to_jsonb(NEW) ->> TG_ARGV[0];
  END IF;
  PERFORM pg_notify('atlas_global_changed', TG_TABLE_NAME || ':' || k);
  RETURN NULL;
END $$;

CREATE TRIGGER atlas_notify_global_change AFTER INSERT OR UPDATE OR DELETE ON organization
  FOR EACH ROW EXECUTE FUNCTION atlas_notify_global_change('id');
CREATE TRIGGER atlas_notify_global_change AFTER INSERT OR UPDATE OR DELETE ON app_user
  FOR EACH ROW EXECUTE FUNCTION atlas_notify_global_change('id');
CREATE TRIGGER atlas_notify_global_change AFTER INSERT OR UPDATE OR DELETE ON user_preferences
  FOR EACH ROW EXECUTE FUNCTION atlas_notify_global_change('user_id');
CREATE TRIGGER atlas_notify_global_change AFTER INSERT OR UPDATE OR DELETE ON referential
  FOR EACH ROW EXECUTE FUNCTION atlas_notify_global_change('kind');

ALTER TABLE organization ENABLE ALWAYS TRIGGER atlas_notify_global_change;
ALTER TABLE app_user ENABLE ALWAYS TRIGGER atlas_notify_global_change;
ALTER TABLE user_preferences ENABLE ALWAYS TRIGGER atlas_notify_global_change;
ALTER TABLE referential ENABLE ALWAYS TRIGGER atlas_notify_global_change;
