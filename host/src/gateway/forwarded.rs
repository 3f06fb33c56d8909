//! The request a reverse proxy asks `/v1/verify` about, in the forms proxies
//! send without a line of Tally-specific configuration:
//!
//! - **Caddy `forward_auth`, Traefik `forwardAuth`** (and nginx
//!   `auth_request` configured to say it): `X-Forwarded-Method` and
//!   `X-Forwarded-Uri`, the original method and request target;
//! - **Envoy `ext_authz`** (HTTP): the original method, with the original
//!   path appended to the check's — `/v1/verify/{original path}?{query}`.
//!
//! When the original target is a content path (`/v1/content/{environment}/
//! {model}[/{id}]`), the descriptor is read from it by the gateway's own
//! rules (`target.rs`: stage and locale from the query or `X-Tally-Stage` /
//! `X-Tally-Locale`, ambiguous spellings refused) and the method by the
//! gateway's map (GET → read, …); an `X-Tally-*` header that is also
//! present must say the same, else 400 `ambiguous_request` — a client
//! cannot slip a `X-Tally-Action: read` past a proxy that passes its headers
//! on while the request is a DELETE. Any other target names no model: the
//! `X-Tally-*` headers (which the proxy's configuration sets) say what is
//! asked, as without a forwarded request.

use axum::http::{HeaderMap, HeaderName, Method, Uri};
use verifier_core::{Action, Api};

use super::check::CheckError;
use super::descriptor::{
    Descriptor, X_TALLY_ACTION, X_TALLY_API, X_TALLY_ENVIRONMENT, X_TALLY_MODEL, value_str,
};
use super::proxy::action_of;
use super::target::{self, CONTENT_PREFIX, Target};

/// `X-Forwarded-Method`.
pub(super) const X_FORWARDED_METHOD: HeaderName = HeaderName::from_static("x-forwarded-method");
/// `X-Forwarded-Uri`.
pub(super) const X_FORWARDED_URI: HeaderName = HeaderName::from_static("x-forwarded-uri");
/// The check's own path; anything after it is Envoy's original path.
const VERIFY: &str = "/v1/verify";

/// The original request: its method and target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Forwarded {
    method: Method,
    path: String,
    query: Option<String>,
}

impl Forwarded {
    /// The forwarded request of a check, if the check carries one.
    pub(super) fn of(
        uri: &Uri,
        method: &Method,
        headers: &HeaderMap,
    ) -> Result<Option<Forwarded>, CheckError> {
        if let Some(path) = uri.path().strip_prefix(VERIFY).filter(|p| !p.is_empty()) {
            return Ok(Some(Forwarded {
                method: method.clone(),
                path: path.to_string(),
                query: uri.query().map(String::from),
            }));
        }
        let method = value_str(headers.get(&X_FORWARDED_METHOD), &X_FORWARDED_METHOD)?;
        let target = value_str(headers.get(&X_FORWARDED_URI), &X_FORWARDED_URI)?;
        match (method, target) {
            (None, None) => Ok(None),
            (Some(method), Some(target)) => {
                let method = Method::from_bytes(method.as_bytes()).map_err(|_| {
                    CheckError::Descriptor("X-Forwarded-Method is not a method".into())
                })?;
                let target = target
                    .parse::<Uri>()
                    .ok()
                    .filter(|t| t.scheme().is_none() && t.path().starts_with('/'))
                    .ok_or_else(|| {
                        CheckError::Descriptor("X-Forwarded-Uri must be a path and query".into())
                    })?;
                Ok(Some(Forwarded {
                    method,
                    path: target.path().to_string(),
                    query: target.query().map(String::from),
                }))
            }
            _ => Err(CheckError::Descriptor(
                "X-Forwarded-Method and X-Forwarded-Uri come together".into(),
            )),
        }
    }

    /// Whether the original target is a content path.
    pub(super) fn is_content(&self) -> bool {
        self.path.starts_with(CONTENT_PREFIX)
    }

    /// The content target, read by the gateway's rules.
    pub(super) fn target(&self, headers: &HeaderMap) -> Result<Target, CheckError> {
        target::read(&self.path, self.query.as_deref(), headers)
            .map_err(|target::Ambiguous(message)| CheckError::Ambiguous(message))
    }

    /// The descriptor of a content request: from `target` and the method,
    /// every `X-Tally-*` header that is present agreeing.
    pub(super) fn descriptor<'t>(
        &self,
        target: &'t Target,
        headers: &HeaderMap,
        now: i64,
    ) -> Result<Descriptor<'t>, CheckError> {
        let action: Action = action_of(&self.method).ok_or_else(|| {
            CheckError::Descriptor(format!("method {} is not mapped to an action", self.method))
        })?;
        let agree = |name: &HeaderName, derived: &str| -> Result<(), CheckError> {
            match value_str(headers.get(name), name)? {
                Some(given) if given != derived => Err(CheckError::Ambiguous(format!(
                    "{name} says {given:?}, the forwarded request {derived:?}"
                ))),
                _ => Ok(()),
            }
        };
        agree(&X_TALLY_API, "content")?;
        agree(&X_TALLY_ACTION, action.as_str())?;
        agree(&X_TALLY_ENVIRONMENT, &target.environment)?;
        agree(&X_TALLY_MODEL, &target.model)?;
        Ok(Descriptor {
            api: Api::Content,
            action,
            environment_id: Some(&target.environment),
            model: Some(&target.model),
            stage: target.stage.as_deref(),
            locale: target.locale.as_deref(),
            now,
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(k, v)| {
                (
                    HeaderName::from_bytes(k.as_bytes()).unwrap(),
                    HeaderValue::from_str(v).unwrap(),
                )
            })
            .collect()
    }

    #[test]
    fn both_forms_are_read_and_disagreement_is_ambiguous() {
        let h = headers(&[
            ("x-forwarded-method", "DELETE"),
            ("x-forwarded-uri", "/v1/content/master/Post/7?stage=DRAFT"),
        ]);
        let f = Forwarded::of(&"/v1/verify".parse().unwrap(), &Method::GET, &h)
            .unwrap()
            .unwrap();
        let t = f.target(&h).unwrap();
        let d = f.descriptor(&t, &h, 1).unwrap();
        assert_eq!(
            (d.action.as_str(), d.model, d.stage),
            ("delete", Some("Post"), Some("DRAFT"))
        );

        let envoy = Forwarded::of(
            &"/v1/verify/v1/content/master/Post?locale=en"
                .parse()
                .unwrap(),
            &Method::PUT,
            &HeaderMap::new(),
        )
        .unwrap()
        .unwrap();
        let t = envoy.target(&HeaderMap::new()).unwrap();
        let d = envoy.descriptor(&t, &HeaderMap::new(), 1).unwrap();
        assert_eq!((d.action.as_str(), d.locale), ("update", Some("en")));

        let lying = headers(&[
            ("x-forwarded-method", "DELETE"),
            ("x-forwarded-uri", "/v1/content/master/Post/7"),
            ("x-tally-action", "read"),
        ]);
        let f = Forwarded::of(&"/v1/verify".parse().unwrap(), &Method::GET, &lying)
            .unwrap()
            .unwrap();
        let t = f.target(&lying).unwrap();
        assert!(matches!(
            f.descriptor(&t, &lying, 1),
            Err(CheckError::Ambiguous(_))
        ));

        let half = headers(&[("x-forwarded-method", "GET")]);
        assert!(Forwarded::of(&"/v1/verify".parse().unwrap(), &Method::GET, &half).is_err());
        let absolute = headers(&[
            ("x-forwarded-method", "GET"),
            ("x-forwarded-uri", "http://evil/v1/content/m/P"),
        ]);
        assert!(Forwarded::of(&"/v1/verify".parse().unwrap(), &Method::GET, &absolute).is_err());
        assert_eq!(
            Forwarded::of(
                &"/v1/verify".parse().unwrap(),
                &Method::GET,
                &HeaderMap::new()
            )
            .unwrap(),
            None
        );
        let other = headers(&[
            ("x-forwarded-method", "GET"),
            ("x-forwarded-uri", "/api/posts"),
        ]);
        assert!(
            !Forwarded::of(&"/v1/verify".parse().unwrap(), &Method::GET, &other)
                .unwrap()
                .unwrap()
                .is_content()
        );
    }
}
