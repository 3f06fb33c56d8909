-- People: a user is created at their first sign-in with OpenID Connect,
-- known by their provider's issuer and subject.
CREATE TABLE users (
    id TEXT PRIMARY KEY, issuer TEXT NOT NULL, subject TEXT NOT NULL,
    email TEXT, name TEXT, created_at BIGINT NOT NULL,
    UNIQUE (issuer, subject));
-- A user's role in a project; project '*' stands for every project.
CREATE TABLE user_roles (
    user_id TEXT NOT NULL REFERENCES users(id), project_id TEXT NOT NULL,
    role TEXT NOT NULL, PRIMARY KEY (user_id, project_id));
-- The one-time code that makes the first user the owner, by hash.
CREATE TABLE claim_codes (
    code_hash {bytes} PRIMARY KEY, created_at BIGINT NOT NULL, used_at BIGINT);
