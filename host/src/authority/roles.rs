//! Roles: what a person signed in to the studio may do. A role is held in
//! one project or on every project (`*`); from the least to the most:
//! `viewer` reads, `developer` also makes and changes apps and
//! installations, `admin` also environments, models, public grants, tokens,
//! grant approvals, `owner` also gives and takes roles (and invites).
//!
//! Which project counts is decided by what a call is about ([`On`]): an
//! environment, installation, token or app is in its project, and a
//! person's role there (or on every project) decides. What belongs to no
//! project (making projects, the plugin, the audit log, instance-wide apps
//! and SYSTEM tokens) needs a role on every project. Listings are open to
//! anyone with a role somewhere and show what their projects hold
//! ([`Caller::sees`]); apps are listed to all, since anyone may install
//! one into their project.
//!
//! A token with the management `admin` grant may do all of it (automation);
//! a person's roles are read again on every call they make.

use serde::{Deserialize, Serialize};
use verifier_core::{Action, Grant};

use super::caller::Caller;
use crate::storage::RoleGrant;

/// A person's role, in rising order.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Reads everything.
    Viewer,
    /// Also apps and installations.
    Developer,
    /// Also the rest of the management API.
    Admin,
    /// Also roles.
    Owner,
}

impl Role {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Developer => "developer",
            Role::Admin => "admin",
            Role::Owner => "owner",
        }
    }

    /// A wire name's role.
    pub fn parse(name: &str) -> Option<Role> {
        [Role::Viewer, Role::Developer, Role::Admin, Role::Owner]
            .into_iter()
            .find(|r| r.as_str() == name)
    }
}

/// What a call needs: the least role that may make it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// Reading.
    View,
    /// Changing apps and installations.
    Develop,
    /// Changing anything else.
    Administer,
    /// Giving and taking roles.
    Own,
}

impl Need {
    /// The least role that meets it.
    pub fn role(self) -> Role {
        match self {
            Need::View => Role::Viewer,
            Need::Develop => Role::Developer,
            Need::Administer => Role::Admin,
            Need::Own => Role::Owner,
        }
    }
}

/// What a person in `role` may do through an app whose grants are
/// `app`: a viewer reads (each grant's `read` or `introspect`, an `admin`
/// grant becoming `read` on the same scopes); a developer and above, what
/// the app may. Never more than the app may, never more than the role.
pub fn grants_for(role: Role, app: &[Grant]) -> Vec<Grant> {
    if role >= Role::Developer {
        return app.to_vec();
    }
    app.iter()
        .filter_map(|g| {
            if g.action == Action::READ || g.action.as_str() == "introspect" {
                Some(g.clone())
            } else if g.action.is_admin() {
                Some(Grant {
                    action: Action::READ,
                    ..g.clone()
                })
            } else {
                None
            }
        })
        .collect()
}

/// What a management call is about: it decides whose role counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum On {
    /// The whole instance: a role on every project.
    Instance,
    /// Any project: a role in any project (listings, which then show what
    /// the person's projects hold).
    AnyProject,
    /// A project, by id.
    Project(String),
    /// An environment's project.
    Environment(String),
    /// An installation's environment's project.
    Installation(String),
    /// The project an app was registered in.
    App(String),
    /// A token's project (or its environment's).
    Token(String),
}

/// The best of `roles` among those in `project` or on every project
/// (`project` `None`: on every project only).
pub fn role_in(roles: &[RoleGrant], project: Option<&str>) -> Option<Role> {
    roles
        .iter()
        .filter(|r| r.project_id == "*" || Some(r.project_id.as_str()) == project)
        .filter_map(|r| Role::parse(&r.role))
        .max()
}

impl Caller {
    /// A person's role in `project` (or on every project), if any;
    /// `None` for a token.
    pub fn role_in(&self, project: Option<&str>) -> Option<Role> {
        self.user.as_ref().and_then(|u| role_in(&u.roles, project))
    }

    /// Whether the caller may make a call that needs `need` on the whole
    /// instance: a person by their role on every project, a token by its
    /// management admin grant.
    pub fn may(&self, need: Need) -> bool {
        self.may_in(need, None)
    }

    /// Whether the caller may make a call that needs `need` in `project`
    /// (`None`: on the whole instance).
    pub fn may_in(&self, need: Need, project: Option<&str>) -> bool {
        match &self.user {
            Some(_) => self.role_in(project).is_some_and(|r| r >= need.role()),
            None => self.is_admin,
        }
    }

    /// Whether the caller may make a call that needs `need` in some
    /// project.
    pub fn may_somewhere(&self, need: Need) -> bool {
        match &self.user {
            Some(u) => u
                .roles
                .iter()
                .filter_map(|r| Role::parse(&r.role))
                .any(|r| r >= need.role()),
            None => self.is_admin,
        }
    }

    /// Whether a listing shows the caller what is in `project` (`None`:
    /// belongs to no project).
    pub fn sees(&self, project: Option<&str>) -> bool {
        self.may_in(Need::View, project)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use verifier_core::{Action, Api, Grant, Scope, grants_within};

    use super::{Role, grants_for};

    fn grant() -> impl Strategy<Value = Grant> {
        (
            prop_oneof![Just(Api::Content), Just(Api::Management)],
            prop_oneof![
                Just("read"),
                Just("create"),
                Just("update"),
                Just("admin"),
                Just("introspect"),
                Just("createModel")
            ],
            proptest::option::of(proptest::collection::vec("[A-C]", 1..3)),
        )
            .prop_map(|(api, action, models)| Grant {
                models: models.map_or(Scope::Any, Scope::Only),
                ..Grant::new(api, Action::new(action).unwrap())
            })
    }

    proptest! {
        /// What a person gets through an app is never more than the app
        /// may, and for a viewer never more than reading.
        #[test]
        fn never_more_than_either_side(
            app in proptest::collection::vec(grant(), 0..6),
            role in prop_oneof![Just(Role::Viewer), Just(Role::Developer), Just(Role::Admin), Just(Role::Owner)],
        ) {
            let got = grants_for(role, &app);
            prop_assert!(grants_within(&got, &app), "{got:?} not within {app:?}");
            if role < Role::Developer {
                prop_assert!(got.iter().all(|g| g.action == Action::READ || g.action.as_str() == "introspect"));
            } else {
                prop_assert_eq!(got, app);
            }
        }
    }
}
