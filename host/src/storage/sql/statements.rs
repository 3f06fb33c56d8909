//! Every statement, once for both databases (see the module above).

/// The columns of a token row, in `rows::token_from`'s order.
macro_rules! token_columns {
    ($t:literal) => {
        concat!(
            $t,
            "token_id, ",
            $t,
            "secret_hash, ",
            $t,
            "kind, ",
            $t,
            "name, ",
            $t,
            "project_id, ",
            $t,
            "environment_id, ",
            $t,
            "installation_id, ",
            $t,
            "principal, ",
            $t,
            "grants, ",
            $t,
            "expires_at, ",
            $t,
            "revoked, ",
            $t,
            "created_at, ",
            $t,
            "user_id"
        )
    };
}
/// How many columns [`token_columns`] names.
pub(super) const TOKEN_WIDTH: usize = 13;

/// How many columns `environment_columns!` names.
pub(super) const ENVIRONMENT_WIDTH: usize = 7;

/// The columns of an environment row, in `rows::environment_from`'s order.
macro_rules! environment_columns {
    ($t:literal) => {
        concat!(
            $t,
            "id, ",
            $t,
            "project_id, ",
            $t,
            "name, ",
            $t,
            "default_stage, ",
            $t,
            "public_grants, ",
            $t,
            "created_at, ",
            $t,
            "models"
        )
    };
}

/// The columns of an app row, in `rows::app_from`'s order.
macro_rules! app_columns {
    () => {
        "id, name, client_id, client_secret_hash, setup_url, origins, grants, created_at, url, \
         previous_secret_hash, previous_secret_expires_at, webhook_url, webhook_secret_version, \
         project_id, redirect_uris, elements"
    };
}

/// The columns of an installation row and its app's newest grants, in
/// `rows::installation_from`'s order (`FROM installations i JOIN apps a`).
macro_rules! installation_columns {
    () => {
        "i.id, i.app_id, i.environment_id, i.status, i.config, i.grants, i.grants_version, \
         i.declined_version, a.grants, a.grants_version, i.disabled_elements"
    };
}

pub(super) const COUNT_TOKENS: &str = "SELECT count(*) FROM tokens";
pub(super) const TOKEN_BY_ID: &str = concat!(
    "SELECT ",
    token_columns!(""),
    " FROM tokens WHERE token_id = $1"
);
pub(super) const TOKENS_NEWEST_FIRST: &str = concat!(
    "SELECT ",
    token_columns!(""),
    " FROM tokens ORDER BY created_at DESC, token_id"
);
/// Tokens after the id `$1` in id order, at most `$2` (the empty id is
/// before every other).
pub(super) const TOKENS_AFTER_ID: &str = concat!(
    "SELECT ",
    token_columns!(""),
    " FROM tokens WHERE token_id > $1 ORDER BY token_id LIMIT $2"
);
pub(super) const INSERT_TOKEN: &str = concat!(
    "INSERT INTO tokens (",
    token_columns!(""),
    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
);
pub(super) const REVOKE_TOKEN: &str = "UPDATE tokens SET revoked = TRUE WHERE token_id = $1";
pub(super) const REVOKE_INSTALLATION_TOKENS: &str =
    "UPDATE tokens SET revoked = TRUE WHERE installation_id = $1";
pub(super) const ROTATE_NOW: &str = "UPDATE tokens SET revoked = TRUE, replaced_by = $2 \
     WHERE token_id = $1 AND NOT revoked AND replaced_by IS NULL";
pub(super) const ROTATE_WITH_GRACE: &str = "UPDATE tokens SET expires_at = \
     CASE WHEN expires_at IS NOT NULL AND expires_at < $2 THEN expires_at ELSE $2 END, \
     replaced_by = $3 WHERE token_id = $1 AND NOT revoked AND replaced_by IS NULL";
pub(super) const ROTATED_BEFORE: &str =
    "SELECT count(*) FROM tokens WHERE token_id = $1 AND replaced_by IS NOT NULL";

pub(super) const ENVIRONMENT_BY_ID: &str = concat!(
    "SELECT ",
    environment_columns!(""),
    " FROM environments WHERE id = $1"
);
pub(super) const ENVIRONMENTS_OLDEST_FIRST: &str = concat!(
    "SELECT ",
    environment_columns!(""),
    " FROM environments ORDER BY created_at, id"
);
pub(super) const INSERT_ENVIRONMENT: &str = concat!(
    "INSERT INTO environments (",
    environment_columns!(""),
    ") VALUES ($1, $2, $3, $4, $5, $6, $7)"
);
pub(super) const SET_PUBLIC_GRANTS: &str =
    "UPDATE environments SET public_grants = $2 WHERE id = $1";
/// An environment's models, its row locked until the transaction ends (the
/// registry is read, changed and written back).
pub(super) const MODELS_FOR_UPDATE: &str =
    "SELECT models FROM environments WHERE id = $1 FOR UPDATE";
pub(super) const SET_MODELS: &str = "UPDATE environments SET models = $2 WHERE id = $1";

pub(super) const PROJECT_BY_ID: &str = "SELECT id, name, created_at FROM projects WHERE id = $1";
pub(super) const PROJECTS_OLDEST_FIRST: &str =
    "SELECT id, name, created_at FROM projects ORDER BY created_at, id";
pub(super) const INSERT_PROJECT: &str =
    "INSERT INTO projects (id, name, created_at) VALUES ($1, $2, $3)";

// A deleted app is gone from every read.
pub(super) const APP_BY_ID: &str = concat!(
    "SELECT ",
    app_columns!(),
    " FROM apps WHERE id = $1 AND deleted_at IS NULL"
);
/// An app, its row locked until the transaction ends (it is read, changed
/// and written back, or deleted).
pub(super) const APP_FOR_UPDATE: &str = concat!(
    "SELECT ",
    app_columns!(),
    " FROM apps WHERE id = $1 AND deleted_at IS NULL FOR UPDATE"
);
pub(super) const APP_BY_CLIENT_ID: &str = concat!(
    "SELECT ",
    app_columns!(),
    " FROM apps WHERE client_id = $1 AND deleted_at IS NULL"
);
pub(super) const APPS_OLDEST_FIRST: &str = concat!(
    "SELECT ",
    app_columns!(),
    " FROM apps WHERE deleted_at IS NULL ORDER BY created_at, id"
);
pub(super) const INSERT_APP: &str = concat!(
    "INSERT INTO apps (",
    app_columns!(),
    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)"
);
/// An app's changeable columns, its parameters numbered as
/// [`INSERT_APP`]'s; what never changes (client id, creation time) must
/// match (its project is written back as it was read).
pub(super) const UPDATE_APP: &str = "UPDATE apps SET name = $2, client_secret_hash = $4, \
     setup_url = $5, origins = $6, grants = $7, url = $9, previous_secret_hash = $10, \
     previous_secret_expires_at = $11, webhook_url = $12, webhook_secret_version = $13, \
     project_id = $14, redirect_uris = $15, \
     elements = $16 WHERE id = $1 AND client_id = $3 AND created_at = $8 AND deleted_at IS NULL";
pub(super) const DELETE_APP: &str =
    "UPDATE apps SET deleted_at = $2 WHERE id = $1 AND deleted_at IS NULL";
/// The installations that keep an app from being deleted.
pub(super) const LIVE_INSTALLATIONS_OF_APP: &str = "SELECT id FROM installations \
     WHERE app_id = $1 AND status <> 'UNINSTALLED' ORDER BY created_at, id";

pub(super) const INSTALLATION_BY_ID: &str = concat!(
    "SELECT ",
    installation_columns!(),
    " FROM installations i JOIN apps a ON a.id = i.app_id WHERE i.id = $1"
);
pub(super) const INSTALLATIONS_OLDEST_FIRST: &str = concat!(
    "SELECT ",
    installation_columns!(),
    " FROM installations i JOIN apps a ON a.id = i.app_id ORDER BY i.created_at, i.id"
);
/// Approves the app's grants as they are (its row is locked by then).
pub(super) const INSERT_INSTALLATION: &str = "INSERT INTO installations \
     (id, app_id, environment_id, status, config, created_at, updated_at, grants, grants_version) \
     SELECT $1, $2, $3, $4, $5, $6, $6, a.grants, a.grants_version FROM apps a WHERE a.id = $2";
/// An installation's approved grants and version and its app's newest,
/// both rows locked until the transaction ends.
pub(super) const INSTALLATION_GRANTS_FOR_UPDATE: &str = "SELECT i.grants, i.grants_version, \
     a.grants, a.grants_version, i.status FROM installations i JOIN apps a ON a.id = i.app_id \
     WHERE i.id = $1 FOR UPDATE";
/// The live installations of an app, for a publication, locked.
pub(super) const LIVE_INSTALLATION_GRANTS: &str = "SELECT id, grants FROM installations \
     WHERE app_id = $1 AND status <> 'UNINSTALLED' ORDER BY created_at, id FOR UPDATE";
pub(super) const SET_INSTALLATION_GRANTS: &str = "UPDATE installations SET grants = $2, \
     grants_version = $3, declined_version = NULL, updated_at = $4 WHERE id = $1";
pub(super) const DECLINE_GRANTS: &str =
    "UPDATE installations SET declined_version = $2, updated_at = $3 WHERE id = $1";
pub(super) const PUBLISH_APP_GRANTS: &str =
    "UPDATE apps SET grants = $2, grants_version = grants_version + 1 WHERE id = $1";
pub(super) const APP_GRANTS_VERSION: &str = "SELECT grants_version FROM apps WHERE id = $1";
/// The grants an installation's tokens get, the row locked (an approval
/// waits for the token, or the token for the approval).
pub(super) const INSTALLATION_TOKEN_GRANTS: &str =
    "SELECT grants FROM installations WHERE id = $1 FOR UPDATE";
/// Moves an installation's live tokens to new grants (not those acting for
/// a person, which [`REVOKE_USER_TOKENS`] ends).
pub(super) const MOVE_TOKEN_GRANTS: &str = "UPDATE tokens SET grants = $2 \
     WHERE installation_id = $1 AND NOT revoked \
     AND (principal IS NULL OR substr(principal, 1, 5) <> 'user:')";
pub(super) const REVOKE_USER_TOKENS: &str = "UPDATE tokens SET revoked = TRUE \
     WHERE installation_id = $1 AND NOT revoked AND substr(principal, 1, 5) = 'user:'";
pub(super) const LIVE_INSTALLATION_TOKENS_CHANGED: &str = "INSERT INTO changes (token_id) \
     SELECT token_id FROM tokens WHERE installation_id = $1 AND NOT revoked ORDER BY created_at";
/// Writes only over the status the change was decided on (`$5`).
pub(super) const UPDATE_INSTALLATION: &str = "UPDATE installations SET status = $2, \
     config = $3, updated_at = $4 WHERE id = $1 AND status = $5";
pub(super) const INSTALLATION_EXISTS: &str = "SELECT count(*) FROM installations WHERE id = $1";

pub(super) const INSERT_CODE: &str = "INSERT INTO setup_codes (code_hash, installation_id, app_id, expires_at) \
     VALUES ($1, $2, $3, $4)";
/// Columns of `installation_columns!`.
pub(super) const INSTALLATION_WIDTH: usize = 11;
/// A setup code's installation (`installation_columns!`), its environment
/// (`environment_columns!`, NULL if it has none), whatever their state, and
/// the code's app, expiry and use: what redeeming it reads. `FOR UPDATE`
/// (on PostgreSQL): a concurrent redeem of this code, on any node, waits
/// here and then sees it used; the installation's row is locked too, so a
/// status change waits for this redeem (or this redeem for it), its
/// exchanges run one at a time, and the grants its token gets are read
/// here, not again.
pub(super) const CODE_CONTEXT_FOR_REDEEM: &str = concat!(
    "SELECT ",
    installation_columns!(),
    ", ",
    environment_columns!("e."),
    ", c.app_id, c.expires_at, c.used_at",
    " FROM setup_codes c JOIN installations i ON i.id = c.installation_id \
     JOIN apps a ON a.id = i.app_id LEFT JOIN environments e ON e.id = i.environment_id \
     WHERE c.code_hash = $1 FOR UPDATE OF c, i"
);
/// The live APP tokens of a setup code's installation, oldest first (run
/// after [`CODE_CONTEXT_FOR_REDEEM`] took the installation's lock).
pub(super) const LIVE_APP_TOKENS_OF_CODE: &str = "SELECT t.token_id FROM tokens t \
     JOIN setup_codes c ON c.installation_id = t.installation_id \
     WHERE c.code_hash = $1 AND t.kind = 'APP' AND NOT t.revoked ORDER BY t.created_at";
pub(super) const SPEND_CODE: &str =
    "UPDATE setup_codes SET used_at = $2 WHERE code_hash = $1 AND used_at IS NULL";
pub(super) const SPEND_INSTALLATION_CODES: &str =
    "UPDATE setup_codes SET used_at = $2 WHERE installation_id = $1 AND used_at IS NULL";

pub(super) const INSERT_AUDIT: &str =
    "INSERT INTO audit (at, actor, action, target, detail) VALUES ($1, $2, $3, $4, $5)";
/// [`INSERT_AUDIT`], answering the entry's `seq` (an event's delivery id).
pub(super) const INSERT_AUDIT_SEQ: &str = "INSERT INTO audit (at, actor, action, target, detail) \
     VALUES ($1, $2, $3, $4, $5) RETURNING seq";

/// The columns of a delivery, in `rows::delivery_from`'s order.
macro_rules! delivery_columns {
    ($t:literal) => {
        concat!(
            $t,
            "id, ",
            $t,
            "app_id, ",
            $t,
            "event_type, ",
            $t,
            "payload, ",
            $t,
            "created_at, ",
            $t,
            "status, ",
            $t,
            "attempts, ",
            $t,
            "next_attempt_ms, ",
            $t,
            "give_up_ms, ",
            $t,
            "last_status, ",
            $t,
            "last_error, ",
            $t,
            "delivered_ms"
        )
    };
}
pub(super) const EVENT_INSTALLATION: &str =
    "SELECT app_id, environment_id FROM installations WHERE id = $1";
pub(super) const EVENT_TOKEN: &str = "SELECT t.kind, i.id, i.app_id, i.environment_id \
     FROM tokens t JOIN installations i ON i.id = t.installation_id WHERE t.token_id = $1";
/// An event into the outbox, if its app has a webhook URL.
pub(super) const ENQUEUE_DELIVERY: &str = "INSERT INTO webhook_deliveries \
     (id, app_id, event_type, payload, created_at, status, seq) \
     SELECT CAST($1 AS TEXT), a.id, CAST($3 AS TEXT), CAST($4 AS TEXT), CAST($5 AS BIGINT), \
     'pending', CAST($6 AS BIGINT) \
     FROM apps a WHERE a.id = $2 AND a.webhook_url IS NOT NULL AND a.deleted_at IS NULL";
pub(super) const DUE_DELIVERIES: &str = concat!(
    "SELECT ",
    delivery_columns!("d."),
    ", a.webhook_url, a.webhook_secret_version FROM webhook_deliveries d \
     JOIN apps a ON a.id = d.app_id WHERE d.status = 'pending' AND d.next_attempt_ms <= $1 \
     AND (d.claimed_until_ms IS NULL OR d.claimed_until_ms < $1) \
     ORDER BY d.next_attempt_ms, d.seq LIMIT $2"
);
/// Re-checked as it writes: of concurrent claims, one changes the row.
pub(super) const CLAIM_DELIVERY: &str = "UPDATE webhook_deliveries SET claimed_until_ms = $3 \
     WHERE id = $1 AND status = 'pending' AND next_attempt_ms <= $2 \
     AND (claimed_until_ms IS NULL OR claimed_until_ms < $2)";
pub(super) const RECORD_ATTEMPT: &str = "UPDATE webhook_deliveries SET status = $2, \
     attempts = attempts + 1, last_status = $3, last_error = $4, next_attempt_ms = $5, \
     delivered_ms = $6, give_up_ms = coalesce(give_up_ms, $7), claimed_until_ms = NULL \
     WHERE id = $1";
pub(super) const DELIVERIES_NEWEST_FIRST: &str = concat!(
    "SELECT ",
    delivery_columns!(""),
    " FROM webhook_deliveries WHERE app_id = $1 ORDER BY seq DESC LIMIT $2"
);
pub(super) const DELIVERY_OF_APP: &str = concat!(
    "SELECT ",
    delivery_columns!(""),
    " FROM webhook_deliveries WHERE app_id = $1 AND id = $2"
);
pub(super) const RETRY_DELIVERY: &str = "UPDATE webhook_deliveries SET status = 'pending', \
     next_attempt_ms = 0, give_up_ms = NULL, claimed_until_ms = NULL \
     WHERE app_id = $1 AND id = $2";
/// The filters: `$3` a prefix of the action, `$4` the actor, `$5` the
/// target, `$6` a person (`user:$6` itself, or `user:$6 via …` acting
/// through an app), each NULL for any.
pub(super) const AUDIT_MATCHING: &str = "SELECT seq, at, actor, action, target, detail FROM audit \
     WHERE seq > $1 \
     AND (CAST($3 AS TEXT) IS NULL OR substr(action, 1, length(CAST($3 AS TEXT))) = CAST($3 AS TEXT)) \
     AND (CAST($4 AS TEXT) IS NULL OR actor = CAST($4 AS TEXT)) \
     AND (CAST($5 AS TEXT) IS NULL OR target = CAST($5 AS TEXT)) \
     AND (CAST($6 AS TEXT) IS NULL OR actor = 'user:' || CAST($6 AS TEXT) \
          OR substr(actor, 1, length('user:' || CAST($6 AS TEXT) || ' via ')) \
             = 'user:' || CAST($6 AS TEXT) || ' via ') \
     ORDER BY seq LIMIT $2";

pub(super) const TOKEN_CHANGED: &str = "INSERT INTO changes (token_id) VALUES ($1)";
pub(super) const INSTALLATION_TOKENS_CHANGED: &str = "INSERT INTO changes (token_id) \
     SELECT token_id FROM tokens WHERE installation_id = $1 ORDER BY created_at";
pub(super) const ENVIRONMENT_CHANGED: &str = "INSERT INTO changes (environment_id) VALUES ($1)";
pub(super) const LAST_CHANGE: &str = "SELECT coalesce(max(pos), 0) FROM changes";
/// The placed changes after `$1`, in order, each with its row as it is
/// now: the token's columns from 2, the environment's from
/// `2 + TOKEN_WIDTH`.
pub(super) const CHANGES_AFTER: &str = concat!(
    "SELECT c.pos, c.token_id IS NOT NULL, ",
    token_columns!("t."),
    ", ",
    environment_columns!("e."),
    " FROM changes c \
     LEFT JOIN tokens t ON t.token_id = c.token_id \
     LEFT JOIN environments e ON e.id = c.environment_id \
     WHERE c.pos > $1 ORDER BY c.pos LIMIT $2"
);

/// What the placed changes after `$1` touched, in order, at most `$2`.
pub(super) const TOUCHED_AFTER: &str = "SELECT pos, token_id, environment_id FROM changes \
     WHERE pos > $1 ORDER BY pos LIMIT $2";
/// [`TOUCHED_AFTER`] and, with no `pos`, what the committed changes waiting
/// for their place touched (at most `$2` of each), in one round trip: for a
/// database whose writers place later (PostgreSQL; SQLite cannot order and
/// limit the parts of a compound select).
pub(super) const TOUCHED_AFTER_AND_UNPLACED: &str = "SELECT pos, token_id, environment_id FROM (\
     (SELECT pos, token_id, environment_id FROM changes WHERE pos > $1 ORDER BY pos LIMIT $2) \
     UNION ALL \
     (SELECT NULL, token_id, environment_id FROM changes WHERE pos IS NULL ORDER BY seq LIMIT $2)\
     ) touched ORDER BY pos NULLS LAST";

/// The columns of a user row, in `rows::user_from`'s order.
macro_rules! user_columns {
    () => {
        "id, issuer, subject, email, name, created_at"
    };
}
pub(super) const USER_BY_SUBJECT: &str = concat!(
    "SELECT ",
    user_columns!(),
    " FROM users WHERE issuer = $1 AND subject = $2 FOR UPDATE"
);
pub(super) const USER_BY_ID: &str =
    concat!("SELECT ", user_columns!(), " FROM users WHERE id = $1");
pub(super) const INSERT_USER: &str = concat!(
    "INSERT INTO users (",
    user_columns!(),
    ") VALUES ($1, $2, $3, $4, $5, $6)"
);
pub(super) const UPDATE_USER_PROFILE: &str = "UPDATE users SET email = $2, name = $3 WHERE id = $1";
pub(super) const USER_ROLES: &str =
    "SELECT project_id, role FROM user_roles WHERE user_id = $1 ORDER BY project_id";
pub(super) const OWNER_COUNT: &str =
    "SELECT count(*) FROM user_roles WHERE project_id = '*' AND role = 'owner'";
pub(super) const DROP_CLAIM_CODES: &str = "DELETE FROM claim_codes WHERE used_at IS NULL";
pub(super) const INSERT_CLAIM_CODE: &str =
    "INSERT INTO claim_codes (code_hash, created_at) VALUES ($1, $2)";
/// The claim code, locked: concurrent claims wait here.
pub(super) const CLAIM_CODE_FOR_UPDATE: &str =
    "SELECT used_at FROM claim_codes WHERE code_hash = $1 FOR UPDATE";
pub(super) const SPEND_CLAIM_CODE: &str =
    "UPDATE claim_codes SET used_at = $2 WHERE code_hash = $1 AND used_at IS NULL";
pub(super) const DROP_EXPIRED_SESSIONS: &str = "DELETE FROM studio_sessions WHERE expires_at <= $1";
pub(super) const INSERT_SESSION: &str = "INSERT INTO studio_sessions \
     (session_hash, user_id, sealed_token, expires_at) VALUES ($1, $2, $3, $4)";
pub(super) const SESSION: &str = "SELECT user_id, sealed_token, expires_at FROM studio_sessions \
     WHERE session_hash = $1 AND expires_at > $2";
pub(super) const DELETE_SESSION: &str = "DELETE FROM studio_sessions WHERE session_hash = $1";
pub(super) const DROP_EXPIRED_SIGN_INS: &str = "DELETE FROM studio_sign_ins WHERE expires_at <= $1";
/// Every sign-in but the newest `$1` (those that expire first go, and with
/// them any that expires in the same second as the first to go).
pub(super) const DROP_OLDEST_SIGN_INS: &str = "DELETE FROM studio_sign_ins WHERE expires_at <= \
     (SELECT expires_at FROM studio_sign_ins ORDER BY expires_at DESC LIMIT 1 OFFSET $1)";
pub(super) const INSERT_SIGN_IN: &str = "INSERT INTO studio_sign_ins (state_hash, binding_hash, return_to, expires_at) \
     VALUES ($1, $2, $3, $4)";
/// A started sign-in, taken out: whoever deletes it has it, once.
pub(super) const TAKE_SIGN_IN: &str = "DELETE FROM studio_sign_ins WHERE state_hash = $1 \
     RETURNING binding_hash, return_to, expires_at";
pub(super) const INSERT_ROLE: &str =
    "INSERT INTO user_roles (user_id, project_id, role) VALUES ($1, $2, $3)";
pub(super) const USERS_OLDEST_FIRST: &str = concat!(
    "SELECT ",
    user_columns!(),
    " FROM users ORDER BY created_at, id"
);
/// The columns of an invitation row, in `rows::invitation_from`'s order.
macro_rules! invitation_columns {
    () => {
        "id, email, project_id, role, invited_by, created_at, expires_at, accepted_by, \
         accepted_at, revoked_at"
    };
}
pub(super) const INSERT_INVITATION: &str = concat!(
    "INSERT INTO invitations (",
    invitation_columns!(),
    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
);
pub(super) const INVITATIONS_NEWEST_FIRST: &str = concat!(
    "SELECT ",
    invitation_columns!(),
    " FROM invitations ORDER BY created_at DESC, id"
);
pub(super) const INVITATION_BY_ID: &str = concat!(
    "SELECT ",
    invitation_columns!(),
    " FROM invitations WHERE id = $1"
);
pub(super) const OUTSTANDING_INVITATIONS: &str = concat!(
    "SELECT ",
    invitation_columns!(),
    " FROM invitations WHERE email = $1 AND accepted_at IS NULL AND revoked_at IS NULL \
     AND expires_at > $2 ORDER BY created_at, id"
);
/// Ends an invitation still outstanding at `$2` (as revoked).
pub(super) const REVOKE_INVITATION: &str = "UPDATE invitations SET revoked_at = $2 \
     WHERE id = $1 AND accepted_at IS NULL AND revoked_at IS NULL AND expires_at > $2";
/// Accepts an invitation still outstanding at `$3`; one row when it was.
pub(super) const ACCEPT_INVITATION: &str = "UPDATE invitations SET accepted_by = $2, \
     accepted_at = $3 WHERE id = $1 AND accepted_at IS NULL AND revoked_at IS NULL \
     AND expires_at > $3";
/// The owners of every project, locked (a change of roles waits).
pub(super) const OWNERS_FOR_UPDATE: &str =
    "SELECT user_id FROM user_roles WHERE project_id = '*' AND role = 'owner' FOR UPDATE";
pub(super) const DELETE_ROLE: &str =
    "DELETE FROM user_roles WHERE user_id = $1 AND project_id = $2";

/// The columns of a connection row, in `rows::connection_from`'s order.
macro_rules! connection_columns {
    () => {
        "id, app_id, user_id, environment_id, grants, created_at, revoked_at, token_id"
    };
}
pub(super) const INSERT_CONNECTION: &str = concat!(
    "INSERT INTO oauth_connections (",
    connection_columns!(),
    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
);
pub(super) const CONNECTION_BY_ID: &str = concat!(
    "SELECT ",
    connection_columns!(),
    " FROM oauth_connections WHERE id = $1"
);
/// A connection, locked: its tokens change one at a time.
pub(super) const CONNECTION_FOR_UPDATE: &str = concat!(
    "SELECT ",
    connection_columns!(),
    " FROM oauth_connections WHERE id = $1 FOR UPDATE"
);
pub(super) const CONNECTIONS_NEWEST_FIRST: &str = concat!(
    "SELECT ",
    connection_columns!(),
    " FROM oauth_connections ORDER BY created_at DESC, id"
);
pub(super) const SET_CONNECTION_TOKEN: &str =
    "UPDATE oauth_connections SET token_id = $2 WHERE id = $1";
pub(super) const REVOKE_CONNECTION: &str =
    "UPDATE oauth_connections SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL";
pub(super) const INSERT_OAUTH_CODE: &str = "INSERT INTO oauth_codes \
     (code_hash, connection_id, redirect_uri, code_challenge, expires_at, used_at) \
     VALUES ($1, $2, $3, $4, $5, NULL)";
pub(super) const OAUTH_CODE: &str = "SELECT code_hash, connection_id, redirect_uri, \
     code_challenge, expires_at, used_at FROM oauth_codes WHERE code_hash = $1";
/// A code, locked: of concurrent redemptions one wins.
pub(super) const OAUTH_CODE_FOR_UPDATE: &str = "SELECT code_hash, connection_id, redirect_uri, \
     code_challenge, expires_at, used_at FROM oauth_codes WHERE code_hash = $1 FOR UPDATE";
pub(super) const SPEND_OAUTH_CODE: &str =
    "UPDATE oauth_codes SET used_at = $2 WHERE code_hash = $1 AND used_at IS NULL";
pub(super) const INSERT_REFRESH_TOKEN: &str = "INSERT INTO oauth_refresh_tokens \
     (token_hash, connection_id, created_at, expires_at, used_at) VALUES ($1, $2, $3, $4, NULL)";
pub(super) const REFRESH_TOKEN: &str = "SELECT token_hash, connection_id, created_at, \
     expires_at, used_at FROM oauth_refresh_tokens WHERE token_hash = $1";
/// A refresh token, locked: of concurrent uses one wins, the other is reuse.
pub(super) const REFRESH_TOKEN_FOR_UPDATE: &str = "SELECT token_hash, connection_id, \
     created_at, expires_at, used_at FROM oauth_refresh_tokens WHERE token_hash = $1 FOR UPDATE";
pub(super) const SPEND_REFRESH_TOKEN: &str =
    "UPDATE oauth_refresh_tokens SET used_at = $2 WHERE token_hash = $1 AND used_at IS NULL";
/// An installation's turned-off elements, locked.
pub(super) const DISABLED_ELEMENTS_FOR_UPDATE: &str =
    "SELECT disabled_elements FROM installations WHERE id = $1 FOR UPDATE";
pub(super) const SET_DISABLED_ELEMENTS: &str =
    "UPDATE installations SET disabled_elements = $2 WHERE id = $1";
