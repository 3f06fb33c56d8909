//! People's routes: who signed in and their roles (`GET /v1/users`, an
//! admin of any project; `PUT /v1/users/{id}/role`, an owner of the
//! project), and invitations (`/v1/invitations`, owners).

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;

use super::extract::{JsonBody, SomeAdmin, SomeOwner};
use super::{Answer, AppState, Created, ErrorBody, blocking};
use crate::authority::{NewInvitation, RoleBody, UserView};
use crate::storage::InvitationRow;

#[utoipa::path(get, path = "/v1/users", summary = "People who signed in to the studio, with their roles (an admin of any project)",
    responses((status = 200, description = "OK", body = [UserView])))]
pub(super) async fn list_users(
    State(s): State<Arc<AppState>>,
    SomeAdmin(caller): SomeAdmin,
) -> Answer<Vec<UserView>> {
    Ok(Json(blocking(&s, move |a| a.users(&caller)).await?))
}

#[utoipa::path(put, path = "/v1/users/{id}/role", summary = "Give or take a person's role in a project or on every project (an owner of it)",
    params(("id" = String, Path)), request_body = RoleBody,
    responses((status = 200, description = "OK", body = UserView),
        (status = 400, description = "Bad input", body = ErrorBody),
        (status = 404, description = "Not found", body = ErrorBody),
        (status = 409, description = "It would leave no owner", body = ErrorBody)))]
pub(super) async fn set_role(
    State(s): State<Arc<AppState>>,
    SomeOwner(caller): SomeOwner,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<RoleBody>,
) -> Answer<UserView> {
    Ok(Json(
        blocking(&s, move |a| a.set_role(&caller, &id, body)).await?,
    ))
}

#[utoipa::path(post, path = "/v1/invitations", summary = "Invite a person by email with a role in a project or on every project (an owner of it)",
    request_body = NewInvitation,
    responses((status = 201, description = "Created", body = InvitationRow),
        (status = 400, description = "Bad input", body = ErrorBody),
        (status = 404, description = "Not found", body = ErrorBody)))]
pub(super) async fn invite(
    State(s): State<Arc<AppState>>,
    SomeOwner(caller): SomeOwner,
    JsonBody(body): JsonBody<NewInvitation>,
) -> Created<InvitationRow> {
    let invitation = blocking(&s, move |a| a.invite(&caller, body)).await?;
    Ok((StatusCode::CREATED, Json(invitation)))
}

#[utoipa::path(get, path = "/v1/invitations", summary = "Invitations of the projects the caller owns, newest first",
    responses((status = 200, description = "OK", body = [InvitationRow])))]
pub(super) async fn list_invitations(
    State(s): State<Arc<AppState>>,
    SomeOwner(caller): SomeOwner,
) -> Answer<Vec<InvitationRow>> {
    Ok(Json(blocking(&s, move |a| a.invitations(&caller)).await?))
}

#[utoipa::path(delete, path = "/v1/invitations/{id}", summary = "End an outstanding invitation (an owner of its project)",
    params(("id" = String, Path)),
    responses((status = 204, description = "Ended"),
        (status = 404, description = "Not found (or accepted, ended, expired)", body = ErrorBody)))]
pub(super) async fn revoke_invitation(
    State(s): State<Arc<AppState>>,
    SomeOwner(caller): SomeOwner,
    Path(id): Path<String>,
) -> Result<StatusCode, super::ApiError> {
    blocking(&s, move |a| a.revoke_invitation(&caller, &id)).await?;
    Ok(StatusCode::NO_CONTENT)
}
