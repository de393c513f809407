-- Undoes expand, before contract and while every row still has a `name` (the transition app
-- writes both columns; roll back before the new app, which writes only `full_name`, ships).
-- concertina:allow(mysql-null-to-not-null): every row has a name while the transition app runs, and it writes name; the example's table is small
ALTER TABLE users MODIFY name varchar(255) NOT NULL;
ALTER TABLE users DROP COLUMN full_name;
