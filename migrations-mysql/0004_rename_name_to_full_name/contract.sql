-- No running app reads `name` any more: INSTANT DROP COLUMN on MariaDB 10.4+.
ALTER TABLE users DROP COLUMN name;
