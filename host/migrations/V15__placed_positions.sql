-- Only placed changes are in the index of places. On PostgreSQL a change
-- is placed after it commits, by an UPDATE, and the version it replaces
-- left its NULL entry behind in this index until a vacuum: `max(pos)`,
-- read at every placing, walked backwards past all of them first (the
-- NULLs sort last). Changes waiting for a place are found through
-- `changes_unplaced`.
DROP INDEX changes_by_pos;
CREATE UNIQUE INDEX changes_by_pos ON changes (pos) WHERE pos IS NOT NULL;
