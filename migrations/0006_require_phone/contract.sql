-- ... and NOT NULL once every row and every writer has one. The runtime applies the
-- CHECK (phone IS NOT NULL) NOT VALID / VALIDATE / SET NOT NULL / DROP CHECK recipe.
ALTER TABLE users ALTER COLUMN phone SET NOT NULL;
