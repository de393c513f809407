-- VALIDATE scans the old rows under SHARE UPDATE EXCLUSIVE on orders and ROW SHARE on users:
-- the app reads and writes both tables meanwhile.
ALTER TABLE orders VALIDATE CONSTRAINT orders_user_id_fkey;
