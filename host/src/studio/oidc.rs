//! Studio sign-in with OpenID Connect: the authorization code flow with
//! PKCE (S256) against any standard provider, by the `openidconnect` crate
//! (discovery, the token request, the ID token's signature, issuer,
//! audience, expiry and nonce).
//!
//! `GET /studio/oidc/login` starts a flow: a random `state`, `nonce` and
//! PKCE verifier are kept here (in memory, ten minutes, single use) with
//! the hash of a binding cookie set on the browser (`tally_oidc`,
//! `HttpOnly`, `SameSite=Lax`, `Path=/studio/oidc`), then the browser goes
//! to the provider. `GET /studio/oidc/callback` takes the flow back by its
//! `state` only from the browser that started it (the cookie must match:
//! no one can complete a sign-in in someone else's browser), exchanges the
//! code with the verifier, validates the ID token with the nonce, and opens
//! a studio session for the user the provider names (created at their
//! first sign-in). Anything wrong ends at `/studio?signInError=<reason>`.
//!
//! The redirect URI is `<public URL>/studio/oidc/callback`; register it
//! at the provider. A node keeps its flows in memory: behind a load
//! balancer, a flow must come back to the node that started it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointMaybeSet, EndpointNotSet,
    EndpointSet, IssuerUrl, Nonce, OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier,
    RedirectUrl, Scope, TokenResponse,
};
use verifier_core::OpaqueSecret;
use verifier_core::token::hash_secret_text;

/// How long a started sign-in may take, seconds.
const FLOW_SECONDS: i64 = 600;
/// Flows kept at most (the oldest go first beyond it).
const MAX_FLOWS: usize = 1024;
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
    flows: Mutex<HashMap<[u8; 32], Flow>>,
}

struct Flow {
    verifier: PkceCodeVerifier,
    nonce: Nonce,
    binding: [u8; 32],
    expires_at: i64,
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
            flows: Mutex::new(HashMap::new()),
        })
    }

    /// Starts a flow at `now`: the provider's URL to send the browser to,
    /// and the binding cookie's value to set on it.
    pub fn start(&self, now: i64) -> Result<(String, String), String> {
        let binding =
            OpaqueSecret::from_random(crate::random::secret_bytes().map_err(|e| e.to_string())?);
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (url, state, nonce) = self
            .client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .add_scope(Scope::new("email".into()))
            .add_scope(Scope::new("profile".into()))
            .set_pkce_challenge(challenge)
            .url();
        let key = flow_key(state.secret());
        let mut flows = self.flows();
        flows.retain(|_, f| f.expires_at > now);
        if flows.len() >= MAX_FLOWS
            && let Some(oldest) = flows
                .iter()
                .min_by_key(|(_, f)| f.expires_at)
                .map(|(k, _)| *k)
        {
            flows.remove(&oldest);
        }
        flows.insert(
            key,
            Flow {
                verifier,
                nonce,
                binding: *binding.hash().as_bytes(),
                expires_at: now + FLOW_SECONDS,
            },
        );
        Ok((url.to_string(), binding.text().to_owned()))
    }

    /// Completes the flow `state` for the browser holding `binding`: the
    /// identity the provider vouches for.
    pub async fn finish(
        &self,
        state: &str,
        code: &str,
        binding: Option<&str>,
        now: i64,
    ) -> Result<Identity, SignInError> {
        // Taken out whatever happens next: a flow is used once.
        let flow = self
            .flows()
            .remove(&flow_key(state))
            .filter(|f| f.expires_at > now)
            .ok_or(SignInError::UnknownState)?;
        let presented = binding
            .and_then(hash_secret_text)
            .ok_or(SignInError::OtherBrowser)?;
        if !presented.ct_eq(&verifier_core::SecretHash::from_bytes(flow.binding)) {
            return Err(SignInError::OtherBrowser);
        }
        let token = self
            .client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .map_err(|e| SignInError::Provider(e.to_string()))?
            .set_pkce_verifier(flow.verifier)
            .request_async(&self.http)
            .await
            .map_err(|e| SignInError::Provider(chain(&e)))?;
        let id_token = token
            .id_token()
            .ok_or_else(|| SignInError::Token("no ID token".into()))?;
        let claims = id_token
            .claims(&self.client.id_token_verifier(), &flow.nonce)
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

    fn flows(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], Flow>> {
        self.flows.lock().unwrap_or_else(PoisonError::into_inner)
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
fn flow_key(state: &str) -> [u8; 32] {
    use sha2::Digest as _;
    sha2::Sha256::digest(state.as_bytes()).into()
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
