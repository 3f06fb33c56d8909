-- Webhooks to an app's backend: where they go, and which version of the
-- app's signing secret signs them (the secret itself is derived from the
-- deployment's webhook key, never stored).
ALTER TABLE apps ADD COLUMN webhook_url TEXT;
ALTER TABLE apps ADD COLUMN webhook_secret_version BIGINT NOT NULL DEFAULT 1;
-- The outbox: one row an event, written in the transaction of the change
-- that causes it, delivered at least once by any node's worker. Times the
-- worker sets are unix milliseconds.
-- `seq` is the audit entry's: deliveries in the order of their changes.
CREATE TABLE webhook_deliveries (
    id TEXT PRIMARY KEY, seq BIGINT NOT NULL, app_id TEXT NOT NULL, event_type TEXT NOT NULL,
    payload TEXT NOT NULL, created_at BIGINT NOT NULL, status TEXT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0, next_attempt_ms BIGINT NOT NULL DEFAULT 0,
    give_up_ms BIGINT, claimed_until_ms BIGINT, last_status BIGINT,
    last_error TEXT, delivered_ms BIGINT);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries(status, next_attempt_ms);
CREATE INDEX webhook_deliveries_by_app ON webhook_deliveries(app_id, seq);
