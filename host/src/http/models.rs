//! The model registry's routes: `/v1/environments/{e}/models[/{apiId}]`
//! (admin; the reads also for replica tokens, as the records are).

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use verifier_core::Model;

use super::extract::{Admin, JsonBody, Replica};
use super::{Answer, AppState, ErrorBody, blocking};
use crate::authority::{Caller, ModelBody};

#[utoipa::path(get, path = "/v1/environments/{e}/models", summary = "The environment's content models",
    params(("e" = String, Path)),
    responses((status = 200, description = "OK", body = crate::authority::schema::ModelList),
        (status = 404, description = "Not found", body = ErrorBody)))]
pub(super) async fn list_models(
    State(s): State<Arc<AppState>>,
    _: Replica,
    Path(env): Path<String>,
) -> Answer<Vec<Model>> {
    Ok(Json(blocking(&s, move |a| a.models(&env)).await?))
}

#[utoipa::path(get, path = "/v1/environments/{e}/models/{apiId}", summary = "One content model",
    params(("e" = String, Path), ("apiId" = String, Path)),
    responses((status = 200, description = "OK", body = inline(crate::authority::schema::ModelSchema)),
        (status = 404, description = "Not found", body = ErrorBody)))]
pub(super) async fn get_model(
    State(s): State<Arc<AppState>>,
    _: Replica,
    Path((env, api_id)): Path<(String, String)>,
) -> Answer<Model> {
    Ok(Json(blocking(&s, move |a| a.model(&env, &api_id)).await?))
}

#[utoipa::path(put, path = "/v1/environments/{e}/models/{apiId}", summary = "Register or replace a content model",
    params(("e" = String, Path), ("apiId" = String, Path)),
    request_body = inline(crate::authority::schema::ModelBodySchema),
    responses((status = 200, description = "Replaced", body = inline(crate::authority::schema::ModelSchema)),
        (status = 201, description = "Registered", body = inline(crate::authority::schema::ModelSchema)),
        (status = 400, description = "Bad input", body = ErrorBody),
        (status = 404, description = "Not found", body = ErrorBody),
        (status = 409, description = "Its singular or plural is another model's", body = ErrorBody)))]
pub(super) async fn put_model(
    State(s): State<Arc<AppState>>,
    Admin(Caller { actor, .. }): Admin,
    Path((env, api_id)): Path<(String, String)>,
    JsonBody(body): JsonBody<ModelBody>,
) -> Result<(StatusCode, Json<Model>), super::ApiError> {
    let (model, created) = blocking(&s, move |a| a.put_model(&actor, &env, &api_id, body)).await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(model)))
}

#[utoipa::path(delete, path = "/v1/environments/{e}/models/{apiId}", summary = "Remove a content model",
    params(("e" = String, Path), ("apiId" = String, Path)),
    responses((status = 204, description = "Removed"),
        (status = 404, description = "Not found", body = ErrorBody)))]
pub(super) async fn delete_model(
    State(s): State<Arc<AppState>>,
    Admin(Caller { actor, .. }): Admin,
    Path((env, api_id)): Path<(String, String)>,
) -> Result<StatusCode, super::ApiError> {
    blocking(&s, move |a| a.delete_model(&actor, &env, &api_id)).await?;
    Ok(StatusCode::NO_CONTENT)
}
