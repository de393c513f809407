-- A nullable column with a constant default: INSTANT on MariaDB 10.3+ (metadata only, no
-- rebuild). The runtime appends ALGORITHM=INSTANT, so a server that cannot do it refuses
-- instead of copying the table. The old app does not know the column and keeps working.
ALTER TABLE users ADD COLUMN status varchar(20) DEFAULT 'active';
