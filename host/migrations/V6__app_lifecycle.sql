-- Client secret rotation: the secret a rotation replaced stays accepted
-- until its grace period ends (both NULL when there is none).
ALTER TABLE apps ADD COLUMN previous_secret_hash {bytes};
ALTER TABLE apps ADD COLUMN previous_secret_expires_at BIGINT;
-- A deleted app keeps its row (its uninstalled installations and the audit
-- name it) but is gone from every read: listings, lookups, the exchange.
ALTER TABLE apps ADD COLUMN deleted_at BIGINT;
