//! What the authority accepts as input: ids, text, URLs, frame origins
//! (canonical, as browsers read them) and the shape of management grants.

use serde::de::Error as _;
use serde::{Deserialize, Deserializer};
use verifier_core::{Api, Grant, Scope};

use super::error::AuthorityError;

pub(super) const MAX_ID: usize = 64;

pub(super) const MAX_TEXT: usize = 256;

/// Longest URL or origin, characters.
pub(super) const MAX_URL: usize = 2048;

/// Most origins an app may list.
pub(super) const MAX_ORIGINS: usize = 16;

pub(super) fn check_id(field: &str, id: &str) -> Result<(), AuthorityError> {
    let ok = !id.is_empty()
        && id.len() <= MAX_ID
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(AuthorityError::BadRequest(format!(
            "{field} must be 1 to {MAX_ID} characters of [A-Za-z0-9_-]"
        )))
    }
}

pub(super) fn check_text(field: &str, text: &str) -> Result<(), AuthorityError> {
    if text.trim().is_empty() || text.chars().count() > MAX_TEXT {
        return Err(AuthorityError::BadRequest(format!(
            "{field} must be 1 to {MAX_TEXT} characters"
        )));
    }
    if text.chars().any(char::is_control) {
        return Err(AuthorityError::BadRequest(format!(
            "{field} must not hold control characters"
        )));
    }
    Ok(())
}

/// The longest email an invitation takes, in characters (RFC 5321's path
/// limit).
pub(super) const MAX_EMAIL: usize = 254;

/// An email address as invitations take it: one `@`, something before it,
/// a `.` after it, no white space or control characters, at most
/// [`MAX_EMAIL`] characters. Returned lowercased (providers differ in
/// case; the comparison at sign-in must not).
pub(super) fn check_email(email: &str) -> Result<String, AuthorityError> {
    let refused = |c: char| c.is_whitespace() || c.is_control() || c == '\u{feff}';
    let shaped = email.chars().count() <= MAX_EMAIL
        && !email.chars().any(refused)
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && domain.contains('.') && !domain.contains('@')
        });
    if shaped {
        Ok(email.to_lowercase())
    } else {
        Err(AuthorityError::BadRequest(
            "email must be an address like someone@example.com".into(),
        ))
    }
}

pub(super) fn check_url(field: &str, url: &str) -> Result<(), AuthorityError> {
    let ok = (url.starts_with("https://") || url.starts_with("http://"))
        && url.chars().count() <= MAX_URL
        && !url.contains('#')
        && !url.chars().any(|c| c.is_whitespace() || c.is_control());
    if ok {
        Ok(())
    } else {
        Err(AuthorityError::BadRequest(format!(
            "{field} must be an http(s) URL without a fragment"
        )))
    }
}

/// How many redirect URIs an app may list.
pub(super) const MAX_REDIRECT_URIS: usize = 16;

/// A connected app's redirect URI: an https URL, or http on a loopback
/// host (RFC 8252; for apps on the person's machine and tests), without a
/// fragment. Compared exactly when used.
pub(super) fn check_redirect_uri(uri: &str) -> Result<(), AuthorityError> {
    let refused = || {
        AuthorityError::BadRequest(
            "redirectUris must be https URLs (http only on 127.0.0.1, [::1] or localhost) \
             without a fragment"
                .into(),
        )
    };
    check_url("redirectUris", uri).map_err(|_| refused())?;
    let secure = uri
        .strip_prefix("https://")
        .is_some_and(|rest| !rest.is_empty());
    let loopback = uri.strip_prefix("http://").is_some_and(|rest| {
        ["127.0.0.1", "[::1]", "localhost"].iter().any(|host| {
            rest.strip_prefix(host)
                .is_some_and(|after| after.is_empty() || after.starts_with([':', '/']))
        })
    });
    if secure || loopback {
        Ok(())
    } else {
        Err(refused())
    }
}

/// Whether `origin` is an origin as browsers write it (see
/// [`canonical_origin`]) and in its canonical form: what may stand in a
/// `Content-Security-Policy` or be compared with a message's origin.
pub fn valid_origin(origin: &str) -> bool {
    canonical_origin(origin).is_ok_and(|c| c == origin)
}

/// An app origin in the form browsers serialise it (`scheme://host[:port]`,
/// host lowercased and IDNA-encoded, default port dropped), or why it is
/// not one. Accepted: `http` or `https`, a host, an optional port, at most
/// a trailing `/`; nothing else — no user info, path, query or fragment,
/// no control characters, whitespace, `;`, `,`, quotes or backslashes
/// (which a CSP or a header would read as a separator or something else).
pub fn canonical_origin(origin: &str) -> Result<String, String> {
    if origin.len() > MAX_URL {
        return Err(format!("is longer than {MAX_URL} characters"));
    }
    if let Some(c) = origin
        .chars()
        .find(|c| c.is_control() || c.is_whitespace() || matches!(c, ';' | ',' | '\'' | '"' | '\\'))
    {
        return Err(format!("holds {c:?}, which cannot stand in an origin"));
    }
    let url = url::Url::parse(origin).map_err(|e| format!("is not a URL ({e})"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err("must use http or https".into());
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("has no host".into());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not hold user info".into());
    }
    if url.query().is_some() || url.fragment().is_some() || url.path() != "/" {
        return Err("must be scheme://host[:port] with no path, query or fragment".into());
    }
    // `Url` keeps the path "/" for "https://a.example" and "https://a.example/"
    // alike; more than one trailing character means a path it folded away.
    let rest = origin.split_once("://").map_or("", |(_, rest)| rest);
    if rest.ends_with("//") || rest.contains("/.") {
        return Err("must be scheme://host[:port] with no path, query or fragment".into());
    }
    // A domain as a CSP source list reads it: letters, digits, `-`, `.`
    // (IDNA has made any other script ASCII); `*`, `_` and the like, which
    // URL parsers let through, are refused.
    if let Some(url::Host::Domain(domain)) = url.host()
        && !domain
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
    {
        return Err("has a host with characters other than letters, digits, '-' and '.'".into());
    }
    Ok(url.origin().ascii_serialization())
}

/// The origins of `NewApp`, canonical, or a 400 naming the bad one.
pub(super) fn check_origins(origins: &[String]) -> Result<Vec<String>, AuthorityError> {
    origins
        .iter()
        .map(|origin| {
            canonical_origin(origin).map_err(|why| {
                AuthorityError::BadRequest(format!(
                    "origin {:?} {why}",
                    origin.escape_debug().to_string()
                ))
            })
        })
        .collect()
}

/// Whether `grant` is the management `admin` or `replica` grant: a grant
/// over the whole service, not one environment's content.
pub(super) fn is_whole_service(grant: &Grant) -> bool {
    grant.api == Api::Management && (grant.action.is_admin() || grant.action.as_str() == "replica")
}

/// Refuses a management `admin` (or `replica`) grant that carries a
/// condition or a scope: those grants are all or nothing, and a scoped one
/// would read as a global one wherever the scope is not asked about.
pub(super) fn check_management_scope(grants: &[Grant]) -> Result<(), AuthorityError> {
    for (i, grant) in grants.iter().enumerate() {
        if !is_whole_service(grant) {
            continue;
        }
        let scoped = grant.condition.is_some()
            || grant.models != Scope::Any
            || grant.stages != Scope::Any
            || grant.locales != Scope::Any
            || grant.environments != Scope::Any;
        if scoped {
            return Err(AuthorityError::BadRequest(format!(
                "grants[{i}]: the management {} grant takes no condition and no scope \
                 (models, stages, locales, environments)",
                grant.action.as_str()
            )));
        }
    }
    Ok(())
}

/// An integer as JSON Schema reads one: `20` or `20.0`, never `20.5`.
pub(super) fn whole_number<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    let n = serde_json::Number::deserialize(d)?;
    if let Some(i) = n.as_i64() {
        return Ok(i);
    }
    match n.as_f64() {
        // Exact: within ±2^53 every whole f64 is an exact integer.
        Some(f) if f.fract() == 0.0 && f.abs() <= 9_007_199_254_740_992.0 => Ok(f as i64),
        _ => Err(D::Error::custom(format!("{n} is not a whole number"))),
    }
}

/// [`whole_number`], or `null`.
pub(super) fn optional_whole_number<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<i64>, D::Error> {
    Option::<serde_json::Number>::deserialize(d)?
        .map(|n| whole_number(n).map_err(D::Error::custom))
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::check_email;

    #[test]
    fn an_email_is_one_address_lowercased() {
        assert_eq!(check_email("Erin@Example.COM").unwrap(), "erin@example.com");
        for refused in [
            "",
            "erin",
            "@example.com",
            "erin@localhost",
            "erin@@example.com",
            "erin@exa@mple.com",
            " erin@example.com",
            "erin@example.com\n",
            "er\u{feff}in@example.com",
            "er\u{85}in@example.com",
        ] {
            assert!(check_email(refused).is_err(), "{refused:?}");
        }
        let long = format!("{}@example.com", "a".repeat(250));
        assert!(check_email(&long).is_err());
    }
}
