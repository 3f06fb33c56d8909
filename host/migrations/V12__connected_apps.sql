-- Connected apps: an app may also be a third-party OAuth client whose
-- redirect URIs are listed here (JSON; NULL: it is not one).
ALTER TABLE apps ADD COLUMN redirect_uris TEXT;
-- A person's consent to an app, in one environment, with the grants they
-- allowed: one authorization and the tokens that come from it. Revoked, it
-- and every token of it end. token_id is its live access token.
CREATE TABLE oauth_connections (
    id TEXT PRIMARY KEY, app_id TEXT NOT NULL, user_id TEXT NOT NULL,
    environment_id TEXT NOT NULL, grants TEXT NOT NULL, created_at BIGINT NOT NULL,
    revoked_at BIGINT, token_id {bytes});
CREATE INDEX oauth_connections_by_user ON oauth_connections (user_id);
-- Authorization codes, by hash: one use, a minute or so, bound to their
-- redirect URI and PKCE challenge.
CREATE TABLE oauth_codes (
    code_hash {bytes} PRIMARY KEY, connection_id TEXT NOT NULL,
    redirect_uri TEXT NOT NULL, code_challenge TEXT NOT NULL,
    expires_at BIGINT NOT NULL, used_at BIGINT);
-- Refresh tokens, by hash: each used once; a second use ends the
-- connection (reuse detection).
CREATE TABLE oauth_refresh_tokens (
    token_hash {bytes} PRIMARY KEY, connection_id TEXT NOT NULL,
    created_at BIGINT NOT NULL, expires_at BIGINT NOT NULL, used_at BIGINT);
