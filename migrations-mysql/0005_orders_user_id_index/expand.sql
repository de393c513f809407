-- The index a foreign key on orders.user_id needs, built online first.
ALTER TABLE orders ADD INDEX orders_user_id_idx (user_id);
