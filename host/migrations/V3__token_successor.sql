-- The successor of a rotated token: a token is rotated once.
ALTER TABLE tokens ADD COLUMN replaced_by {bytes};
