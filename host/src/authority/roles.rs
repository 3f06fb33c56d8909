//! Roles: what a person signed in to the studio may do. A role is held on
//! every project (`*`); from the least to the most: `viewer` reads
//! everything, `developer` also makes and changes apps and installations,
//! `admin` also projects, environments, models, public grants, tokens,
//! grant approvals and the plugin, `owner` also gives and takes roles.
//! A token with the management `admin` grant may do all of it (automation);
//! a person's role is read again on every call they make.

use serde::{Deserialize, Serialize};
use verifier_core::{Action, Grant};

use super::caller::Caller;

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

impl Caller {
    /// A person's role on every project, if any.
    pub fn role(&self) -> Option<Role> {
        self.user.as_ref().and_then(|u| {
            u.roles
                .iter()
                .filter(|r| r.project_id == "*")
                .filter_map(|r| Role::parse(&r.role))
                .max()
        })
    }

    /// Whether the caller may make a call that needs `need`: a person by
    /// their role, a token by its management admin grant.
    pub fn may(&self, need: Need) -> bool {
        match &self.user {
            Some(_) => self.role().is_some_and(|r| r >= need.role()),
            None => self.is_admin,
        }
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
