-- CONCURRENTLY builds the index without blocking writes (SHARE UPDATE EXCLUSIVE); the runtime
-- runs it outside a transaction and rebuilds it if an interrupted build left it INVALID.
CREATE INDEX CONCURRENTLY users_status_idx ON users (status);
