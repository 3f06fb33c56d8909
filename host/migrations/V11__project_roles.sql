-- An app belongs to the project it was registered in: who may change it is
-- decided by their role there. NULL for an app registered on the whole
-- instance (and for every app made before apps had a project): only people
-- with a role on every project change those.
ALTER TABLE apps ADD COLUMN project_id TEXT;
-- An invitation: the role a person gets, in a project or on every project
-- ('*'), when they sign in with this verified email (stored lowercased).
CREATE TABLE invitations (
    id TEXT PRIMARY KEY, email TEXT NOT NULL, project_id TEXT NOT NULL,
    role TEXT NOT NULL, invited_by TEXT NOT NULL, created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL, accepted_by TEXT, accepted_at BIGINT,
    revoked_at BIGINT);
CREATE INDEX invitations_by_email ON invitations (email);
