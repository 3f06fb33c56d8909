//! People: roles held in one project or on every project decide each call,
//! and invitations by email give roles at sign-in. Over the authority on
//! real SQLite with the manual clock (expiry), as the HTTP routes call it;
//! the studio's side runs in tests/identity against a real provider.

use std::sync::Arc;

use tally::authority::{
    Actor, Authority, AuthorityConfig, AuthorityError, Caller, INVITATION_TTL, Need, NewApp,
    NewEnvironment, NewInstallation, NewInvitation, NewProject, On, Role, RoleBody,
};
use tally::clock::ManualClock;
use tally::storage::Durability;
use verifier_core::{Action, Api, Grant};

use crate::common::T0;

struct World {
    authority: Arc<Authority>,
    clock: Arc<ManualClock>,
    _dir: tempfile::TempDir,
}

/// Two projects, `blog` (environment `master`) and `shop` (`shop-main`).
fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(T0));
    let (authority, _) = tally::open(
        dir.path(),
        Durability::Normal,
        clock.clone(),
        AuthorityConfig::new("http://127.0.0.1:1"),
    )
    .unwrap();
    let cli = Actor::cli();
    for (project, environment) in [("blog", "master"), ("shop", "shop-main")] {
        authority
            .create_project(
                &cli,
                NewProject {
                    id: project.into(),
                    name: project.into(),
                },
            )
            .unwrap();
        authority
            .create_environment(
                &cli,
                project,
                NewEnvironment {
                    id: environment.into(),
                    name: environment.into(),
                    default_stage: None,
                },
            )
            .unwrap();
    }
    World {
        authority,
        clock,
        _dir: dir,
    }
}

impl World {
    /// `login` signs in, as their provider vouches: `<login>@example.com`.
    fn sign_in(&self, login: &str) -> Caller {
        let user = self
            .authority
            .sign_in_user(
                "https://id.example.com",
                login,
                Some(format!("{login}@example.com")),
                None,
            )
            .unwrap();
        self.authority.authenticate_user(&user.id).unwrap()
    }

    fn invite(&self, by: &Caller, email: &str, role: Role, project: Option<&str>) -> String {
        self.authority
            .invite(
                by,
                NewInvitation {
                    email: email.into(),
                    role,
                    project_id: project.map(Into::into),
                },
            )
            .unwrap()
            .id
    }

    fn app(&self, by: &Caller, project: Option<&str>) -> Result<String, AuthorityError> {
        self.authority
            .create_app(
                by,
                NewApp {
                    name: "Notes".into(),
                    setup_url: "https://notes.example.com/setup".into(),
                    url: None,
                    origins: vec!["https://notes.example.com".into()],
                    grants: vec![Grant::new(Api::Content, Action::READ)],
                    webhook_url: None,
                    project_id: project.map(Into::into),
                    redirect_uris: Vec::new(),
                    elements: Vec::new(),
                },
            )
            .map(|a| a.id)
    }
}

fn refused<T: std::fmt::Debug>(result: Result<T, AuthorityError>) {
    match result {
        Err(e) => assert_eq!(e.reason().as_str(), "not_granted", "{e:?}"),
        Ok(v) => panic!("allowed: {v:?}"),
    }
}

#[test]
fn a_role_in_one_project_decides_there_and_nowhere_else() {
    let w = world();
    let cli = Caller::cli();
    w.invite(&cli, "Erin@Example.com", Role::Developer, Some("blog"));
    let erin = w.sign_in("erin");
    assert_eq!(erin.role_in(Some("blog")), Some(Role::Developer));
    assert_eq!(erin.role_in(Some("shop")), None);
    assert_eq!(erin.role_in(None), None);
    let a = &w.authority;

    // Her project's apps and installations are hers to make.
    let app = w.app(&erin, Some("blog")).unwrap();
    a.require(&erin, Need::Develop, &On::App(app.clone()))
        .unwrap();
    a.require(&erin, Need::Develop, &On::Environment("master".into()))
        .unwrap();
    // Not another project's, nor the whole instance's.
    refused(w.app(&erin, Some("shop")));
    refused(w.app(&erin, None));
    refused(a.require(&erin, Need::Develop, &On::Environment("shop-main".into())));
    let instance_app = w.app(&cli, None).unwrap();
    refused(a.require(&erin, Need::Develop, &On::App(instance_app)));
    // Below her role in it: no environment changes, no tokens.
    refused(a.require(&erin, Need::Administer, &On::Project("blog".into())));
    // An installation is in its environment's project.
    let installed = a
        .install(
            &erin.actor,
            "master",
            NewInstallation {
                app_id: app.clone(),
            },
        )
        .unwrap();
    let id = installed.installation.installation.id.clone();
    a.require(&erin, Need::Develop, &On::Installation(id.clone()))
        .unwrap();
    // Listings show what her project holds; the audit log is the
    // instance's.
    let projects = a.projects(&erin).unwrap();
    assert_eq!(
        projects
            .iter()
            .map(|p| p.project.id.as_str())
            .collect::<Vec<_>>(),
        ["blog"]
    );
    assert_eq!(a.installations(&erin).unwrap().len(), 1);
    a.require(&erin, Need::View, &On::AnyProject).unwrap();
    refused(a.require(&erin, Need::View, &On::Instance));
    // Something that does not exist is in no project: only a role on
    // every project reaches it (a 403, not a 404 that tells it apart).
    refused(a.require(&erin, Need::Develop, &On::Installation("in_none".into())));
}

#[test]
fn an_invitation_is_accepted_once_within_its_time_and_never_lowers_a_role() {
    let w = world();
    let cli = Caller::cli();
    let a = &w.authority;

    // Expired before she signs in: nothing.
    w.invite(&cli, "erin@example.com", Role::Admin, Some("blog"));
    w.clock.advance(INVITATION_TTL);
    let erin = w.sign_in("erin");
    assert_eq!(erin.role_in(Some("blog")), None);

    // A fresh one is accepted at her next sign-in, once.
    let id = w.invite(&cli, "erin@example.com", Role::Developer, Some("blog"));
    let erin = w.sign_in("erin");
    assert_eq!(erin.role_in(Some("blog")), Some(Role::Developer));
    let accepted = a
        .invitations(&cli)
        .unwrap()
        .into_iter()
        .find(|i| i.id == id)
        .unwrap();
    assert_eq!(
        accepted.accepted_by.as_deref(),
        erin.actor.as_str().strip_prefix("user:")
    );
    let audit = a
        .audit_log(
            0,
            None,
            &tally::storage::AuditFilter {
                action: Some("invitation.accept".into()),
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].entry.actor, erin.actor.as_str());
    // Taken away later, the used invitation does not give it back.
    let user_id = erin.actor.as_str().strip_prefix("user:").unwrap();
    a.set_role(
        &cli,
        user_id,
        RoleBody {
            role: None,
            project_id: Some("blog".into()),
        },
    )
    .unwrap();
    assert_eq!(w.sign_in("erin").role_in(Some("blog")), None);

    // An invitation to less than she holds leaves her role as it is.
    a.set_role(
        &cli,
        user_id,
        RoleBody {
            role: Some(Role::Admin),
            project_id: Some("blog".into()),
        },
    )
    .unwrap();
    w.invite(&cli, "erin@example.com", Role::Viewer, Some("blog"));
    assert_eq!(w.sign_in("erin").role_in(Some("blog")), Some(Role::Admin));

    // Revoked: not accepted, and not revoked twice.
    let frank = w.invite(&cli, "frank@example.com", Role::Owner, None);
    a.revoke_invitation(&cli, &frank).unwrap();
    assert_eq!(w.sign_in("frank").role_in(None), None);
    assert!(matches!(
        a.revoke_invitation(&cli, &frank),
        Err(AuthorityError::NotFound(_))
    ));
    // Someone else's email is not a claim on it.
    w.invite(&cli, "gina@example.com", Role::Viewer, Some("shop"));
    assert_eq!(w.sign_in("frank").role_in(Some("shop")), None);
    // A malformed email is refused.
    let bad = a.invite(
        &cli,
        NewInvitation {
            email: "not an email".into(),
            role: Role::Viewer,
            project_id: None,
        },
    );
    assert!(matches!(bad, Err(AuthorityError::BadRequest(_))), "{bad:?}");
}

#[test]
fn an_owner_of_one_project_gives_roles_and_invites_there_only() {
    let w = world();
    let cli = Caller::cli();
    let a = &w.authority;
    w.invite(&cli, "olga@example.com", Role::Owner, Some("blog"));
    let olga = w.sign_in("olga");
    let pete = w.sign_in("pete");
    let pete_id = pete.actor.as_str().strip_prefix("user:").unwrap();
    let give = |project: Option<&str>| {
        a.set_role(
            &olga,
            pete_id,
            RoleBody {
                role: Some(Role::Developer),
                project_id: project.map(Into::into),
            },
        )
    };
    give(Some("blog")).unwrap();
    refused(give(Some("shop")));
    refused(give(None));
    let invite = |project: Option<&str>| {
        a.invite(
            &olga,
            NewInvitation {
                email: "quinn@example.com".into(),
                role: Role::Viewer,
                project_id: project.map(Into::into),
            },
        )
    };
    invite(Some("blog")).unwrap();
    refused(invite(Some("shop")));
    refused(invite(None));
    // She sees her project's invitations only.
    w.invite(&cli, "rita@example.com", Role::Viewer, Some("shop"));
    let hers = a.invitations(&olga).unwrap();
    assert!(hers.iter().all(|i| i.project_id == "blog"), "{hers:?}");
    assert_eq!(hers.len(), 2);
    // The instance keeps an owner whatever project owners do; a project
    // may be left with none (an owner of every project still reaches it).
    let olga_id = olga.actor.as_str().strip_prefix("user:").unwrap();
    a.set_role(
        &olga,
        olga_id,
        RoleBody {
            role: None,
            project_id: Some("blog".into()),
        },
    )
    .unwrap();
}
