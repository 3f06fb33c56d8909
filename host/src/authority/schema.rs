//! JSON schemas of what the authority accepts and answers, where a derive
//! cannot see it: the shapes `verifier-core` serializes by hand (a grant's
//! scopes are `"*"` or a list; a token record's id and hash are hex) and
//! the limits `validation` checks (an id's characters, a name's length, an
//! origin's form). `http/openapi.rs` assembles them with the derived
//! schemas of this module's request and view types into the OpenAPI
//! document. Each is written from the constants the checks use, so the
//! document and the checks cannot drift.
//!
//! `utoipa`'s schema model lacks some JSON Schema 2020-12 keywords these
//! need (`const` without a type, `propertyNames`, `not`), so each is put
//! into the derived document as a placeholder naming it, and `expand`
//! writes the JSON in its place once the document is serialized.

use std::borrow::Cow;

use serde_json::{Value, json};
use utoipa::openapi::{RefOr, Schema};
use utoipa::{PartialSchema, ToSchema};
use verifier_core::grant::{MAX_GRANTS, MAX_LIST, MAX_NAME};
use verifier_core::model::MAX_MODELS;

use super::validation::{MAX_EMAIL, MAX_ID, MAX_ORIGINS, MAX_REDIRECT_URIS, MAX_TEXT, MAX_URL};

/// Where a schema written here goes: an object naming it, which [`expand`]
/// replaces.
fn placeholder(name: &'static str) -> RefOr<Schema> {
    let mut extensions = utoipa::openapi::extensions::Extensions::default();
    extensions.insert(PLACEHOLDER.into(), json!(name));
    RefOr::T(Schema::Object(
        utoipa::openapi::schema::ObjectBuilder::new()
            .extensions(Some(extensions))
            .build(),
    ))
}

/// The key of a placeholder's name.
const PLACEHOLDER: &str = "x-tally-schema";

/// Writes every schema of this module where the document holds its
/// placeholder; an error names a placeholder this module does not know.
pub(crate) fn expand(document: &mut Value) -> Result<(), String> {
    match document {
        Value::Object(map) => {
            if let Some(name) = map.get(PLACEHOLDER) {
                let name = name.as_str().unwrap_or_default().to_owned();
                let written = WRITTEN
                    .iter()
                    .find(|(n, _)| *n == name)
                    .ok_or_else(|| format!("no schema is written for {name:?}"))?;
                *document = (written.1)();
                return Ok(());
            }
            map.values_mut().try_for_each(expand)
        }
        Value::Array(items) => items.iter_mut().try_for_each(expand),
        _ => Ok(()),
    }
}

/// A reference to the component `name`.
fn reference(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

/// Declares `$name()`, a field's schema (a placeholder), and `$name::json`,
/// the JSON [`expand`] writes for it (listed in [`WRITTEN`]).
macro_rules! field {
    ($(#[$doc:meta])* $name:ident, $json:expr) => {
        $(#[$doc])*
        pub(crate) fn $name() -> RefOr<Schema> {
            placeholder(stringify!($name))
        }

        mod $name {
            #[allow(unused_imports)]
            use super::*;

            pub(super) fn json() -> Value {
                $json
            }
        }
    };
}

/// Declares a schema written here as the component `$name` (a
/// placeholder; its JSON is `$type::json`, listed in [`WRITTEN`]).
macro_rules! component {
    ($(#[$doc:meta])* $type:ident = $name:literal, $json:expr) => {
        $(#[$doc])*
        pub struct $type;

        impl $type {
            fn json() -> Value {
                $json
            }
        }

        impl PartialSchema for $type {
            fn schema() -> RefOr<Schema> {
                placeholder($name)
            }
        }

        impl ToSchema for $type {
            fn name() -> Cow<'static, str> {
                Cow::Borrowed($name)
            }
        }
    };
}

field!(
    /// An id: 1 to [`MAX_ID`] of `[A-Za-z0-9_-]` (`validation::check_id`).
    id,
    id_json()
);

fn id_json() -> Value {
    json!({
        "type": "string",
        "pattern": format!("^[A-Za-z0-9_-]{{1,{MAX_ID}}}$"),
        "description": format!("1 to {MAX_ID} of [A-Za-z0-9_-]"),
    })
}

field!(
    /// An optional id (`null` or absent: the default).
    optional_id, {
    let mut value = id_json();
    value["type"] = json!(["string", "null"]);
    value
});

field!(
    /// A name: 1 to [`MAX_TEXT`] characters, not all white space, no control
    /// characters (`validation::check_text`).
    text,
    json!({
        "type": "string",
        "minLength": 1,
        "maxLength": MAX_TEXT,
        "pattern": "^[^\\u0000-\\u001f\\u007f-\\u009f]*[^\\s\\u0000-\\u001f\\u007f-\\u009f][^\\u0000-\\u001f\\u007f-\\u009f]*$",
        "description": format!("1 to {MAX_TEXT} characters, not all white space, no control characters"),
    })
);

field!(
    /// An invitation's email (`validation::check_email`).
    email,
    {
        let part = "[^@\\s\\u0000-\\u001f\\u007f-\\u009f\\ufeff]";
        json!({
            "type": "string",
            "maxLength": MAX_EMAIL,
            "pattern": format!("^{part}+@{part}*\\.{part}*$"),
            "description": "an address like someone@example.com",
        })
    }
);

field!(
    /// A name, or `null`.
    optional_text,
    {
        let mut value = text::json();
        value["type"] = json!(["string", "null"]);
        value
    }
);

field!(
    /// An app's setup URL (`validation::check_url`).
    setup_url,
    json!({
        "type": "string",
        "maxLength": MAX_URL,
        "pattern": "^https?://[^#\\s\\u0000-\\u001f\\u007f-\\u009f]*$",
        "description": "an http(s) URL without a fragment",
    })
);

field!(
    /// A connected app's redirect URIs (`validation::check_redirect_uri`).
    redirect_uris,
    {
        let rest = "[^#\\s\\u0000-\\u001f\\u007f-\\u009f]";
        json!({
            "type": "array",
            "maxItems": MAX_REDIRECT_URIS,
            "items": {
                "type": "string",
                "maxLength": MAX_URL,
                "pattern": format!("^(https://{rest}+|http://(127\\.0\\.0\\.1|\\[::1\\]|localhost)([:/]{rest}*)?)$"),
                "description": "an https URL, or http on 127.0.0.1, [::1] or localhost, without a fragment",
            },
        })
    }
);

field!(
    /// An app's elements (`authority::elements::check_elements`; that each
    /// `url` is on one of the app's origins is checked, not stated).
    elements,
    json!({
        "type": "array",
        "maxItems": crate::authority::MAX_ELEMENTS,
        "items": {
            "type": "object",
            "required": ["type", "apiId", "name", "url"],
            "additionalProperties": false,
            "properties": {
                "type": { "enum": ["page", "sidebar", "field"] },
                "apiId": { "type": "string", "pattern": format!("^[A-Za-z][A-Za-z0-9_]{{0,{}}}$", crate::authority::MAX_ELEMENT_ID - 1) },
                "name": text::json(),
                "url": setup_url::json(),
                "fieldType": { "enum": verifier_core::FIELD_TYPES },
                "config": { "type": "object", "description": format!("at most {} bytes as JSON", crate::authority::MAX_CONFIG_BYTES) },
            },
            "oneOf": [
                { "properties": { "type": { "const": "field" } }, "required": ["fieldType"] },
                { "properties": { "type": { "enum": ["page", "sidebar"] } }, "not": { "required": ["fieldType"] } },
            ],
        },
    })
);

field!(
    /// Elements, or `null`.
    optional_elements,
    {
        let mut value = elements::json();
        value["type"] = json!(["array", "null"]);
        value
    }
);

field!(
    /// Redirect URIs, or `null`.
    optional_redirect_uris,
    {
        let mut value = redirect_uris::json();
        value["type"] = json!(["array", "null"]);
        value
    }
);

field!(
    /// An app's main page: a setup URL, or `null`.
    optional_url,
    {
        let mut value = setup_url::json();
        value["type"] = json!(["string", "null"]);
        value
    }
);

field!(
    /// An app's origins (`validation::check_origins`).
    origins,
    json!({
        "type": "array",
        "minItems": 1,
        "maxItems": MAX_ORIGINS,
        "items": {
            "type": "string",
            "maxLength": MAX_URL,
            "pattern": "^https?://([a-z0-9]+(-[a-z0-9]+)*\\.)*[a-z][a-z0-9]*(-[a-z0-9]+)*(:[1-9][0-9]{0,3})?$",
            "description": "scheme://host[:port]. Other spellings of an origin that browsers read the same (an upper-case host, a default port, a trailing slash, an IP address) are accepted too and stored as browsers serialise them; anything with a path, query, fragment, user info, white space, control characters, quotes, backslashes, ',' or ';' is refused.",
        },
    })
);

field!(
    /// An app's origins, or `null`.
    optional_origins,
    {
        let mut value = origins::json();
        value["type"] = json!(["array", "null"]);
        value
    }
);

field!(
    /// Grants a token may hold (at most [`MAX_GRANTS`]).
    grants,
    json!({ "type": "array", "maxItems": MAX_GRANTS, "items": reference("Grant") })
);

field!(
    /// An app's grants: never the management admin or replica grant
    /// (`validation::check_management_scope`).
    app_grants,
    json!({
        "type": "array",
        "maxItems": MAX_GRANTS,
        "items": { "allOf": [reference("Grant"), { "not": {
            "type": "object",
            "required": ["api", "action"],
            "properties": { "api": { "const": "management" }, "action": { "enum": ["admin", "replica"] } },
        } }] },
        "description": "what its app tokens may do; never the management admin or replica grant",
    })
);

field!(
    /// An environment's public grants: content grants only.
    public_grants,
    json!({
        "type": "array",
        "maxItems": MAX_GRANTS,
        "items": { "allOf": [reference("Grant"), {
            "type": "object", "properties": { "api": { "const": "content" } },
        }] },
        "description": "content grants only",
    })
);

field!(
    /// Grants as answered.
    grant_list,
    json!({ "type": "array", "items": reference("Grant") })
);

field!(
    /// A token's kind as answered.
    token_kind,
    json!({ "type": "string", "enum": ["APP", "PAT", "SYSTEM", "SESSION"] })
);

field!(
    /// The kinds `POST /v1/tokens` makes.
    new_token_kind,
    json!({ "type": "string", "enum": ["PAT", "SYSTEM"] })
);

field!(
    /// Unix seconds, in the future.
    expires_at,
    json!({
        "type": ["integer", "null"],
        "format": "int64",
        "description": "unix seconds, in the future",
    })
);

field!(
    /// An installation, as [`Installed`](super::Installed) holds it.
    installation,
    reference("Installation")
);

field!(
    /// A JSON object: an installation's config or an audit entry's detail.
    object,
    json!({ "type": "object" })
);

/// Names in a grant's scope: `"*"` or a list.
fn scope() -> Value {
    json!({ "oneOf": [{ "const": "*" }, {
        "type": "array", "maxItems": MAX_LIST,
        "items": { "type": "string", "minLength": 1, "maxLength": MAX_NAME },
    }] })
}

component!(
    /// `verifier_core::Grant`.
    GrantSchema = "Grant",
    json!({
        "type": "object",
        "properties": {
            "api": { "enum": ["content", "management"] },
            "action": { "type": "string", "pattern": format!("^[A-Za-z0-9_.:-]{{1,{MAX_NAME}}}$") },
            "models": scope(),
            "stages": scope(),
            "locales": scope(),
            "environments": scope(),
            "condition": { "anyOf": [{
                "type": "object", "minProperties": 1, "maxProperties": MAX_LIST,
                "propertyNames": { "type": "string", "minLength": 1, "maxLength": MAX_NAME },
                "additionalProperties": { "type": "string", "maxLength": MAX_NAME },
            }, { "type": "null" }] },
            "unmask": {
                "type": "array", "maxItems": MAX_LIST,
                "items": { "type": "string", "minLength": 1, "maxLength": MAX_NAME },
            },
        },
        "required": ["api", "action"],
        "additionalProperties": false,
    })
);

const STATUSES: [&str; 4] = ["PENDING", "COMPLETED", "DISABLED", "UNINSTALLED"];
/// What `PATCH /v1/installations/{i}` may set: uninstalling is
/// `DELETE /v1/installations/{i}`.
const SETTABLE_STATUSES: [&str; 3] = ["PENDING", "COMPLETED", "DISABLED"];

component!(
    /// An installation (`authority::InstallationView`).
    InstallationSchema = "Installation",
    json!({
        "type": "object",
        "required": ["id", "appId", "environmentId", "status", "config", "grants",
            "grantsVersion", "requestedGrants", "requestedVersion", "disabledElements"],
        "properties": {
            "id": { "type": "string" },
            "appId": { "type": "string" },
            "environmentId": { "type": "string" },
            "status": { "enum": STATUSES },
            "config": { "type": "object" },
            "grants": { "type": "array", "items": reference("Grant"),
                "description": "the grants approved: what its tokens get" },
            "grantsVersion": { "type": "integer", "format": "int64", "minimum": 1 },
            "requestedGrants": { "type": ["array", "null"], "items": reference("Grant"),
                "description": "the app's newer grants waiting for approval (update requested); null when none" },
            "requestedVersion": { "type": ["integer", "null"], "format": "int64" },
            "disabledElements": { "type": "array", "items": { "type": "string" },
                "description": "apiIds of the app's elements turned off in this installation" },
        },
    })
);

component!(
    /// `verifier_core::InstallationUpdate`.
    InstallationUpdateSchema = "InstallationUpdate",
    json!({
        "type": "object",
        "properties": {
            "status": { "type": ["string", "null"], "enum": SETTABLE_STATUSES },
            "config": { "type": ["object", "null"], "description": "at most 64 KiB as JSON" },
        },
        "additionalProperties": false,
    })
);

component!(
    /// `verifier_core::TokenRecord`, as `GET /v1/records` answers it.
    TokenRecordSchema = "TokenRecord",
    json!({
        "type": "object",
        "description": "The verifier's token record (verifier-core/ABI.md); the secret only as its SHA-256.",
        "required": ["tokenId", "secretHash", "kind", "name", "grants", "revoked"],
        "properties": {
            "tokenId": { "type": "string", "pattern": "^[0-9a-f]{16}$" },
            "secretHash": { "type": "string", "pattern": "^[0-9a-f]{64}$" },
            "kind": { "type": "string", "enum": ["APP", "PAT", "SYSTEM", "SESSION"] },
            "name": { "type": "string" },
            "projectId": { "type": "string" },
            "environmentId": { "type": "string" },
            "installationId": { "type": "string" },
            "principal": { "type": "string" },
            "grants": { "type": "array", "items": reference("Grant") },
            "expiresAt": { "type": "integer" },
            "revoked": { "type": "boolean" },
        },
    })
);

component!(
    /// `verifier_core::Environment`, as `GET /v1/records` answers it.
    EnvironmentRecordSchema = "EnvironmentRecord",
    json!({
        "type": "object",
        "required": ["id", "defaultStage", "publicGrants"],
        "properties": {
            "id": { "type": "string" },
            "defaultStage": { "type": "string" },
            "publicGrants": { "type": "array", "items": reference("Grant") },
            "models": { "type": "array", "maxItems": MAX_MODELS, "items": reference("Model") },
        },
    })
);

/// A GraphQL name within the limits (`verifier_core::Model::validate`).
fn graphql_name_json() -> Value {
    json!({ "type": "string", "pattern": "^[A-Za-z][A-Za-z0-9_]*$", "maxLength": MAX_NAME })
}

component!(
    /// `verifier_core::Model`: a content model an environment registers.
    ModelSchema = "Model",
    json!({
        "type": "object",
        "required": ["apiId", "apiIdPlural"],
        "properties": {
            "apiId": graphql_name_json(),
            "apiIdPlural": graphql_name_json(),
            "ownerField": graphql_name_json(),
            "sensitiveFields": { "type": "array", "maxItems": MAX_LIST, "uniqueItems": true, "items": graphql_name_json() },
        },
        "additionalProperties": false,
    })
);

component!(
    /// The body of `PUT /v1/environments/{e}/models/{apiId}`.
    ModelBodySchema = "ModelBody",
    json!({
        "type": "object",
        "required": ["apiIdPlural"],
        "properties": {
            "apiId": { "type": "string", "description": "if given, the path's" },
            "apiIdPlural": graphql_name_json(),
            "ownerField": { "type": ["string", "null"], "pattern": "^[A-Za-z][A-Za-z0-9_]*$", "maxLength": MAX_NAME },
            "sensitiveFields": { "type": "array", "maxItems": MAX_LIST, "uniqueItems": true, "items": graphql_name_json() },
        },
        "additionalProperties": false,
    })
);

/// A list of models, as `GET /v1/environments/{e}/models` answers it.
pub struct ModelList;

impl PartialSchema for ModelList {
    fn schema() -> RefOr<Schema> {
        utoipa::openapi::schema::ArrayBuilder::new()
            .items(RefOr::Ref(utoipa::openapi::Ref::from_schema_name("Model")))
            .into()
    }
}

impl ToSchema for ModelList {}

component!(
    /// A page of the change feed (`GET /v1/records`).
    FeedPageSchema = "FeedPage",
    json!({
        "type": "object",
        "required": ["changes", "cursor"],
        "properties": {
            "cursor": { "type": "integer", "description": "Pass as `after` to read on" },
            "changes": { "type": "array", "items": {
                "type": "object",
                "required": ["seq"],
                "properties": {
                    "seq": { "type": "integer" },
                    "record": reference("TokenRecord"),
                    "environment": reference("EnvironmentRecord"),
                },
            } },
        },
    })
);

/// A snapshot page's record: [`TokenRecordSchema`]'s, with `grantList`
/// (an index into the page's `grantLists`) in place of `grants`.
fn snapshot_record() -> Value {
    let mut record = TokenRecordSchema::json();
    record["description"] = json!("A TokenRecord whose grants are an index into grantLists");
    if let Some(properties) = record["properties"].as_object_mut() {
        properties.remove("grants");
        properties.insert(
            "grantList".into(),
            json!({ "type": "integer", "minimum": 0 }),
        );
    }
    if let Some(required) = record["required"].as_array_mut() {
        for name in required.iter_mut().filter(|n| *n == "grants") {
            *name = json!("grantList");
        }
    }
    record
}

component!(
    /// A page of a replica's snapshot (`GET /v1/records/snapshot`):
    /// `authority::SnapshotPage`.
    SnapshotPageSchema = "SnapshotPage",
    json!({
        "type": "object",
        "required": ["cursor", "grantLists", "records"],
        "properties": {
            "cursor": { "type": "integer", "description": "The feed's cursor before the page was read; follow the feed from the first page's" },
            "environments": { "type": "array", "items": reference("EnvironmentRecord"),
                "description": "Every environment, on the first page" },
            "grantLists": { "type": "array", "items": { "type": "array", "items": reference("Grant") },
                "description": "The distinct grant lists of the page's records" },
            "records": { "type": "array", "items": snapshot_record() },
            "next": { "type": "string", "pattern": "^[0-9a-f]{16}$", "description": "Pass as `after` for the next page; absent on the last" },
        },
    })
);

component!(
    /// `verifier_core::exchange::ExchangeRequest`.
    ExchangeRequestSchema = "ExchangeRequest",
    json!({
        "type": "object",
        "properties": {
            "clientId": { "type": "string", "minLength": 1 },
            "clientSecret": { "type": "string", "minLength": 1 },
            "exchangeCode": { "type": "string", "minLength": 1 },
        },
        "required": ["clientId", "clientSecret", "exchangeCode"],
    })
);

component!(
    /// `verifier_core::exchange::ExchangeResponse`.
    ExchangeResponseSchema = "ExchangeResponse",
    json!({
        "type": "object",
        "required": ["appToken"],
        "properties": { "appToken": { "type": "string" } },
    })
);

/// Declares `$type`, one of this module's schemas as a type, for where
/// `utoipa` takes a type (a request body, a parameter, a response).
macro_rules! typed {
    ($(#[$doc:meta])* $type:ident = $name:ident) => {
        $(#[$doc])*
        pub struct $type;

        impl PartialSchema for $type {
            fn schema() -> RefOr<Schema> {
                $name()
            }
        }

        impl ToSchema for $type {}
    };
}

typed!(
    /// The body of `PUT /v1/environments/{e}/public-grants`.
    PublicGrants = public_grants
);
typed!(
    /// Grants as answered.
    GrantList = grant_list
);
typed!(
    /// The body of `PUT /v1/apps/{id}/grants`.
    AppGrants = app_grants
);

/// A descriptor header's value: visible ASCII, no white space at
/// either end (what the gateway accepts in an `X-Tally-*` header); an
/// empty value reads as none.
pub(crate) fn header_value_json() -> Value {
    json!({
        "type": "string",
        "pattern": "^([\\x21-\\x7e]([\\x20-\\x7e]*[\\x21-\\x7e])?)?$",
        "description": "visible ASCII; empty: as if absent",
    })
}

/// An action's name.
pub(crate) fn action_name_json() -> Value {
    json!({ "type": "string", "pattern": format!("^[A-Za-z0-9_.:-]{{1,{MAX_NAME}}}$") })
}

/// `X-Tally-Api`.
pub(crate) fn api_name_json() -> Value {
    json!({ "type": "string", "enum": ["content", "management"], "default": "content" })
}

field!(
    /// The body of `POST /studio/session`.
    studio_sign_in,
    json!({
        "type": "object",
        "required": ["token"],
        "properties": { "token": { "type": "string" } },
        "additionalProperties": false,
    })
);
typed!(
    /// See `studio_sign_in`.
    StudioSignIn = studio_sign_in
);

field!(
    /// The answer of `GET /studio/session`.
    studio_session,
    json!({
        "type": "object",
        "required": ["signedIn", "signIn"],
        "properties": {
            "signedIn": { "type": "boolean" },
            "user": {
                "type": "object",
                "required": ["id"],
                "properties": {
                    "id": { "type": "string", "description": "user:<id> for a person, token:<tokenId> for an admin token, as the audit log names them" },
                    "name": { "type": ["string", "null"] },
                    "email": { "type": ["string", "null"], "description": "a person's verified email" },
                    "roles": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["projectId", "role"],
                            "properties": {
                                "projectId": { "type": "string", "description": "a project, or * for every project" },
                                "role": { "enum": ["owner", "admin", "developer", "viewer"] },
                            },
                        },
                    },
                },
                "description": "who signed in (while signed in)",
            },
            "access": { "type": "boolean", "description": "whether the management API is the session's" },
            "claimable": { "type": "boolean", "description": "a person may claim ownership: no one owns the projects yet" },
            "signIn": {
                "type": "object",
                "required": ["oidc", "adminToken"],
                "properties": {
                    "oidc": { "type": "boolean", "description": "sign-in with the OpenID provider is offered" },
                    "adminToken": { "type": "boolean", "description": "sign-in with an admin token is accepted" },
                },
            },
        },
    })
);
typed!(
    /// See `studio_session`.
    StudioSession = studio_session
);

field!(
    /// The answer of `GET /.well-known/oauth-authorization-server`
    /// (RFC 8414).
    oauth_metadata,
    json!({
        "type": "object",
        "required": ["issuer", "authorization_endpoint", "token_endpoint", "response_types_supported"],
        "properties": {
            "issuer": { "type": "string" },
            "authorization_endpoint": { "type": "string" },
            "token_endpoint": { "type": "string" },
            "revocation_endpoint": { "type": "string" },
            "response_types_supported": { "type": "array", "items": { "type": "string" } },
            "grant_types_supported": { "type": "array", "items": { "type": "string" } },
            "code_challenge_methods_supported": { "type": "array", "items": { "type": "string" } },
        },
    })
);
typed!(
    /// See `oauth_metadata`.
    OAuthMetadata = oauth_metadata
);

field!(
    /// The body of `PATCH /v1/installations/{i}/elements`.
    element_switches,
    json!({
        "type": "object",
        "propertyNames": { "type": "string", "pattern": format!("^[A-Za-z][A-Za-z0-9_]{{0,{}}}$", crate::authority::MAX_ELEMENT_ID - 1) },
        "additionalProperties": { "type": "boolean" },
    })
);
typed!(
    /// See `element_switches`.
    ElementSwitches = element_switches
);

field!(
    /// The answer of `POST /v1/plugin/reload`.
    reloaded,
    json!({ "type": "object", "properties": { "reloaded": { "type": "boolean" } } })
);
typed!(
    /// See `reloaded`.
    Reloaded = reloaded
);

field!(
    /// The body of `POST /v1/management`: GraphQL over HTTP.
    graphql_request,
    json!({
        "type": "object",
        "required": ["query"],
        "properties": {
            "query": { "type": "string", "minLength": 1 },
            "variables": { "type": ["object", "null"], "description": "environmentId, if given, names the environment the fields are checked in" },
            "operationName": { "type": ["string", "null"] },
        },
    })
);
typed!(
    /// See `graphql_request`.
    GraphqlRequest = graphql_request
);

component!(
    /// GraphQL's error shape, as `POST /v1/management` refuses.
    GraphqlErrorsSchema = "GraphQLErrors",
    json!({
        "type": "object",
        "required": ["errors"],
        "properties": { "errors": { "type": "array", "minItems": 1, "items": {
            "type": "object",
            "required": ["message", "extensions"],
            "properties": {
                "message": { "type": "string" },
                "extensions": {
                    "type": "object",
                    "required": ["reason"],
                    "properties": {
                        "reason": { "type": "string" },
                        "field": { "type": "string", "description": "the root field refused" },
                    },
                },
            },
        } } },
    })
);

/// A schema written here: the name its placeholder carries, and its JSON.
type Written = (&'static str, fn() -> Value);

/// Every schema written here, by the name its placeholder carries.
const WRITTEN: &[Written] = &[
    ("Grant", GrantSchema::json),
    ("Installation", InstallationSchema::json),
    ("InstallationUpdate", InstallationUpdateSchema::json),
    ("TokenRecord", TokenRecordSchema::json),
    ("EnvironmentRecord", EnvironmentRecordSchema::json),
    ("Model", ModelSchema::json),
    ("ModelBody", ModelBodySchema::json),
    ("FeedPage", FeedPageSchema::json),
    ("SnapshotPage", SnapshotPageSchema::json),
    ("ExchangeRequest", ExchangeRequestSchema::json),
    ("ExchangeResponse", ExchangeResponseSchema::json),
    ("id", id::json),
    ("optional_id", optional_id::json),
    ("text", text::json),
    ("optional_text", optional_text::json),
    ("email", email::json),
    ("setup_url", setup_url::json),
    ("optional_url", optional_url::json),
    ("redirect_uris", redirect_uris::json),
    ("elements", elements::json),
    ("optional_elements", optional_elements::json),
    ("optional_redirect_uris", optional_redirect_uris::json),
    ("origins", origins::json),
    ("optional_origins", optional_origins::json),
    ("grants", grants::json),
    ("app_grants", app_grants::json),
    ("public_grants", public_grants::json),
    ("grant_list", grant_list::json),
    ("token_kind", token_kind::json),
    ("new_token_kind", new_token_kind::json),
    ("expires_at", expires_at::json),
    ("installation", installation::json),
    ("object", object::json),
    ("studio_sign_in", studio_sign_in::json),
    ("studio_session", studio_session::json),
    ("reloaded", reloaded::json),
    ("element_switches", element_switches::json),
    ("oauth_metadata", oauth_metadata::json),
    ("graphql_request", graphql_request::json),
    ("GraphQLErrors", GraphqlErrorsSchema::json),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_placeholder_expands_to_its_json() {
        for (name, json) in WRITTEN {
            let mut doc = json!({ "a": [serde_json::to_value(placeholder(name)).unwrap()] });
            expand(&mut doc).unwrap();
            assert_eq!(doc, json!({ "a": [json()] }), "{name}");
        }
        let mut unknown = serde_json::to_value(placeholder("nope")).unwrap();
        assert!(expand(&mut unknown).is_err());
    }

    #[test]
    fn limits_are_the_checks_own() {
        assert_eq!(text::json()["maxLength"], MAX_TEXT);
        assert_eq!(origins::json()["maxItems"], MAX_ORIGINS);
        assert_eq!(grants::json()["maxItems"], MAX_GRANTS);
        assert_eq!(
            GrantSchema::json()["properties"]["condition"]["anyOf"][0]["maxProperties"],
            MAX_LIST
        );
    }
}
