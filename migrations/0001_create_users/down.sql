-- Undoes expand: the tables are dropped before any app version that uses them ships.
DROP TABLE orders;
DROP TABLE users;
