CREATE TABLE projects (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, created_at BIGINT NOT NULL);
CREATE TABLE environments (
    id TEXT PRIMARY KEY, project_id TEXT NOT NULL REFERENCES projects(id),
    name TEXT NOT NULL, default_stage TEXT NOT NULL,
    public_grants TEXT NOT NULL DEFAULT '[]', created_at BIGINT NOT NULL);
CREATE TABLE apps (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, client_id TEXT NOT NULL UNIQUE,
    client_secret_hash {bytes} NOT NULL, setup_url TEXT NOT NULL,
    origins TEXT NOT NULL, grants TEXT NOT NULL, created_at BIGINT NOT NULL);
CREATE TABLE installations (
    id TEXT PRIMARY KEY, app_id TEXT NOT NULL REFERENCES apps(id),
    environment_id TEXT NOT NULL REFERENCES environments(id),
    status TEXT NOT NULL, config TEXT NOT NULL,
    created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL);
CREATE TABLE setup_codes (
    code_hash {bytes} PRIMARY KEY, installation_id TEXT NOT NULL REFERENCES installations(id),
    app_id TEXT NOT NULL, expires_at BIGINT NOT NULL, used_at BIGINT);
CREATE TABLE tokens (
    token_id {bytes} PRIMARY KEY, secret_hash {bytes} NOT NULL, kind TEXT NOT NULL,
    name TEXT NOT NULL, project_id TEXT, environment_id TEXT, installation_id TEXT,
    principal TEXT, grants TEXT NOT NULL, expires_at BIGINT,
    revoked BOOLEAN NOT NULL DEFAULT FALSE, created_at BIGINT NOT NULL);
CREATE INDEX tokens_by_installation ON tokens(installation_id);
CREATE TABLE audit (
    seq {serial}, at BIGINT NOT NULL, actor TEXT NOT NULL,
    action TEXT NOT NULL, target TEXT NOT NULL, detail TEXT NOT NULL);
