//! The apps' routes: registering, listing, reading, editing and deleting an
//! app, publishing its grants, rotating its client and webhook secrets, and
//! its webhook deliveries (admin).

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;

use super::extract::{Authed, Developer, JsonBody, JsonList, SomeDeveloper, Viewer};
use super::{Answer, AppState, Created, ErrorBody, blocking};
use serde::Deserialize;

use crate::authority::{AppUpdate, AppView, Caller, Need, NewApp, On, SecretRotation};
use crate::storage::DeliveryRow;

#[utoipa::path(post, path = "/v1/apps", summary = "Register an app (client secret shown once)", request_body = NewApp,
    responses((status = 201, description = "Created", body = crate::authority::AppCreated),
        (status = 400, description = "Bad input", body = ErrorBody),
        (status = 404, description = "The projectId names no project", body = ErrorBody)))]
pub(super) async fn create_app(
    State(s): State<Arc<AppState>>,
    SomeDeveloper(caller): SomeDeveloper,
    JsonBody(body): JsonBody<NewApp>,
) -> Created<crate::authority::AppCreated> {
    let app = blocking(&s, move |a| a.create_app(&caller, body)).await?;
    Ok((StatusCode::CREATED, Json(app)))
}

#[utoipa::path(get, path = "/v1/apps", summary = "List apps (no secrets)",
    responses((status = 200, description = "OK", body = [crate::authority::AppView])))]
pub(super) async fn list_apps(
    State(s): State<Arc<AppState>>,
    _: Viewer,
) -> Answer<Vec<crate::authority::AppView>> {
    Ok(Json(blocking(&s, |a| a.apps()).await?))
}

#[utoipa::path(get, path = "/v1/apps/{id}", summary = "Read an app (no secrets)",
    params(("id" = String, Path)),
    responses((status = 200, description = "OK", body = AppView),
        (status = 404, description = "Not found", body = ErrorBody)))]
pub(super) async fn get_app(
    State(s): State<Arc<AppState>>,
    Authed(caller): Authed,
    Path(id): Path<String>,
) -> Answer<AppView> {
    // Read as the listing is: by anyone with a role somewhere (an app is
    // installed into any project), whichever project it belongs to.
    Ok(Json(
        blocking(&s, move |a| {
            a.require(&caller, Need::View, &On::AnyProject)?;
            a.app(&id)
        })
        .await?,
    ))
}

#[utoipa::path(patch, path = "/v1/apps/{id}", summary = "Edit an app: name, pages, origins",
    params(("id" = String, Path)), request_body = AppUpdate,
    responses((status = 200, description = "OK", body = AppView),
        (status = 400, description = "Bad input", body = ErrorBody),
        (status = 404, description = "Not found", body = ErrorBody)))]
pub(super) async fn edit_app(
    State(s): State<Arc<AppState>>,
    Developer(Caller { actor, .. }): Developer,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<AppUpdate>,
) -> Answer<AppView> {
    Ok(Json(
        blocking(&s, move |a| a.edit_app(&actor, &id, body)).await?,
    ))
}

#[utoipa::path(delete, path = "/v1/apps/{id}", summary = "Delete an app whose installations are all uninstalled",
    params(("id" = String, Path)),
    responses((status = 204, description = "Deleted"),
        (status = 404, description = "Not found", body = ErrorBody),
        (status = 409, description = "Installed (app_installed; the message names the installations)", body = ErrorBody)))]
pub(super) async fn delete_app(
    State(s): State<Arc<AppState>>,
    Developer(Caller { actor, .. }): Developer,
    Path(id): Path<String>,
) -> Result<StatusCode, super::ApiError> {
    blocking(&s, move |a| a.delete_app(&actor, &id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/v1/apps/{id}/client-secret/rotate", summary = "A new client secret (shown once); the old one works for graceSeconds",
    params(("id" = String, Path)), request_body = SecretRotation,
    responses((status = 201, description = "Rotated", body = crate::authority::ClientSecretView),
        (status = 400, description = "Bad input", body = ErrorBody),
        (status = 404, description = "Not found", body = ErrorBody)))]
pub(super) async fn rotate_client_secret(
    State(s): State<Arc<AppState>>,
    Developer(Caller { actor, .. }): Developer,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<SecretRotation>,
) -> Created<crate::authority::ClientSecretView> {
    let secret = blocking(&s, move |a| a.rotate_client_secret(&actor, &id, body)).await?;
    Ok((StatusCode::CREATED, Json(secret)))
}

#[utoipa::path(put, path = "/v1/apps/{id}/grants", summary = "Publish the app's next grants version: applied where no wider, requested elsewhere",
    params(("id" = String, Path)), request_body = inline(crate::authority::schema::AppGrants),
    responses((status = 200, description = "Published", body = crate::authority::PublishedView),
        (status = 400, description = "Bad input", body = ErrorBody),
        (status = 404, description = "Not found", body = ErrorBody)))]
pub(super) async fn publish_grants(
    State(s): State<Arc<AppState>>,
    Developer(Caller { actor, .. }): Developer,
    Path(id): Path<String>,
    JsonList(grants): JsonList<Vec<verifier_core::Grant>>,
) -> Answer<crate::authority::PublishedView> {
    Ok(Json(
        blocking(&s, move |a| a.publish_grants(&actor, &id, grants)).await?,
    ))
}

#[utoipa::path(post, path = "/v1/apps/{id}/webhook-secret/rotate", summary = "A new webhook signing secret (shown once)",
    params(("id" = String, Path)),
    responses((status = 201, description = "Rotated", body = crate::authority::WebhookSecretView),
        (status = 400, description = "Webhooks are off on this server", body = ErrorBody),
        (status = 404, description = "Not found", body = ErrorBody)))]
pub(super) async fn rotate_webhook_secret(
    State(s): State<Arc<AppState>>,
    Developer(Caller { actor, .. }): Developer,
    Path(id): Path<String>,
) -> Created<crate::authority::WebhookSecretView> {
    let secret = blocking(&s, move |a| a.rotate_webhook_secret(&actor, &id)).await?;
    Ok((StatusCode::CREATED, Json(secret)))
}

/// `?limit=` of a listing.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct Limit {
    /// at most this many; read as 1 to 1000
    #[param(default = 100, format = Int64, minimum = 0, maximum = 4294967295_u32)]
    limit: Option<u32>,
}

#[utoipa::path(get, path = "/v1/apps/{id}/deliveries", summary = "The app's webhook deliveries, newest first",
    params(("id" = String, Path), Limit),
    responses((status = 200, description = "OK", body = [DeliveryRow]),
        (status = 400, description = "Bad input", body = ErrorBody),
        (status = 404, description = "Not found", body = ErrorBody)))]
pub(super) async fn deliveries(
    State(s): State<Arc<AppState>>,
    _: Viewer,
    Path(id): Path<String>,
    Query(Limit { limit }): Query<Limit>,
) -> Answer<Vec<DeliveryRow>> {
    Ok(Json(blocking(&s, move |a| a.deliveries(&id, limit)).await?))
}

#[utoipa::path(post, path = "/v1/apps/{id}/deliveries/{d}/retry", summary = "Send a webhook delivery again",
    params(("id" = String, Path), ("d" = String, Path)),
    responses((status = 200, description = "Due again", body = DeliveryRow),
        (status = 404, description = "Not found", body = ErrorBody)))]
pub(super) async fn retry_delivery(
    State(s): State<Arc<AppState>>,
    Developer(Caller { actor, .. }): Developer,
    Path((id, delivery)): Path<(String, String)>,
) -> Answer<DeliveryRow> {
    Ok(Json(
        blocking(&s, move |a| a.retry_delivery(&actor, &id, &delivery)).await?,
    ))
}
