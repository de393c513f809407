-- A secondary index builds online: the runtime appends ALGORITHM=INPLACE LOCK=NONE, so reads
-- and writes go on while it builds.
CREATE INDEX users_status_idx ON users (status);
