//! How the gateway reads a content request's target — the path
//! `/v1/content/{environment}/{model}[/{id}]`, the `stage` and `locale`
//! query parameters and their `X-Tally-Stage` / `X-Tally-Locale` headers —
//! so that what is checked is what the upstream will read.
//!
//! The gateway forwards the path and query exactly as received, so every
//! way an upstream could read them differently from the check is refused
//! with 400 `ambiguous_request`, never normalised into something else:
//!
//! - **Path.** Each segment is percent-decoded once (what the check sees);
//!   a segment is refused when its decoded form is empty, `.` or `..`, or
//!   holds `/`, `\`, `;`, `%` (double encoding), or a control character —
//!   the spellings that servers resolve, split or decode again in
//!   different ways.
//! - **Query.** Decoded with the standard `application/x-www-form-urlencoded`
//!   parser (`form_urlencoded`), so `?st%61ge=DRAFT` is the `stage` it is.
//!   `stage` or `locale` named more than once, with an empty value, or in a
//!   spelling an upstream may take for it (another case, `stage[]`,
//!   `stage.x`) is refused; so is a raw `;` anywhere in the query (some
//!   servers split parameters on it).
//! - **Query and header.** A parameter also given by its header with
//!   another value, or a header given twice (or folded into one value
//!   with `,`), is refused.
//!
//! The same rules are written as a table of tricky URLs in
//! `tests/fixtures/gateway-targets.json`, run against this gateway and the
//! edge worker in `examples/edge`.

use axum::http::{HeaderMap, HeaderName};
use percent_encoding::percent_decode_str;

/// The prefix of the gateway's routes.
pub(crate) const CONTENT_PREFIX: &str = "/v1/content/";

/// A content request's target as the check reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Target {
    /// The environment named by the path.
    pub environment: String,
    /// The model named by the path.
    pub model: String,
    /// The document id, when the path names one.
    pub id: Option<String>,
    /// The stage, from `?stage=` or `X-Tally-Stage`.
    pub stage: Option<String>,
    /// The locale, from `?locale=` or `X-Tally-Locale`.
    pub locale: Option<String>,
}

/// Why a target was refused: the message of a 400 `ambiguous_request`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Ambiguous(pub String);

/// Reads the target of a request to `path` (as received, still encoded)
/// with `query` and `headers`.
pub(crate) fn read(
    path: &str,
    query: Option<&str>,
    headers: &HeaderMap,
) -> Result<Target, Ambiguous> {
    let rest = path
        .strip_prefix(CONTENT_PREFIX)
        .ok_or_else(|| Ambiguous(format!("the path must start with {CONTENT_PREFIX}")))?;
    let segments = rest
        .split('/')
        .map(segment)
        .collect::<Result<Vec<_>, _>>()?;
    let (environment, model, id) = match <[String; 3]>::try_from(segments) {
        Ok([e, m, i]) => (e, m, Some(i)),
        Err(segments) => match <[String; 2]>::try_from(segments) {
            Ok([e, m]) => (e, m, None),
            Err(_) => {
                return Err(Ambiguous(
                    "the path must be /v1/content/{environment}/{model}[/{id}]".into(),
                ));
            }
        },
    };
    let params = Params::of(query.unwrap_or(""))?;
    Ok(Target {
        environment,
        model,
        id,
        stage: one_of(
            params.stage,
            headers,
            &super::descriptor::X_TALLY_STAGE,
            "stage",
        )?,
        locale: one_of(
            params.locale,
            headers,
            &super::descriptor::X_TALLY_LOCALE,
            "locale",
        )?,
    })
}

/// One path segment, decoded, or why it is refused.
fn segment(raw: &str) -> Result<String, Ambiguous> {
    let refuse = |why: &str| Err(Ambiguous(format!("path segment {raw:?} {why}")));
    let Ok(decoded) = percent_decode_str(raw).decode_utf8() else {
        return refuse("is not UTF-8 once decoded");
    };
    if decoded.is_empty() || decoded == "." || decoded == ".." {
        return refuse("is empty or a dot segment");
    }
    if decoded.contains(['/', '\\', ';', '%']) || decoded.chars().any(char::is_control) {
        return refuse("holds a character servers read differently (/, \\, ;, %, control)");
    }
    Ok(decoded.into_owned())
}

/// `stage` and `locale` of a query string.
#[derive(Default)]
struct Params {
    stage: Option<String>,
    locale: Option<String>,
}

impl Params {
    fn of(query: &str) -> Result<Self, Ambiguous> {
        if query.contains(';') {
            return Err(Ambiguous(
                "the query holds ';', which some servers read as a separator".into(),
            ));
        }
        let mut params = Params::default();
        for (key, value) in form_urlencoded::parse(query.as_bytes()) {
            let (slot, name) = match key.as_ref() {
                "stage" => (&mut params.stage, "stage"),
                "locale" => (&mut params.locale, "locale"),
                other => {
                    if let Some(name) = lookalike(other) {
                        return Err(Ambiguous(format!(
                            "query parameter {other:?} may be read as {name:?}"
                        )));
                    }
                    continue;
                }
            };
            if value.is_empty() {
                return Err(Ambiguous(format!("query parameter {name} is empty")));
            }
            if slot.replace(value.into_owned()).is_some() {
                return Err(Ambiguous(format!(
                    "query parameter {name} is given more than once"
                )));
            }
        }
        Ok(params)
    }
}

/// `stage` or `locale` when `key` is another spelling of it that some
/// upstream may read as it: another case, or a bracket or dot suffix.
fn lookalike(key: &str) -> Option<&'static str> {
    let base = key.split(['[', '.']).next().unwrap_or(key);
    ["stage", "locale"]
        .into_iter()
        .find(|name| base.eq_ignore_ascii_case(name))
}

/// The value of a parameter given by the query, by its header, or both
/// with the same value.
fn one_of(
    from_query: Option<String>,
    headers: &HeaderMap,
    header: &HeaderName,
    name: &str,
) -> Result<Option<String>, Ambiguous> {
    let mut values = headers.get_all(header).iter();
    let from_header = match (values.next(), values.next()) {
        (None, _) => None,
        (Some(_), Some(_)) => {
            return Err(Ambiguous(format!("{header} is given more than once")));
        }
        (Some(value), None) => {
            let text = value
                .to_str()
                .map_err(|_| Ambiguous(format!("{header} is not valid text")))?
                .trim_ascii();
            // A list (`a, b`) is the same header given twice, folded.
            if text.contains(',') {
                return Err(Ambiguous(format!("{header} is given more than once")));
            }
            (!text.is_empty()).then(|| text.to_owned())
        }
    };
    match (from_query, from_header) {
        (Some(q), Some(h)) if q != h => Err(Ambiguous(format!(
            "query parameter {name} ({q:?}) and {header} ({h:?}) disagree"
        ))),
        (q, h) => Ok(q.or(h)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(uri: &str) -> Result<Target, Ambiguous> {
        let (path, query) = match uri.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (uri, None),
        };
        read(path, query, &HeaderMap::new())
    }

    #[test]
    fn a_plain_target_is_read_as_written() {
        let t = target("/v1/content/master/Post/p1?stage=DRAFT&locale=de&x=1")
            .unwrap_or_else(|e| unreachable!("{e:?}"));
        assert_eq!(t.environment, "master");
        assert_eq!(t.model, "Post");
        assert_eq!(t.id.as_deref(), Some("p1"));
        assert_eq!(t.stage.as_deref(), Some("DRAFT"));
        assert_eq!(t.locale.as_deref(), Some("de"));
    }

    #[test]
    fn encoded_keys_are_the_parameters_they_decode_to() {
        let t = target("/v1/content/master/Post?st%61ge=DRAFT")
            .unwrap_or_else(|e| unreachable!("{e:?}"));
        assert_eq!(t.stage.as_deref(), Some("DRAFT"));
    }

    #[test]
    fn every_ambiguous_spelling_is_refused() {
        for uri in [
            "/v1/content/master/Post?stage=PUBLISHED&stage=DRAFT",
            "/v1/content/master/Post?stage=PUBLISHED&%73tage=DRAFT",
            "/v1/content/master/Post?stage=",
            "/v1/content/master/Post?Stage=DRAFT",
            "/v1/content/master/Post?stage[]=DRAFT",
            "/v1/content/master/Post?a=1;stage=DRAFT",
            "/v1/content/master/Po%2Fst",
            "/v1/content/master/%2e%2e",
            "/v1/content/master/..",
            "/v1/content/master/Post/a%252Fb",
            "/v1/content/master/Post;x=1",
            "/v1/content/master/Post/a/b",
        ] {
            assert!(target(uri).is_err(), "{uri} was accepted");
        }
    }

    #[test]
    fn query_and_header_must_agree() {
        let mut headers = HeaderMap::new();
        headers.insert(
            super::super::descriptor::X_TALLY_STAGE,
            "DRAFT".parse().unwrap_or_else(|_| unreachable!()),
        );
        assert!(read("/v1/content/m/Post", Some("stage=PUBLISHED"), &headers).is_err());
        let same = read("/v1/content/m/Post", Some("stage=DRAFT"), &headers);
        assert_eq!(same.map(|t| t.stage), Ok(Some("DRAFT".into())));
        headers.append(
            super::super::descriptor::X_TALLY_STAGE,
            "DRAFT".parse().unwrap_or_else(|_| unreachable!()),
        );
        assert!(read("/v1/content/m/Post", None, &headers).is_err());
    }
}
