-- Renaming users.name to users.full_name without downtime, in five steps:
--   1. expand (this file): add the new column; the old app keeps writing `name`.
--   2. deploy the transition app: it dual-writes `name` and `full_name`.
--   3. backfill: copy `name` into `full_name` for old rows (backfill.sql).
--   4. deploy the new app: it reads and writes only `full_name`.
--   5. contract: drop `name` once no running app uses it (contract.sql).
-- concertina:renames(users.name -> users.full_name)
ALTER TABLE users ADD COLUMN full_name varchar(255);

-- The new app no longer writes `name`: it must stop being required before the new app ships.
-- NOT NULL -> NULL rebuilds the table online (INPLACE, LOCK=NONE).
-- concertina:allow(mysql-online-rebuild): writes go on during the rebuild; the example's table is small (a large one would go through an online schema change tool)
ALTER TABLE users MODIFY name varchar(255) NULL;
