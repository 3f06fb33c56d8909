-- An app's grants are versioned: publishing new ones bumps the version.
ALTER TABLE apps ADD COLUMN grants_version BIGINT NOT NULL DEFAULT 1;
-- Each installation holds the grants its environment approved (what its
-- tokens get) and their version; a newer version of the app's is an update
-- requested, until approved or declined (the version declined).
ALTER TABLE installations ADD COLUMN grants TEXT NOT NULL DEFAULT '[]';
ALTER TABLE installations ADD COLUMN grants_version BIGINT NOT NULL DEFAULT 1;
ALTER TABLE installations ADD COLUMN declined_version BIGINT;
UPDATE installations SET grants = (SELECT a.grants FROM apps a WHERE a.id = installations.app_id);
