//! People's routes: who signed in, and their roles (`GET /v1/users`, admin;
//! `PUT /v1/users/{id}/role`, owner).

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};

use super::extract::{Admin, JsonBody, Owner};
use super::{Answer, AppState, ErrorBody, blocking};
use crate::authority::{RoleBody, UserView};

#[utoipa::path(get, path = "/v1/users", summary = "People who signed in to the studio, with their roles",
    responses((status = 200, description = "OK", body = [UserView])))]
pub(super) async fn list_users(
    State(s): State<Arc<AppState>>,
    Admin(_): Admin,
) -> Answer<Vec<UserView>> {
    Ok(Json(blocking(&s, |a| a.users()).await?))
}

#[utoipa::path(put, path = "/v1/users/{id}/role", summary = "Give or take a person's role on every project (owner)",
    params(("id" = String, Path)), request_body = RoleBody,
    responses((status = 200, description = "OK", body = UserView),
        (status = 400, description = "Bad input", body = ErrorBody),
        (status = 404, description = "Not found", body = ErrorBody),
        (status = 409, description = "It would leave no owner", body = ErrorBody)))]
pub(super) async fn set_role(
    State(s): State<Arc<AppState>>,
    Owner(actor): Owner,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<RoleBody>,
) -> Answer<UserView> {
    Ok(Json(
        blocking(&s, move |a| a.set_role(&actor, &id, body)).await?,
    ))
}
