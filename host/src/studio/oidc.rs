//! Studio sign-in with OpenID Connect: the authorization code flow with
//! PKCE (S256) against any standard provider, by the `openidconnect` crate
//! (discovery, the token request, the ID token's signature, issuer,
//! audience, expiry and nonce).
//!
//! `GET /studio/oidc/login` starts a flow: a random `state` and a binding
//! cookie set on the browser (`tally_oidc`, `HttpOnly`, `SameSite=Lax`,
//! `Path=/studio/oidc`, ten minutes); the flow's PKCE verifier and nonce
//! are derived from that cookie's value (HMAC-SHA256 keyed by it, of a
//! label each), so the browser holds them and no server does. The store
//! keeps the flow as the SHA-256 of its state and of the binding cookie
//! ([`SignInRow`]), so it may come back to any node on the database. Then
//! the browser goes to the provider. `GET /studio/oidc/callback` takes the
//! flow out of the store by its `state` (once: a second callback finds
//! nothing, even after a failure), only from the browser that started it
//! (the cookie must match: no one can complete a sign-in in someone
//! else's browser), exchanges the code with the verifier, validates the ID
//! token with the nonce, and opens a studio session for the user the
//! provider names (created at their first sign-in). Anything wrong ends at
//! `/studio?signInError=<reason>`.
//!
//! The redirect URI is `<public URL>/studio/oidc/callback`; register it
//! at the provider.

use std::sync::Arc;

use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointMaybeSet, EndpointNotSet,
    EndpointSet, IssuerUrl, Nonce, OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier,
    RedirectUrl, Scope, TokenResponse,
};
use verifier_core::OpaqueSecret;
use verifier_core::token::hash_secret_text;

use crate::storage::SignInRow;

/// How long a started sign-in may take, seconds.
pub const FLOW_SECONDS: i64 = 600;
/// The binding cookie's name.
pub const FLOW_COOKIE: &str = "tally_oidc";

type Client = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// A provider, discovered.
pub struct Oidc {
    client: Client,
    issuer: String,
    http: openidconnect::reqwest::Client,
}

/// A sign-in started ([`Oidc::start`]).
pub struct Started {
    /// Where to send the browser.
    pub url: String,
    /// The binding cookie's value, for the browser alone.
    pub binding: String,
    /// What the store keeps of it.
    pub row: SignInRow,
}

/// Who the provider says signed in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The provider's issuer.
    pub issuer: String,
    /// Their id there (`sub`).
    pub subject: String,
    /// Their email, if the provider gave a verified one.
    pub email: Option<String>,
    /// Their name, if given.
    pub name: Option<String>,
}

/// Why a sign-in did not complete; [`SignInError::reason`] is what the
/// studio is told.
#[derive(Debug, thiserror::Error)]
pub enum SignInError {
    /// No flow with this state, or it expired, or it was used.
    #[error("the sign-in expired or was already used")]
    UnknownState,
    /// The flow was started in another browser.
    #[error("the sign-in was started in another browser")]
    OtherBrowser,
    /// The provider answered with an error (the user declined, …).
    #[error("the provider refused: {0}")]
    Provider(String),
    /// The code did not become a valid ID token.
    #[error("the provider's answer does not verify: {0}")]
    Token(String),
}

impl SignInError {
    /// The stable reason the studio shows.
    pub fn reason(&self) -> &'static str {
        match self {
            SignInError::UnknownState => "sign_in_expired",
            SignInError::OtherBrowser => "sign_in_other_browser",
            SignInError::Provider(_) => "provider_refused",
            SignInError::Token(_) => "id_token_invalid",
        }
    }
}

impl Oidc {
    /// Discovers `issuer` and sets up the client; the redirect URI is
    /// `<public_url>/studio/oidc/callback`.
    pub async fn discover(
        issuer: &str,
        client_id: &str,
        client_secret: Option<&str>,
        public_url: &str,
    ) -> Result<Self, String> {
        // Redirects are not followed (the openidconnect crate's advice:
        // following them opens the client to SSRF).
        let http = openidconnect::reqwest::Client::builder()
            .redirect(openidconnect::reqwest::redirect::Policy::none())
            .timeout(std::time::Duration::from_secs(10))
            .build()
            .map_err(|e| e.to_string())?;
        let issuer_url = IssuerUrl::new(issuer.to_owned()).map_err(|e| e.to_string())?;
        let metadata = CoreProviderMetadata::discover_async(issuer_url, &http)
            .await
            .map_err(|e| format!("discovery of {issuer} failed: {}", chain(&e)))?;
        let redirect = RedirectUrl::new(format!(
            "{}/studio/oidc/callback",
            public_url.trim_end_matches('/')
        ))
        .map_err(|e| e.to_string())?;
        let client = CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(client_id.to_owned()),
            client_secret.map(|s| ClientSecret::new(s.to_owned())),
        )
        .set_redirect_uri(redirect);
        Ok(Oidc {
            client,
            issuer: issuer.to_owned(),
            http,
        })
    }

    /// Starts a flow at `now` that goes back to `return_to` once signed in
    /// (a path `return_path` accepts; `None`: the studio): the provider's
    /// URL to send the browser to, the binding cookie's value to set on
    /// it, and the row for the store
    /// ([`crate::authority::Authority::start_sign_in`]).
    pub fn start(&self, now: i64, return_to: Option<String>) -> Result<Started, String> {
        let random = || {
            crate::random::secret_bytes()
                .map(OpaqueSecret::from_random)
                .map_err(|e| e.to_string())
        };
        let (binding, state) = (random()?, random()?);
        let (verifier, nonce) = derived(binding.text());
        let challenge = PkceCodeChallenge::from_code_verifier_sha256(&verifier);
        let (url, _, _) = self
            .client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                {
                    let state = state.text().to_owned();
                    move || CsrfToken::new(state)
                },
                || nonce,
            )
            .add_scope(Scope::new("email".into()))
            .add_scope(Scope::new("profile".into()))
            .set_pkce_challenge(challenge)
            .url();
        Ok(Started {
            url: url.to_string(),
            binding: binding.text().to_owned(),
            row: SignInRow {
                state_hash: state.hash(),
                binding_hash: binding.hash(),
                return_to,
                expires_at: now + FLOW_SECONDS,
            },
        })
    }

    /// Completes the flow `taken` out of the store by its state (`None`:
    /// there was none) for the browser holding `binding`: the identity the
    /// provider vouches for.
    pub async fn finish(
        &self,
        taken: Option<SignInRow>,
        code: &str,
        binding: Option<&str>,
        now: i64,
    ) -> Result<Identity, SignInError> {
        let flow = taken
            .filter(|f| f.expires_at > now)
            .ok_or(SignInError::UnknownState)?;
        let binding = binding.ok_or(SignInError::OtherBrowser)?;
        let presented = hash_secret_text(binding).ok_or(SignInError::OtherBrowser)?;
        if !presented.ct_eq(&flow.binding_hash) {
            return Err(SignInError::OtherBrowser);
        }
        let (verifier, nonce) = derived(binding);
        let token = self
            .client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .map_err(|e| SignInError::Provider(e.to_string()))?
            .set_pkce_verifier(verifier)
            .request_async(&self.http)
            .await
            .map_err(|e| SignInError::Provider(chain(&e)))?;
        let id_token = token
            .id_token()
            .ok_or_else(|| SignInError::Token("no ID token".into()))?;
        let claims = id_token
            .claims(&self.client.id_token_verifier(), &nonce)
            .map_err(|e| SignInError::Token(e.to_string()))?;
        let mut email = claims
            .email()
            .filter(|_| claims.email_verified().unwrap_or(false))
            .map(|e| e.as_str().to_owned());
        let mut name = claims
            .name()
            .and_then(|n| n.get(None))
            .map(|n| n.as_str().to_owned());
        let subject = claims.subject().clone();
        // A provider that keeps the ID token to the subject (as the
        // specification lets it when claims are asked for by scope) has
        // them at its userinfo endpoint, for the same subject.
        if (email.is_none() || name.is_none())
            && let Ok(request) = self
                .client
                .user_info(token.access_token().clone(), Some(subject.clone()))
        {
            let info: Result<openidconnect::core::CoreUserInfoClaims, _> =
                request.request_async(&self.http).await;
            if let Ok(info) = info {
                if email.is_none() && info.email_verified().unwrap_or(false) {
                    email = info.email().map(|e| e.as_str().to_owned());
                }
                if name.is_none() {
                    name = info
                        .name()
                        .and_then(|n| n.get(None))
                        .map(|n| n.as_str().to_owned());
                }
            }
        }
        Ok(Identity {
            issuer: self.issuer.clone(),
            subject: subject.as_str().to_owned(),
            email,
            name,
        })
    }
}

impl std::fmt::Debug for Oidc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Oidc")
            .field("issuer", &self.issuer)
            .finish()
    }
}

/// How studio sign-in works on this server.
#[derive(Debug, Clone)]
pub struct SignInOptions {
    /// Sign-in with OpenID Connect, if configured.
    pub oidc: Option<Arc<Oidc>>,
    /// Whether an admin token may open a studio session
    /// (`--no-admin-token-sign-in` turns it off).
    pub admin_token: bool,
}

impl Default for SignInOptions {
    fn default() -> Self {
        SignInOptions {
            oidc: None,
            admin_token: true,
        }
    }
}

/// A flow's key: the SHA-256 of its `state` (the map never holds a value
/// an attacker could time against).
/// `path` if a sign-in may go back to it: a path of the studio on this
/// origin (`/studio`, or under it: `/studio/…`, `/studio?…`), in visible
/// ASCII and at most 2,048 bytes. Nothing else, so the sign-in cannot be
/// used to send a browser elsewhere.
pub fn return_path(path: &str) -> Option<&str> {
    let rest = path.strip_prefix("/studio")?;
    let under = rest.is_empty() || rest.starts_with(['/', '?', '#']);
    let fits = path.len() <= 2048 && path.bytes().all(|b| b.is_ascii_graphic());
    (under && fits).then_some(path)
}

/// The PKCE verifier and the nonce of the flow whose binding cookie value
/// is `binding`: each the HMAC-SHA256 of a label of its own, keyed by the
/// cookie, in base64url (43 characters, as PKCE asks of a verifier).
fn derived(binding: &str) -> (PkceCodeVerifier, Nonce) {
    use base64::Engine as _;
    let of = |label: &[u8]| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(crate::keyed::derive(binding.as_bytes(), label))
    };
    (
        PkceCodeVerifier::new(of(b"tally studio sign-in: PKCE verifier")),
        Nonce::new(of(b"tally studio sign-in: nonce")),
    )
}

fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::return_path;

    #[test]
    fn a_sign_in_returns_only_to_the_studio() {
        for path in [
            "/studio",
            "/studio/",
            "/studio?x=1",
            "/studio/oauth/authorize?client_id=c&redirect_uri=https%3A%2F%2Fa",
        ] {
            assert_eq!(return_path(path), Some(path), "{path}");
        }
        for path in [
            "",
            "/",
            "https://evil.example/studio",
            "//evil.example/studio",
            "/studiox",
            "/studio\r\nSet-Cookie: x=1",
            "/studio/ space",
            "/v1/tokens",
        ] {
            assert_eq!(return_path(path), None, "{path:?}");
        }
        assert_eq!(return_path(&format!("/studio/{}", "a".repeat(2048))), None);
    }
}
