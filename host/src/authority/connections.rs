//! Connected apps: Tally as an OAuth 2.1 authorization server for
//! third-party apps that act for a person (Hygraph's "connected apps",
//! third-party authentication).
//!
//! An app becomes a connected app by listing `redirectUris`. It sends the
//! person to `GET /studio/oauth/authorize` (authorization code, PKCE with
//! S256 only, `state` passed back, RFC 9207's `iss` added); the studio shows
//! a consent page naming the app and the grants it asks for (`scope`:
//! `api:action` names of its grants, space separated; absent: all), and the
//! person picks one of their environments. Their consent is a
//! *connection*: the app's chosen grants narrowed to the person's role in
//! that environment's project ([`grants_for`]), bound to it. The app
//! redeems the code at `POST /v1/oauth/token` with its client credentials,
//! the exact redirect URI and the PKCE verifier, and gets an access token
//! (a PAT of the environment whose principal is the person, an hour) and a
//! refresh token (thirty days). Each new access token is narrowed to the
//! person's role as it is then: a role taken away since the consent stops
//! the app at its next refresh. Each refresh replaces both; a refresh token
//! or a code presented a second time ends the connection and its access
//! token at once (reuse detection: one of the two presenters is not who
//! it should be). `POST /v1/oauth/revoke` (RFC 7009) ends an access token,
//! or a refresh token's whole connection; the person ends their
//! connections in the studio. Only confidential clients are served (an
//! app always has a client secret): a browser-only app connects through its
//! backend.
//!
//! Errors that must not go back to an unverified redirect URI (an unknown
//! client, a redirect URI not registered) are shown on the page; the rest
//! go back to the app as RFC 6749 says.

use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use verifier_core::token::hash_secret_text;
use verifier_core::{Api, Credentials, Grant, IssuedToken, OpaqueSecret, TokenKind};

use super::Authority;
use super::caller::{Actor, Caller};
use super::error::{AuthorityError, not_granted};
use super::oauth::{OAuthError, TokenAnswer, TokenRequest};
use super::roles::{Need, On, grants_for, role_in};
use super::tokens::TokenSpec;
use crate::random;
use crate::storage::{
    AppRow, ConnectionRow, NewTokens, OAuthCodeRow, Redeemed, RefreshTokenRow, Store, StoreError,
    TokenRow,
};

/// How long an authorization code waits to be redeemed, seconds.
pub const CODE_TTL: i64 = 60;
/// How long a connected app's access token lives, seconds.
pub const ACCESS_TTL: i64 = 3600;
/// How long a refresh token waits to be used, seconds (thirty days).
pub const REFRESH_TTL: i64 = 30 * 24 * 3600;

/// An authorization request's query (`GET /studio/oauth/authorize`).
#[derive(Debug, Default, Clone, Deserialize)]
pub struct AuthorizeQuery {
    /// `code`.
    pub response_type: Option<String>,
    /// The app's client id.
    pub client_id: Option<String>,
    /// One of the app's redirect URIs, exactly (may be left out when it
    /// has one).
    pub redirect_uri: Option<String>,
    /// `api:action` names of the app's grants, space separated.
    pub scope: Option<String>,
    /// Passed back as it came.
    pub state: Option<String>,
    /// `BASE64URL(SHA-256(verifier))`.
    pub code_challenge: Option<String>,
    /// `S256`.
    pub code_challenge_method: Option<String>,
}

/// Where an authorization request goes wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthorizeError {
    /// Shown on the page, never sent to a redirect URI it could not trust.
    Show(String),
    /// Sent back to the app: this URL.
    Redirect(String),
}

/// What the consent page shows.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConsentView {
    /// The app asking.
    pub app: ConsentApp,
    /// What it asks for (before the person's role narrows it).
    pub grants: Vec<Grant>,
    /// The environments the person may connect it to, with what it would
    /// get in each.
    pub environments: Vec<ConsentEnvironment>,
    /// Where the answer goes.
    pub redirect_uri: String,
}

/// The app on the consent page.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConsentApp {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Client id.
    pub client_id: String,
}

/// An environment on the consent page.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConsentEnvironment {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Its project.
    pub project_id: String,
    /// What the app would get there.
    pub grants: Vec<Grant>,
}

/// A connection as the API shows it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConnectionView {
    /// Id (`cn_…`).
    pub id: String,
    /// The app.
    pub app_id: String,
    /// Its name.
    pub app_name: String,
    /// The person.
    pub user_id: String,
    /// Where its tokens are bound.
    pub environment_id: String,
    /// What its tokens may do.
    #[schema(schema_with = crate::authority::schema::grants)]
    pub grants: Vec<Grant>,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds, once ended.
    pub revoked_at: Option<i64>,
}

/// A validated request: the app, its redirect URI and what it asks for.
struct Request {
    app: AppRow,
    redirect_uri: String,
    grants: Vec<Grant>,
    state: Option<String>,
    challenge: String,
}

impl Authority {
    /// This server as an OAuth issuer: its public URL.
    pub fn issuer(&self) -> String {
        self.config.public_url.trim_end_matches('/').to_owned()
    }

    /// `GET /.well-known/oauth-authorization-server` (RFC 8414).
    pub fn authorization_server_metadata(&self) -> serde_json::Value {
        let issuer = self.issuer();
        json!({
            "issuer": issuer,
            "authorization_endpoint": format!("{issuer}/studio/oauth/authorize"),
            "token_endpoint": format!("{issuer}/v1/oauth/token"),
            "revocation_endpoint": format!("{issuer}/v1/oauth/revoke"),
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": [
                "authorization_code",
                "refresh_token",
                super::oauth::TOKEN_EXCHANGE,
            ],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "authorization_response_iss_parameter_supported": true,
        })
    }

    /// The consent page's question: `query` checked (see the module docs),
    /// and the environments `caller` may connect the app to.
    pub fn authorization_request(
        &self,
        caller: &Caller,
        query: &AuthorizeQuery,
    ) -> Result<ConsentView, AuthorizeError> {
        let request = self.authorize_checks(caller, query)?;
        let environments = self
            .consent_environments(caller, &request.grants)
            .map_err(|e| AuthorizeError::Show(e.to_string()))?;
        Ok(ConsentView {
            app: ConsentApp {
                id: request.app.id.clone(),
                name: request.app.name.clone(),
                client_id: request.app.client_id.clone(),
            },
            grants: request.grants,
            environments,
            redirect_uri: request.redirect_uri,
        })
    }

    /// The person's answer: with `approve`, a connection in `environment`
    /// and a code for the app; without, `access_denied`. Either way the URL
    /// to send the browser to.
    pub fn consent(
        &self,
        caller: &Caller,
        query: &AuthorizeQuery,
        environment: Option<&str>,
        approve: bool,
    ) -> Result<String, AuthorizeError> {
        let request = self.authorize_checks(caller, query)?;
        let back = |params: &[(&str, &str)]| redirect_to(&request, &self.issuer(), params);
        if !approve {
            return Ok(back(&[
                ("error", "access_denied"),
                ("error_description", "the person declined"),
            ]));
        }
        let show = |e: AuthorityError| AuthorizeError::Show(e.to_string());
        let environment = environment.ok_or_else(|| {
            AuthorizeError::Show("pick the environment to connect the app to".into())
        })?;
        let offered = self
            .consent_environments(caller, &request.grants)
            .map_err(show)?;
        let Some(chosen) = offered.into_iter().find(|e| e.id == environment) else {
            return Err(AuthorizeError::Show(
                "that environment is not one you may connect the app to".into(),
            ));
        };
        let user = person(caller).map_err(show)?;
        let now = self.now();
        let connection = ConnectionRow {
            id: random::id("cn_").map_err(|e| show(e.into()))?,
            app_id: request.app.id.clone(),
            user_id: user.into(),
            environment_id: chosen.id.clone(),
            grants: chosen.grants,
            created_at: now,
            revoked_at: None,
            token_id: None,
        };
        let code = OpaqueSecret::from_random(random::secret_bytes().map_err(|e| show(e.into()))?);
        let code_row = OAuthCodeRow {
            code_hash: code.hash(),
            connection_id: connection.id.clone(),
            redirect_uri: request.redirect_uri.clone(),
            code_challenge: request.challenge.clone(),
            expires_at: now + CODE_TTL,
            used_at: None,
        };
        let audit = self.audit(
            &caller.actor,
            "connection.create",
            &connection.id,
            json!({"app": connection.app_id, "environment": connection.environment_id,
                   "grants": connection.grants}),
        );
        self.change(|s| s.create_connection(&connection, &code_row, &audit))
            .map_err(show)?;
        Ok(back(&[("code", code.text())]))
    }

    /// The checks of an authorization request, in RFC 6749's order: what
    /// cannot be sent back is shown; the rest goes back to the app.
    fn authorize_checks(
        &self,
        caller: &Caller,
        query: &AuthorizeQuery,
    ) -> Result<Request, AuthorizeError> {
        let show = |m: &str| AuthorizeError::Show(m.into());
        let client_id = query
            .client_id
            .as_deref()
            .ok_or_else(|| show("client_id is missing"))?;
        let app = self
            .store()
            .and_then(|s| Ok(s.app_by_client_id(client_id)?))
            .map_err(|e| AuthorizeError::Show(e.to_string()))?
            .filter(|a| !a.redirect_uris.is_empty())
            .ok_or_else(|| show("no connected app has this client_id"))?;
        let redirect_uri = match (&query.redirect_uri, app.redirect_uris.as_slice()) {
            (Some(uri), registered) if registered.contains(uri) => uri.clone(),
            (None, [only]) => only.clone(),
            _ => return Err(show("redirect_uri is not one the app registered")),
        };
        let mut request = Request {
            app,
            redirect_uri,
            grants: Vec::new(),
            state: query.state.clone(),
            challenge: String::new(),
        };
        let issuer = self.issuer();
        let refuse = |request: &Request, error: &str, description: &str| {
            AuthorizeError::Redirect(redirect_to(
                request,
                &issuer,
                &[("error", error), ("error_description", description)],
            ))
        };
        if caller.user.is_none() {
            return Err(show(
                "sign in to the studio as yourself (with your OpenID provider) to connect apps",
            ));
        }
        if query.response_type.as_deref() != Some("code") {
            return Err(refuse(
                &request,
                "unsupported_response_type",
                "response_type must be code",
            ));
        }
        if query.code_challenge_method.as_deref() != Some("S256") {
            return Err(refuse(
                &request,
                "invalid_request",
                "code_challenge_method must be S256",
            ));
        }
        match query.code_challenge.as_deref() {
            Some(c) if is_challenge(c) => request.challenge = c.into(),
            _ => {
                return Err(refuse(
                    &request,
                    "invalid_request",
                    "code_challenge must be 43 characters of base64url",
                ));
            }
        }
        match scope_grants(&request.app.grants, query.scope.as_deref()) {
            Ok(grants) => request.grants = grants,
            Err(m) => return Err(refuse(&request, "invalid_scope", &m)),
        }
        Ok(request)
    }

    /// The environments `caller` has a role in, with what `grants` become
    /// there (those where it is nothing are left out).
    fn consent_environments(
        &self,
        caller: &Caller,
        grants: &[Grant],
    ) -> Result<Vec<ConsentEnvironment>, AuthorityError> {
        let Some(user) = &caller.user else {
            return Ok(Vec::new());
        };
        Ok(self
            .store()?
            .environments()?
            .into_iter()
            .filter_map(|e| {
                let role = role_in(&user.roles, Some(&e.project_id))?;
                let grants = grants_for(role, grants);
                (!grants.is_empty()).then_some(ConsentEnvironment {
                    id: e.id,
                    name: e.name,
                    project_id: e.project_id,
                    grants,
                })
            })
            .collect())
    }

    /// `grant_type=authorization_code` for `app` (its credentials checked).
    pub(super) fn code_grant(
        &self,
        form: &TokenRequest,
        app: &AppRow,
    ) -> Result<TokenAnswer, OAuthError> {
        let invalid = |m: &str| OAuthError::InvalidGrant(m.into());
        let missing = |name: &str| OAuthError::InvalidRequest(format!("{name} is missing"));
        let code = form.code.as_deref().ok_or_else(|| missing("code"))?;
        let redirect_uri = form
            .redirect_uri
            .as_deref()
            .ok_or_else(|| missing("redirect_uri"))?;
        let verifier = form
            .code_verifier
            .as_deref()
            .ok_or_else(|| missing("code_verifier"))?;
        let hash = hash_secret_text(code).ok_or_else(|| invalid("the code is not valid"))?;
        let store = self.store()?;
        let row = store
            .oauth_code(&hash)?
            .ok_or_else(|| invalid("the code is not valid"))?;
        let connection = store
            .connection(&row.connection_id)?
            .ok_or_else(|| invalid("the code is not valid"))?;
        // Another client's code, a different redirect URI or a wrong
        // verifier change nothing: the code stays for its rightful holder.
        if connection.app_id != app.id {
            return Err(invalid("the code was issued to another client"));
        }
        if row.redirect_uri != redirect_uri {
            return Err(invalid(
                "redirect_uri differs from the authorization request's",
            ));
        }
        if !verifier_matches(verifier, &row.code_challenge) {
            return Err(invalid("code_verifier does not match the code_challenge"));
        }
        let once = OneTime {
            grant_type: "authorization_code",
            name: "code",
            replayed: "authorization code used twice",
        };
        self.redeem(app, &connection, &once, |s, now, new| {
            s.redeem_oauth_code(&hash, now, new)
        })
    }

    /// `grant_type=refresh_token` for `app` (its credentials checked).
    pub(super) fn refresh_grant(
        &self,
        form: &TokenRequest,
        app: &AppRow,
    ) -> Result<TokenAnswer, OAuthError> {
        let invalid = |m: &str| OAuthError::InvalidGrant(m.into());
        let presented = form
            .refresh_token
            .as_deref()
            .ok_or_else(|| OAuthError::InvalidRequest("refresh_token is missing".into()))?;
        let hash =
            hash_secret_text(presented).ok_or_else(|| invalid("the refresh token is not valid"))?;
        let store = self.store()?;
        let row = store
            .refresh_token(&hash)?
            .ok_or_else(|| invalid("the refresh token is not valid"))?;
        let connection = store
            .connection(&row.connection_id)?
            .ok_or_else(|| invalid("the refresh token is not valid"))?;
        if connection.app_id != app.id {
            return Err(invalid("the refresh token was issued to another client"));
        }
        if let Some(scope) = &form.scope {
            let asked =
                scope_grants(&connection.grants, Some(scope)).map_err(OAuthError::InvalidScope)?;
            if asked.len() != connection.grants.len() {
                return Err(OAuthError::InvalidScope(
                    "a refresh keeps the connection's scope".into(),
                ));
            }
        }
        let once = OneTime {
            grant_type: "refresh_token",
            name: "refresh token",
            replayed: "refresh token used twice",
        };
        self.redeem(app, &connection, &once, |s, now, new| {
            s.use_refresh_token(&hash, now, new)
        })
    }

    /// Mints `connection`'s next tokens and has `spend` redeem the
    /// one-time credential for them in one transaction, with its audit
    /// entries (`connection.token`, or `connection.revoke` when the
    /// credential was presented before).
    fn redeem(
        &self,
        app: &AppRow,
        connection: &ConnectionRow,
        once: &OneTime,
        spend: impl FnOnce(&dyn Store, i64, &NewTokens<'_>) -> Result<Redeemed, StoreError>,
    ) -> Result<TokenAnswer, OAuthError> {
        let (token, refresh, answer) = self.mint(app, connection)?;
        let actor = Actor(format!("client:{}", app.client_id));
        let issued = self.audit(
            &actor,
            "connection.token",
            &connection.id,
            json!({"tokenId": token.record.token_id.to_string(), "grant": once.grant_type}),
        );
        let replayed = self.audit(
            &actor,
            "connection.revoke",
            &connection.id,
            json!({"cause": once.replayed}),
        );
        let name = once.name;
        let new = NewTokens {
            token: &token,
            refresh: &refresh,
            issued: &issued,
            replayed: &replayed,
        };
        match self.change(|s| spend(s, self.now(), &new))? {
            Redeemed::Issued(_) => Ok(answer),
            Redeemed::Replayed(_) => Err(OAuthError::InvalidGrant(format!(
                "the {name} was used before: the connection is ended"
            ))),
            Redeemed::Invalid => Err(OAuthError::InvalidGrant(format!("the {name} is not valid"))),
        }
    }

    /// A connection's next access and refresh tokens (not stored yet).
    fn mint(
        &self,
        app: &AppRow,
        connection: &ConnectionRow,
    ) -> Result<(TokenRow, RefreshTokenRow, TokenAnswer), OAuthError> {
        let now = self.now();
        let environment = self
            .records()
            .environment(&connection.environment_id)?
            .ok_or_else(|| OAuthError::InvalidGrant("the environment is gone".into()))?;
        let user = &connection.user_id;
        // What the person may do now: a role taken away since they
        // consented narrows (or stops) what the app gets at its next token.
        let roles = self.store()?.user_roles(user)?;
        let role = role_in(&roles, Some(&environment.project_id)).ok_or_else(|| {
            OAuthError::InvalidGrant("the person has no role there any more".into())
        })?;
        let grants = grants_for(role, &connection.grants);
        let spec = TokenSpec {
            project_id: Some(environment.project_id.clone()),
            environment_id: Some(environment.id.clone()),
            expires_at: Some(now + ACCESS_TTL),
            principal: Some(format!("user:{user}")),
            user_id: Some(user.clone()),
            ..TokenSpec::new(
                TokenKind::Pat,
                &format!("{} for user:{user}", app.name),
                grants.clone(),
            )
        };
        let issued = IssuedToken::from_random(random::secret_bytes()?);
        let token = TokenRow {
            record: spec.record(&issued),
            created_at: now,
            user_id: spec.user_id,
        };
        let refresh = OpaqueSecret::from_random(random::secret_bytes()?);
        let refresh_row = RefreshTokenRow {
            token_hash: refresh.hash(),
            connection_id: connection.id.clone(),
            created_at: now,
            expires_at: now + REFRESH_TTL,
            used_at: None,
        };
        let answer = TokenAnswer {
            access_token: issued.token(),
            issued_token_type: None,
            token_type: "Bearer",
            expires_in: ACCESS_TTL,
            refresh_token: Some(refresh.text().to_owned()),
            scope: Some(scope_of(&grants)),
        };
        Ok((token, refresh_row, answer))
    }

    /// `POST /v1/oauth/revoke` (RFC 7009) for `app`: an access token of
    /// one of its connections ends; a refresh token ends its whole
    /// connection. Unknown tokens are no error; another client's are.
    pub(super) fn revoke_oauth_token(&self, app: &AppRow, token: &str) -> Result<(), OAuthError> {
        let store = self.store()?;
        let actor = Actor(format!("client:{}", app.client_id));
        let now = self.now();
        let foreign = || OAuthError::UnauthorizedClient;
        if let Ok(credentials) = Credentials::from_header(&format!("Bearer {}", token.trim())) {
            let id = credentials.token_id();
            let owner = store
                .connections()?
                .into_iter()
                .find(|c| c.token_id == Some(id));
            return match owner {
                Some(c) if c.app_id != app.id => Err(foreign()),
                Some(c) => {
                    let audit = self.audit(
                        &actor,
                        "token.revoke",
                        &id.to_string(),
                        json!({"connection": c.id}),
                    );
                    match self.change(|s| s.revoke_token(&id, &audit)) {
                        Ok(()) | Err(AuthorityError::NotFound(_)) => Ok(()),
                        Err(e) => Err(e.into()),
                    }
                }
                None => Ok(()),
            };
        }
        let Some(hash) = hash_secret_text(token.trim()) else {
            return Ok(());
        };
        let Some(row) = store.refresh_token(&hash)? else {
            return Ok(());
        };
        let Some(connection) = store.connection(&row.connection_id)? else {
            return Ok(());
        };
        if connection.app_id != app.id {
            return Err(foreign());
        }
        let audit = self.audit(
            &actor,
            "connection.revoke",
            &connection.id,
            json!({"cause": "refresh token revoked"}),
        );
        match self.change(|s| s.revoke_connection(&connection.id, now, &audit)) {
            Ok(()) | Err(AuthorityError::NotFound(_)) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// `GET /v1/connections`: a person's own connections; for a management
    /// admin token, everyone's. Newest first.
    pub fn connections(&self, caller: &Caller) -> Result<Vec<ConnectionView>, AuthorityError> {
        let store = self.store()?;
        let apps = store.apps()?;
        let mine = |c: &ConnectionRow| match &caller.user {
            Some(u) => u.user.id == c.user_id,
            None => caller.is_admin,
        };
        Ok(store
            .connections()?
            .into_iter()
            .filter(mine)
            .map(|c| ConnectionView {
                app_name: apps
                    .iter()
                    .find(|a| a.id == c.app_id)
                    .map_or_else(|| c.app_id.clone(), |a| a.name.clone()),
                id: c.id,
                app_id: c.app_id,
                user_id: c.user_id,
                environment_id: c.environment_id,
                grants: c.grants,
                created_at: c.created_at,
                revoked_at: c.revoked_at,
            })
            .collect())
    }

    /// `DELETE /v1/connections/{id}`: ends a connection and its tokens at
    /// once (the feed carries the revocation); the person's own, or any for
    /// a management admin.
    pub fn end_connection(&self, caller: &Caller, id: &str) -> Result<(), AuthorityError> {
        let connection = self
            .store()?
            .connection(id)?
            .ok_or(AuthorityError::NotFound("connection"))?;
        let own = caller
            .user
            .as_ref()
            .is_some_and(|u| u.user.id == connection.user_id);
        if !own {
            self.require(caller, Need::Administer, &On::Instance)?;
        }
        let audit = self.audit(
            &caller.actor,
            "connection.revoke",
            id,
            json!({"cause": "revoked"}),
        );
        self.change(|s| s.revoke_connection(id, self.now(), &audit))
    }
}

/// The signed-in person's id.
fn person(caller: &Caller) -> Result<&str, AuthorityError> {
    caller
        .user
        .as_ref()
        .map(|u| u.user.id.as_str())
        .ok_or_else(|| not_granted("connecting an app needs a person signed in"))
}

/// The redirect URI with `params`, `state` and `iss` added.
fn redirect_to(request: &Request, issuer: &str, params: &[(&str, &str)]) -> String {
    let Ok(mut url) = url::Url::parse(&request.redirect_uri) else {
        return request.redirect_uri.clone();
    };
    {
        let mut query = url.query_pairs_mut();
        for (key, value) in params {
            query.append_pair(key, value);
        }
        if let Some(state) = &request.state {
            query.append_pair("state", state);
        }
        query.append_pair("iss", issuer);
    }
    url.into()
}

/// Whether `c` is an S256 challenge: 43 characters of base64url.
fn is_challenge(c: &str) -> bool {
    c.len() == 43
        && c.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Whether `verifier` (RFC 7636: 43 to 128 of `[A-Za-z0-9-._~]`) hashes to
/// `challenge`, compared in constant time.
fn verifier_matches(verifier: &str, challenge: &str) -> bool {
    let shaped = (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b));
    if !shaped {
        return false;
    }
    use base64::Engine as _;
    let computed = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(Sha256::digest(verifier.as_bytes()));
    bool::from(computed.as_bytes().ct_eq(challenge.as_bytes()))
}

/// The grants of `grants` that `scope` names (`api:action`, space
/// separated; absent: all); a name matching none is an error.
fn scope_grants(grants: &[Grant], scope: Option<&str>) -> Result<Vec<Grant>, String> {
    let Some(scope) = scope else {
        return Ok(grants.to_vec());
    };
    let mut chosen = Vec::new();
    for name in scope.split(' ').filter(|n| !n.is_empty()) {
        let matching: Vec<&Grant> = grants.iter().filter(|g| scope_name(g) == name).collect();
        if matching.is_empty() {
            return Err(format!("{name} is not a scope this app has"));
        }
        for g in matching {
            if !chosen.contains(g) {
                chosen.push(g.clone());
            }
        }
    }
    if chosen.is_empty() {
        return Err("scope names nothing".into());
    }
    Ok(chosen)
}

/// A grant's scope name: `api:action`.
fn scope_name(g: &Grant) -> String {
    let api = match g.api {
        Api::Content => "content",
        Api::Management => "management",
    };
    format!("{api}:{}", g.action.as_str())
}

/// The scope `grants` make, each name once.
fn scope_of(grants: &[Grant]) -> String {
    let mut names: Vec<String> = Vec::new();
    for name in grants.iter().map(scope_name) {
        if !names.contains(&name) {
            names.push(name);
        }
    }
    names.join(" ")
}

/// The one-time credential a token request presents, as its messages and
/// audit entries name it.
struct OneTime {
    /// The `grant_type` audited with the new token.
    grant_type: &'static str,
    /// What the client is told was not valid or used before.
    name: &'static str,
    /// The audited cause when it was presented twice.
    replayed: &'static str,
}

#[cfg(test)]
mod tests {
    use super::{is_challenge, verifier_matches};

    #[test]
    fn pkce_s256_matches_rfc_7636s_example() {
        // RFC 7636, appendix B.
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        assert!(is_challenge(challenge));
        assert!(verifier_matches(verifier, challenge));
        assert!(!verifier_matches(&verifier.replace('d', "e"), challenge));
        assert!(!verifier_matches("short", challenge));
    }
}
