//! Roles: what a person signed in to the studio may do. A role is held on
//! every project (`*`); from the least to the most: `viewer` reads
//! everything, `developer` also makes and changes apps and installations,
//! `admin` also projects, environments, models, public grants, tokens,
//! grant approvals and the plugin, `owner` also gives and takes roles.
//! A token with the management `admin` grant may do all of it (automation);
//! a person's role is read again on every call they make.

use serde::{Deserialize, Serialize};

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
