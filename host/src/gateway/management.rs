//! `POST /v1/management`: the URL an app's `context.project.mgmtApi` names.
//! GraphQL over HTTP (`{ query, variables, operationName }` as JSON); every
//! root field of the selected operation is checked as a management action
//! of its name (`createModel` → `{api: management, action: createModel}`),
//! in the environment the request names — `X-Tally-Environment`,
//! `variables.environmentId`, or an `environmentId` in the root fields'
//! arguments or in the variables they pass (all given must agree; see
//! [`environment`]). All allowed: the request
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
use super::graphql::{self, ENVIRONMENT_KEY, EnvironmentRefs};
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

/// The environment the request names: `X-Tally-Environment` (read as
/// `/v1/verify` reads it), `variables.environmentId`, and every
/// `environmentId` the operation's root fields pass ([`EnvironmentRefs`]:
/// literals, variables in its place, keys inside the JSON of variables
/// passed as arguments). All that are given must agree — the upstream acts
/// on the one in the mutation's input, so that is the one authorized; an
/// incomplete descriptor (400) when two differ or one is not text.
fn environment(
    variables: Option<&Value>,
    header: Option<&HeaderValue>,
    refs: &EnvironmentRefs,
) -> Result<Option<String>, CheckError> {
    let mut named: Vec<(String, String)> = Vec::new();
    let not_text = |place: &str| CheckError::Descriptor(format!("{place} must be a string"));
    if let Some(id) = value_str(header, &X_TALLY_ENVIRONMENT)? {
        named.push(("X-Tally-Environment".into(), id.to_string()));
    }
    let variable = |name: &str| variables.and_then(|v| v.get(name));
    match variable(ENVIRONMENT_KEY) {
        None | Some(Value::Null) => {}
        Some(Value::String(id)) => named.push(("variables.environmentId".into(), id.clone())),
        Some(_) => return Err(not_text("variables.environmentId")),
    }
    for id in &refs.literals {
        named.push(("the document's environmentId".into(), id.clone()));
    }
    for name in &refs.variables {
        match variable(name) {
            None | Some(Value::Null) => {}
            Some(Value::String(id)) => named.push((format!("${name}"), id.clone())),
            Some(_) => return Err(not_text(&format!("${name}"))),
        }
    }
    for name in &refs.containers {
        if let Some(value) = variable(name) {
            keys_in(value, &format!("${name}"), &mut named)?;
        }
    }
    let Some((first_place, first)) = named.first() else {
        return Ok(None);
    };
    match named.iter().find(|(_, id)| id != first) {
        Some((place, other)) => Err(CheckError::Descriptor(format!(
            "the request names two environments: {first:?} ({first_place}) and {other:?} ({place})"
        ))),
        None => Ok(Some(first.clone())),
    }
}

/// Every `environmentId` key inside `value` (a variable's JSON, nested at
/// most as deep as the JSON parser allows), with where it was found.
fn keys_in(value: &Value, place: &str, out: &mut Vec<(String, String)>) -> Result<(), CheckError> {
    match value {
        Value::Object(map) => {
            for (key, inner) in map {
                let here = format!("{place}.{key}");
                if key == ENVIRONMENT_KEY {
                    match inner {
                        Value::Null => {}
                        Value::String(id) => out.push((here, id.clone())),
                        _ => {
                            return Err(CheckError::Descriptor(format!("{here} must be a string")));
                        }
                    }
                } else {
                    keys_in(inner, &here, out)?;
                }
            }
        }
        Value::Array(items) => {
            for (i, inner) in items.iter().enumerate() {
                keys_in(inner, &format!("{place}[{i}]"), out)?;
            }
        }
        _ => {}
    }
    Ok(())
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
        // The same reasons as the content gateway's, with the reader's message.
        Err(refused) => {
            let reason =
                HostReason::from_wire(refused.reason()).unwrap_or(HostReason::InvalidDocument);
            return bad(reason, &refused.to_string());
        }
    };
    let environment_id = match environment(
        request.variables.as_ref(),
        parts.headers.get(&X_TALLY_ENVIRONMENT),
        &operation.environments,
    ) {
        Ok(id) => id,
        Err(e) => return refused(&refusal(&state, e), None),
    };
    let environment_id = environment_id.as_deref();
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

    fn env(vars: Option<&Value>, header: Option<&HeaderValue>) -> Option<Option<String>> {
        environment(vars, header, &EnvironmentRefs::default()).ok()
    }

    #[test]
    fn the_environment_comes_from_variables_or_the_header_never_two() {
        let vars = json!({ "environmentId": "master" });
        let master = HeaderValue::from_static("master");
        let dev = HeaderValue::from_static("dev");
        let some = |s: &str| Some(Some(s.to_string()));
        assert_eq!(env(Some(&vars), None), some("master"));
        assert_eq!(env(None, Some(&dev)), some("dev"));
        assert_eq!(env(Some(&vars), Some(&master)), some("master"));
        assert!(env(Some(&vars), Some(&dev)).is_none());
        assert!(env(Some(&json!({ "environmentId": 1 })), None).is_none());
        assert_eq!(env(Some(&json!({})), None), Some(None));
    }

    #[test]
    fn the_environment_in_the_mutations_input_is_the_one_checked() {
        let refs = |doc: &str| graphql::read(doc, None).unwrap().environments;
        let guide = refs(
            "mutation M($input: CreateModelInput!) { createModel(data: $input) { migration { id } } }",
        );
        let vars = json!({ "input": { "environmentId": "master", "apiId": "Post" } });
        assert_eq!(
            environment(Some(&vars), None, &guide).unwrap(),
            Some("master".to_string())
        );
        // The header says master, the input says prod: refused, not master.
        let prod = json!({ "input": { "environmentId": "prod" } });
        let master = HeaderValue::from_static("master");
        assert!(environment(Some(&prod), Some(&master), &guide).is_err());
        let nested = json!({ "environmentId": "master", "input": { "fields": [{ "environmentId": "prod" }] } });
        assert!(environment(Some(&nested), None, &guide).is_err());
        let literal = refs(r#"mutation { createModel(data: { environmentId: "prod" }) { id } }"#);
        let top = json!({ "environmentId": "master" });
        assert!(environment(Some(&top), None, &literal).is_err());
        assert_eq!(
            environment(None, None, &literal).unwrap(),
            Some("prod".to_string())
        );
        let direct = refs("mutation($e: String) { deleteModel(environmentId: $e) { id } }");
        assert!(environment(Some(&json!({ "e": 5 })), None, &direct).is_err());
        assert_eq!(
            environment(Some(&json!({ "e": "dev" })), None, &direct).unwrap(),
            Some("dev".to_string())
        );
    }
}
