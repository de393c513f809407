-- Orders get a status; old orders are marked in batches by the backfill.
ALTER TABLE orders ADD COLUMN status varchar(20);
ALTER TABLE orders ALTER COLUMN status SET DEFAULT 'placed';
