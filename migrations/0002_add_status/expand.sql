-- A nullable column with a constant default: since PostgreSQL 11 the default is kept in the
-- catalog, so existing rows are not rewritten; the ALTER holds its lock for milliseconds.
-- The old app does not know the column and keeps working.
ALTER TABLE users ADD COLUMN status varchar(20) DEFAULT 'active';
