-- The studio's sessions and started sign-ins, in the database every node
-- shares, so that behind a load balancer a browser is signed in on every
-- node and a sign-in may come back to any of them. Neither holds a secret
-- in the clear: a session is known by the SHA-256 of its cookie, and an
-- admin token it was opened with is sealed with a key only that cookie
-- gives; a sign-in is known by the SHA-256 of its state, bound to the
-- SHA-256 of its browser's cookie, with the studio path to return to.
CREATE TABLE studio_sessions (
    session_hash {bytes} PRIMARY KEY, user_id TEXT REFERENCES users(id),
    sealed_token {bytes}, expires_at BIGINT NOT NULL);
CREATE INDEX studio_sessions_by_expiry ON studio_sessions (expires_at);
CREATE TABLE studio_sign_ins (
    state_hash {bytes} PRIMARY KEY, binding_hash {bytes} NOT NULL,
    return_to TEXT, expires_at BIGINT NOT NULL);
CREATE INDEX studio_sign_ins_by_expiry ON studio_sign_ins (expires_at);
