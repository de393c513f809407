-- Run by the runtime in keyset batches over the primary key, one short transaction each,
-- resumable; the predicate makes a second visit of a row harmless.
UPDATE users SET full_name = name WHERE full_name IS NULL;
