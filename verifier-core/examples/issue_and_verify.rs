//! Issues a token from fresh randomness, then verifies a request with it.
//!
//! `cargo run -p verifier-core --example issue_and_verify`
// Native only (getrandom's OS source): in a browser build `main` is empty.
#![cfg_attr(target_arch = "wasm32", allow(unused_imports))]
use std::time::{SystemTime, UNIX_EPOCH};

use verifier_core::{
    Action, Api, Environment, Grant, Grants, IssuedToken, Request, Scope, TokenKind, TokenRecord,
    verify,
};

/// In a browser build there is nothing to run: the example is native.
#[cfg(target_arch = "wasm32")]
fn main() {}

#[cfg(not(target_arch = "wasm32"))]
fn main() -> Result<(), getrandom::Error> {
    // The verifier has no randomness of its own; the caller brings it.
    let mut secret = [0u8; 32];
    getrandom::fill(&mut secret)?;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let issued = IssuedToken::from_random(secret);
    let mut read_posts = Grant::new(Api::Content, Action::READ);
    read_posts.models = Scope::Only(vec!["Post".into()]);
    let record = TokenRecord {
        token_id: issued.token_id(),
        secret_hash: issued.secret_hash(),
        kind: TokenKind::Pat,
        name: "example".into(),
        project_id: Some("demo".into()),
        environment_id: Some("master".into()),
        installation_id: None,
        principal: None,
        grants: Grants::shared(vec![read_posts]),
        expires_at: Some(now + 3600),
        revoked: false,
    };
    let env = Environment::new("master");
    println!("issued token {} (secret shown once)", issued.token_id());
    for (model, action) in [
        ("Post", Action::READ),
        ("Post", Action::DELETE),
        ("Author", Action::READ),
    ] {
        let mut request = Request::new(Api::Content, action.clone(), now);
        request.environment_id = Some("master".into());
        request.model = Some(model.into());
        let decision = verify(&issued.header(), Some(&record), Some(&env), &request);
        println!(
            "{action} {model}: allow={} reason={}",
            decision.allow, decision.reason
        );
    }
    Ok(())
}
