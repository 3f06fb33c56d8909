-- A change's place in the feed, apart from its insertion number `seq`. On
-- PostgreSQL `seq` is taken when a row is inserted and transactions commit
-- in any order, so a row is placed once it is committed, by whoever reads
-- the feed next (storage/postgres.rs: `PgDb::place_changes`); on SQLite,
-- with one writer, the writing transaction places its rows at their `seq`.
ALTER TABLE changes ADD COLUMN pos BIGINT;
UPDATE changes SET pos = seq;
CREATE UNIQUE INDEX changes_by_pos ON changes (pos);
CREATE INDEX changes_unplaced ON changes (seq) WHERE pos IS NULL;
