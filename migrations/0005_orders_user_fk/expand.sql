-- A foreign key NOT VALID: enforced for new writes at once, old rows are not scanned, so the
-- SHARE ROW EXCLUSIVE lock on both tables lasts milliseconds.
-- concertina:allow(compat-constraint-in-expand): the old app only inserts orders of existing users
ALTER TABLE orders ADD CONSTRAINT orders_user_id_fkey
    FOREIGN KEY (user_id) REFERENCES users (id) NOT VALID;

-- Queries joining orders to users, and the FK's checks on user deletes, need this index.
CREATE INDEX CONCURRENTLY orders_user_id_idx ON orders (user_id);
