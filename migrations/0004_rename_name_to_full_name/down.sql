-- Undoes expand, before contract and while every row still has a `name` (the transition app
-- writes both columns; roll back before the new app, which writes only `full_name`, ships).
ALTER TABLE users ALTER COLUMN name SET NOT NULL;
ALTER TABLE users DROP COLUMN full_name;
