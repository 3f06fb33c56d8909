-- The content models an environment registers (names, owner field,
-- sensitive fields), as JSON like its public grants: verifiers get them in
-- the environment's record. Environments made before have none.
ALTER TABLE environments ADD COLUMN models TEXT NOT NULL DEFAULT '[]';
