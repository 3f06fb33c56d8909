//! `POST /v1/management`: the URL an app's `context.project.mgmtApi` names.
//! GraphQL over HTTP (`{ query, variables, operationName }` as JSON); every
//! root field of the selected operation is checked as a management action
//! of its name (`createModel` → `{api: management, action: createModel}`),
//! in the environment named by `variables.environmentId` or
//! `X-Tally-Environment` (both given must agree). All allowed: the request
//! goes on to the platform's management endpoint
//! (`tally serve --management-upstream URL`) with the first field's
//! decision headers, as the content gateway forwards (credentials never).
//! One field refused: nothing is forwarded, and the answer is GraphQL's
//! error shape, `{ errors: [{ message, extensions: { reason, field } }] }`,
//! with the refusal's status (401 without valid credentials, 403 when not
//! granted) and `X-Tally-Reason`. Without an upstream, an allowed
//! operation is answered 501 (`no_upstream`). The document's limits
//! (`graphql.rs`) are 400s with their own reasons.
//!
//! Choices made here: the whole operation is refused when one field is
//! (GraphQL could answer the others, but a partial mutation is worse than
//! none); the decision headers are the first field's (a token's principal
//! is the same for every field; management grants carry no filter or
//! masked fields a platform would apply).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Value, json};
use verifier_core::{Action, Api};

use crate::http::{AppState, MAX_BODY_BYTES, error_with_body};
use crate::reason::Reason as HostReason;

use super::check::{CheckError, DecisionHeaders, Refusal, refusal, refusing};
use super::descriptor::{Descriptor, X_TALLY_ENVIRONMENT, authorization, value_str};
use super::graphql::{self, Refused};
use super::proxy::send;

/// A GraphQL request over HTTP.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct GraphqlRequest {
    query: String,
    #[serde(default)]
    variables: Option<Value>,
    #[serde(default)]
    operation_name: Option<String>,
}

/// An answer in GraphQL's error shape.
fn graphql_error(
    status: StatusCode,
    reason: HostReason,
    message: &str,
    field: Option<&str>,
) -> Response {
    let mut extensions = json!({ "reason": reason.as_str() });
    if let Some(field) = field {
        extensions["field"] = json!(field);
    }
    let body = json!({ "errors": [{ "message": message, "extensions": extensions }] });
    error_with_body(status, reason, axum::Json(body))
}

fn refused(refusal: &Refusal, field: Option<&str>) -> Response {
    graphql_error(refusal.status, refusal.reason, &refusal.message, field)
}

fn bad(reason: HostReason, message: &str) -> Response {
    graphql_error(StatusCode::BAD_REQUEST, reason, message, None)
}

/// The environment the request names: `variables.environmentId` or
/// `X-Tally-Environment` (read as `/v1/verify` reads it); an incomplete
/// descriptor when both are given and differ, or either is not text.
fn environment<'r>(
    variables: Option<&'r Value>,
    header: Option<&'r HeaderValue>,
) -> Result<Option<&'r str>, CheckError> {
    let from_variables = match variables.and_then(|v| v.get("environmentId")) {
        None | Some(Value::Null) => None,
        Some(Value::String(id)) => Some(id.as_str()),
        Some(_) => {
            return Err(CheckError::Descriptor(
                "variables.environmentId must be a string".into(),
            ));
        }
    };
    match (from_variables, value_str(header, &X_TALLY_ENVIRONMENT)?) {
        (Some(a), Some(b)) if a != b => Err(CheckError::Descriptor(format!(
            "variables.environmentId ({a:?}) and X-Tally-Environment ({b:?}) disagree"
        ))),
        (a, b) => Ok(a.or(b)),
    }
}

/// `POST /v1/management` (see the module docs).
#[utoipa::path(post, path = "/v1/management",
    summary = "Management GraphQL: each root field checked as a management action, then forwarded to --management-upstream",
    security(("appToken" = [])),
    request_body = inline(crate::authority::schema::GraphqlRequest),
    responses(
        (status = 200, description = "The management upstream's answer (any status)"),
        (status = 400, description = "Not a GraphQL request: invalid_document, document_too_large, document_too_deep, too_many_root_fields or bad_request", body = crate::authority::schema::GraphqlErrorsSchema),
        (status = 401, description = "No valid credentials", body = crate::authority::schema::GraphqlErrorsSchema),
        (status = 403, description = "A root field is not granted (extensions.field names it)", body = crate::authority::schema::GraphqlErrorsSchema),
        (status = 429, description = "Throttled: too many failed verifications from this address", body = crate::authority::schema::GraphqlErrorsSchema),
        (status = 501, description = "Allowed, but no management upstream is configured (no_upstream)", body = crate::authority::schema::GraphqlErrorsSchema),
        (status = 502, description = "The management upstream could not be reached", body = crate::authority::schema::GraphqlErrorsSchema),
        (status = 503, description = "The verifier plugin failed: denied (reason verifier_failed)", body = crate::authority::schema::GraphqlErrorsSchema)))]
pub(crate) async fn management(
    State(state): State<Arc<AppState>>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    request: axum::extract::Request,
) -> Response {
    let (mut parts, body) = request.into_parts();
    // Management answers no one without credentials (public grants are
    // content grants), so such a request is refused before its body is read.
    if !parts.headers.contains_key(header::AUTHORIZATION) {
        return refused(
            &Refusal::from(verifier_core::Reason::MissingCredentials),
            None,
        );
    }
    let Ok(bytes) = axum::body::to_bytes(body, MAX_BODY_BYTES).await else {
        return graphql_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            HostReason::TooLarge,
            "the request body is too large",
            None,
        );
    };
    let request: GraphqlRequest = match serde_json::from_slice(&bytes) {
        Ok(request) => request,
        Err(e) => {
            return bad(
                HostReason::BadRequest,
                &format!(
                    "the body is not a GraphQL request ({{ query, variables, operationName }}): {e}"
                ),
            );
        }
    };
    let operation = match graphql::read(&request.query, request.operation_name.as_deref()) {
        Ok(operation) => operation,
        Err(Refused::TooLarge) => {
            return bad(
                HostReason::DocumentTooLarge,
                &format!(
                    "the document is larger than {} bytes",
                    graphql::MAX_DOCUMENT_BYTES
                ),
            );
        }
        Err(Refused::TooDeep) => {
            return bad(
                HostReason::DocumentTooDeep,
                &format!("the document nests deeper than {}", graphql::MAX_DEPTH),
            );
        }
        Err(Refused::TooManyRootFields) => {
            return bad(
                HostReason::TooManyRootFields,
                &format!(
                    "the operation selects more than {} root fields",
                    graphql::MAX_ROOT_FIELDS
                ),
            );
        }
        Err(Refused::Invalid(message)) => return bad(HostReason::InvalidDocument, &message),
    };
    let environment_id = match environment(
        request.variables.as_ref(),
        parts.headers.get(&X_TALLY_ENVIRONMENT),
    ) {
        Ok(id) => id,
        Err(e) => return refused(&refusal(&state, e), None),
    };
    let now = state.authority.now();
    let mut first: Option<DecisionHeaders> = None;
    for field in &operation.root_fields {
        let Ok(action) = field.parse::<Action>() else {
            return bad(
                HostReason::InvalidDocument,
                &format!("{field:?} cannot name a management action"),
            );
        };
        let descriptor = Descriptor {
            api: Api::Management,
            action,
            environment_id,
            model: None,
            stage: None,
            locale: None,
            now,
        };
        let client = || state.trusted_proxies.client(addr, &parts.headers);
        match refusing(
            &state,
            client,
            authorization(&parts.headers),
            now,
            Ok(descriptor),
        )
        .await
        {
            Ok(allowed) => {
                first.get_or_insert(allowed);
            }
            Err(refusal) => return refused(&refusal, Some(field)),
        }
    }
    let Some(upstream) = state.management_upstream.as_ref() else {
        return graphql_error(
            StatusCode::NOT_IMPLEMENTED,
            HostReason::NoUpstream,
            "the operation is allowed, but this server forwards management operations nowhere \
             (tally serve --management-upstream URL)",
            None,
        );
    };
    let Ok(uri) = upstream.base.parse() else {
        return graphql_error(
            StatusCode::BAD_GATEWAY,
            HostReason::BadGateway,
            "cannot form the upstream URL",
            None,
        );
    };
    parts.uri = uri;
    parts.headers.remove(header::CONTENT_LENGTH);
    match send(&state, upstream, addr, parts, Body::from(bytes), first).await {
        Some(response) => response,
        None => graphql_error(
            StatusCode::BAD_GATEWAY,
            HostReason::BadGateway,
            "the management upstream could not be reached",
            None,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_environment_comes_from_variables_or_the_header_never_two() {
        let vars = json!({ "environmentId": "master" });
        let master = HeaderValue::from_static("master");
        let dev = HeaderValue::from_static("dev");
        assert_eq!(environment(Some(&vars), None).ok(), Some(Some("master")));
        assert_eq!(environment(None, Some(&dev)).ok(), Some(Some("dev")));
        assert_eq!(
            environment(Some(&vars), Some(&master)).ok(),
            Some(Some("master"))
        );
        assert!(environment(Some(&vars), Some(&dev)).is_err());
        assert!(environment(Some(&json!({ "environmentId": 1 })), None).is_err());
        assert_eq!(environment(Some(&json!({})), None).ok(), Some(None));
    }
}
