-- No running app reads `name` any more.
ALTER TABLE users DROP COLUMN name;

-- Every row has a full_name (backfill) and every writer sets it (transition and new app).
-- On PostgreSQL 12+ the runtime runs this as CHECK NOT VALID, VALIDATE, SET NOT NULL, DROP CHECK:
-- no scan under ACCESS EXCLUSIVE.
ALTER TABLE users ALTER COLUMN full_name SET NOT NULL;
