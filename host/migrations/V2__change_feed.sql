-- The change feed replicas follow: one row a token or environment change.
CREATE TABLE changes (
    seq {serial}, token_id {bytes}, environment_id TEXT);
INSERT INTO changes (token_id) SELECT token_id FROM tokens ORDER BY created_at;
INSERT INTO changes (environment_id) SELECT id FROM environments ORDER BY created_at;
