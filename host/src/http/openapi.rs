//! The OpenAPI document, generated: every operation from its handler's
//! `#[utoipa::path]` (beside the handler, in `http`, `gateway` and
//! `studio`), every body from its type's `ToSchema` derive, and the shapes a
//! derive cannot see from `authority::schema`. Served at
//! `/v1/openapi.json`; `host/openapi.json` is the same bytes, kept for
//! tools and review and checked equal by a test (`TALLY_BLESS=1` rewrites
//! it).
//!
//! What every operation shares is added here once: a `400`
//! for input it cannot read; for those that need credentials (the
//! document's default security), `401`, `403` and `429`; and on every error
//! answer the headers the server sets (`X-Tally-Reason`, and
//! `WWW-Authenticate` on a `401`). The gateway's content route, one handler
//! for two path shapes, is written once and copied to its `/{id}` form;
//! `GET /v1/verify`'s header parameters come from the gateway's descriptor
//! header names.

use std::sync::OnceLock;

use serde_json::{Value, json};
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::{RefOr, Schema};
use utoipa::{Modify, OpenApi};

use crate::authority::schema as written;
use crate::http::ErrorBody;
use crate::reason::Reason;

/// The document's operations and components.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Tally authority",
        description = "See host/API.md for the prose reference.",
        version = "0.1.0"
    ),
    security(("appToken" = [])),
    paths(
        super::create_project,
        super::list_projects,
        super::create_environment,
        super::set_public_grants,
        super::models::list_models,
        super::models::get_model,
        super::models::put_model,
        super::models::delete_model,
        super::apps::create_app,
        super::apps::list_apps,
        super::apps::get_app,
        super::apps::edit_app,
        super::apps::delete_app,
        super::apps::rotate_client_secret,
        super::apps::publish_grants,
        super::apps::rotate_webhook_secret,
        super::apps::deliveries,
        super::apps::retry_delivery,
        super::install,
        super::get_installation,
        super::update_installation,
        super::uninstall,
        super::approve_grants,
        super::decline_grants,
        super::new_setup_code,
        super::set_installation_elements,
        super::session_token,
        super::create_token,
        super::list_tokens,
        super::revoke_token,
        super::rotate_token,
        super::audit,
        super::users::list_users,
        super::users::set_role,
        super::users::invite,
        super::users::list_invitations,
        super::users::revoke_invitation,
        super::exchange,
        super::oauth::token,
        super::oauth::revoke,
        super::oauth::metadata,
        super::oauth::connections,
        super::oauth::end_connection,
        super::healthz,
        super::livez,
        super::readyz,
        super::metrics,
        super::openapi,
        super::reload_plugin,
        super::list_installations,
        super::token_record,
        super::environment_record,
        super::feed::feed,
        super::feed::snapshot,
        crate::gateway::verify,
        crate::gateway::verify_envoy,
        crate::gateway::proxy,
        crate::gateway::management,
        crate::gateway::graphql,
        crate::gateway::graphql_get,
        crate::studio::page,
        crate::studio::session,
        crate::studio::sign_in,
        crate::studio::sign_out,
    ),
    components(schemas(
        ErrorBody,
        written::GrantSchema,
        written::InstallationSchema,
        written::InstallationUpdateSchema,
        written::TokenRecordSchema,
        written::EnvironmentRecordSchema,
        written::ModelSchema,
        written::FeedPageSchema,
        written::ExchangeRequestSchema,
        written::ExchangeResponseSchema,
        written::GraphqlErrorsSchema,
    )),
    modifiers(&Shared)
)]
struct ApiDoc;

/// What every operation shares (see the module docs).
struct Shared;

impl Modify for Shared {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "appToken",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "Authorization",
                "AppToken <tokenId>.<secret> (Bearer accepted)",
            ))),
        );
    }
}

/// The enum of every reason's wire name, for the error body's `reason`.
pub(crate) fn reason_names() -> RefOr<Schema> {
    let names = Reason::HOST
        .iter()
        .copied()
        .chain(verifier_core::Reason::ALL.map(Reason::Decision))
        .map(Reason::as_str);
    RefOr::T(Schema::Object(
        ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(names))
            .build(),
    ))
}

/// The error answer with `description`.
fn error_answer(description: &str) -> Value {
    json!({
        "description": description,
        "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } },
    })
}

/// Adds the shared answers and headers to `operation`; `secured` when it
/// takes the document's default security.
fn share(operation: &mut serde_json::Map<String, Value>, secured: bool) {
    let responses = operation
        .entry("responses")
        .or_insert_with(|| json!({}))
        .as_object_mut();
    let Some(responses) = responses else { return };
    responses
        .entry("400")
        .or_insert_with(|| error_answer("Bad input: the message says what"));
    if secured {
        responses
            .entry("401")
            .or_insert_with(|| error_answer("No or bad credentials"));
        responses
            .entry("403")
            .or_insert_with(|| error_answer("Not granted"));
        responses.entry("429").or_insert_with(|| {
            error_answer(
                "Throttled (reason throttled): too many failed credential checks from this \
                 address; a request with good credentials is never refused for it",
            )
        });
    }
    for (status, response) in responses.iter_mut() {
        if !status.starts_with('4') && !status.starts_with('5') {
            continue;
        }
        let Some(response) = response.as_object_mut() else {
            continue;
        };
        let headers = response
            .entry("headers")
            .or_insert_with(|| json!({}))
            .as_object_mut();
        let Some(headers) = headers else { continue };
        headers.insert(
            "X-Tally-Reason".into(),
            json!({
                "description": "the reason again (kept by proxies that replace the body)",
                "schema": { "type": "string" },
            }),
        );
        if status == "401" {
            headers.insert(
                "WWW-Authenticate".into(),
                json!({ "description": "AppToken, Bearer", "schema": { "type": "string" } }),
            );
        }
    }
}

/// The document, as served: generated, the shared answers added, every
/// written schema in place of its placeholder.
pub fn document() -> Result<Value, String> {
    let mut doc = serde_json::to_value(ApiDoc::openapi()).map_err(|e| e.to_string())?;
    written::expand(&mut doc)?;
    let paths = doc
        .get_mut("paths")
        .and_then(Value::as_object_mut)
        .ok_or("the document has no paths")?;
    for item in paths.values_mut() {
        let Some(item) = item.as_object_mut() else {
            continue;
        };
        for operation in item.values_mut() {
            if let Some(operation) = operation.as_object_mut() {
                // utoipa tags an operation with its handler's module path,
                // which says nothing to a reader of the API.
                operation.remove("tags");
                let secured = !operation.contains_key("security");
                share(operation, secured);
            }
        }
    }
    // The check's descriptor headers, from the gateway's own names.
    if let Some(verify) = paths
        .get_mut("/v1/verify")
        .and_then(|item| item.get_mut("get"))
        .and_then(Value::as_object_mut)
    {
        verify.insert("parameters".into(), crate::gateway::openapi_parameters());
    }
    // The content route's second shape: the same operations with an id.
    let collection = paths
        .get("/v1/content/{environment}/{model}")
        .cloned()
        .ok_or("the document has no content route")?;
    let mut item = collection;
    if let Some(item) = item.as_object_mut() {
        for (method, operation) in item.iter_mut() {
            operation["operationId"] = json!(format!("content_item_{method}"));
            if let Some(parameters) = operation
                .get_mut("parameters")
                .and_then(Value::as_array_mut)
            {
                parameters.push(json!({
                    "name": "id", "in": "path", "required": true, "schema": { "type": "string" },
                }));
            }
        }
    }
    paths.insert("/v1/content/{environment}/{model}/{id}".into(), item);
    // One handler, five methods: an operation id each.
    for (path, prefix) in [
        ("/v1/content/{environment}/{model}", "content"),
        ("/v1/verify/{path}", "verify_envoy"),
    ] {
        if let Some(item) = paths.get_mut(path).and_then(Value::as_object_mut) {
            for (method, operation) in item.iter_mut() {
                operation["operationId"] = json!(format!("{prefix}_{method}"));
            }
        }
    }
    Ok(doc)
}

/// [`document`] as the bytes `/v1/openapi.json` serves (pretty JSON and a
/// final newline, as `host/openapi.json` holds it), made once.
pub fn served() -> &'static str {
    static SERVED: OnceLock<String> = OnceLock::new();
    SERVED.get_or_init(|| match document() {
        Ok(doc) => {
            let mut text = serde_json::to_string_pretty(&doc).unwrap_or_default();
            text.push('\n');
            text
        }
        // A test holds the document to the file, so a build whose document
        // cannot be made does not pass; should one run, it says why.
        Err(e) => json!({ "error": e }).to_string(),
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_file_is_the_generated_document() {
        let generated = super::served();
        assert!(
            !generated.contains("x-tally-schema"),
            "a placeholder is left"
        );
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.json");
        if std::env::var_os("TALLY_BLESS").is_some() {
            std::fs::write(path, generated).unwrap();
        }
        let file = std::fs::read_to_string(path).unwrap();
        assert!(
            file == generated,
            "host/openapi.json is not the generated document; run \
             TALLY_BLESS=1 cargo test -p tally --lib openapi and review the diff"
        );
    }
}
