//! App elements: the pages, sidebar panels and field editors an app
//! declares (`elements` on `POST /v1/apps` and `PATCH /v1/apps/{id}`),
//! and each installation turning them on or off in its environment
//! (`PATCH /v1/installations/{i}/elements`).
//!
//! An element is a frame the platform places: a `page` in its navigation,
//! a `sidebar` panel beside an entry, a `field` editor in place of a field's
//! input (for the field type it names). Its `url` must be on one of the
//! app's origins, as a main page's must, so the studio's `frame-src` and the
//! bridge's origin pin cover it; `apiId`s are unique within the app;
//! `config`, the app's own settings for the element, is a JSON object of at
//! most [`MAX_CONFIG_BYTES`]. Every element starts enabled in every
//! installation; an installation keeps the apiIds it turned off (an id the
//! app no longer declares is ignored).

use std::collections::BTreeMap;

use serde_json::json;

use super::Authority;
use super::caller::Caller;
use super::error::{AuthorityError, uninstalled};
use super::roles::{Need, On};
use super::validation::{check_text, check_url};
use super::views::InstallationView;
use crate::storage::{AppRow, Element, ElementKind};
use verifier_core::InstallationStatus;

/// How many elements an app may declare.
pub const MAX_ELEMENTS: usize = 32;
/// The longest element apiId.
pub const MAX_ELEMENT_ID: usize = 64;
/// The largest element `config`, serialized.
pub const MAX_CONFIG_BYTES: usize = 4096;

/// Whether `id` is an element apiId: a letter, then letters, digits or
/// `_`, at most [`MAX_ELEMENT_ID`].
fn is_element_id(id: &str) -> bool {
    id.len() <= MAX_ELEMENT_ID
        && id.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// What an app's elements must be (see the module docs).
pub(super) fn check_elements(app: &AppRow) -> Result<(), AuthorityError> {
    let bad = |m: String| Err(AuthorityError::BadRequest(m));
    if app.elements.len() > MAX_ELEMENTS {
        return bad(format!("elements lists at most {MAX_ELEMENTS}"));
    }
    for (i, element) in app.elements.iter().enumerate() {
        let Element {
            kind,
            api_id,
            name,
            url,
            field_type,
            config,
        } = element;
        if !is_element_id(api_id) {
            return bad(format!(
                "elements[{i}].apiId must be a letter, then letters, digits or _ (at most {MAX_ELEMENT_ID})"
            ));
        }
        if app.elements[..i].iter().any(|e| &e.api_id == api_id) {
            return bad(format!("elements[{i}].apiId {api_id} is declared twice"));
        }
        check_text(&format!("elements[{i}].name"), name)?;
        check_url(&format!("elements[{i}].url"), url)?;
        let origin = url::Url::parse(url).map(|u| u.origin().ascii_serialization());
        if !origin.is_ok_and(|o| app.origins.contains(&o)) {
            return bad(format!(
                "elements[{i}].url must be served from one of the app's origins"
            ));
        }
        match (kind, field_type) {
            (ElementKind::Field, None) => {
                return bad(format!(
                    "elements[{i}] is a field element: name its fieldType"
                ));
            }
            (ElementKind::Page | ElementKind::Sidebar, Some(_)) => {
                return bad(format!(
                    "elements[{i}]: only field elements take a fieldType"
                ));
            }
            _ => {}
        }
        if let Some(config) = config {
            let size = serde_json::to_string(config).map_or(usize::MAX, |s| s.len());
            if !config.is_object() || size > MAX_CONFIG_BYTES {
                return bad(format!(
                    "elements[{i}].config must be a JSON object of at most {MAX_CONFIG_BYTES} bytes"
                ));
            }
        }
    }
    Ok(())
}

impl Authority {
    /// `PATCH /v1/installations/{i}/elements { <apiId>: true | false }`:
    /// turns the app's elements on or off in this installation (others stay
    /// as they are). Each key must be one of the app's elements.
    pub fn set_installation_elements(
        &self,
        caller: &Caller,
        id: &str,
        body: BTreeMap<String, bool>,
    ) -> Result<InstallationView, AuthorityError> {
        self.require(caller, Need::Develop, &On::Installation(id.into()))?;
        let row = self.stored(id)?;
        if row.installation.status == InstallationStatus::Uninstalled {
            return Err(uninstalled());
        }
        let app = self
            .store()?
            .app(&row.installation.app_id)?
            .ok_or(AuthorityError::NotFound("app"))?;
        if let Some(unknown) = body
            .keys()
            .find(|k| !app.elements.iter().any(|e| &e.api_id == *k))
        {
            return Err(AuthorityError::BadRequest(format!(
                "{unknown} is not one of the app's elements"
            )));
        }
        let mut merge = |stored: Vec<String>| {
            let mut disabled: Vec<String> = stored
                .iter()
                .filter(|d| body.get(*d) != Some(&true))
                .cloned()
                .collect();
            for (api_id, enabled) in &body {
                if !enabled && !disabled.contains(api_id) {
                    disabled.push(api_id.clone());
                }
            }
            disabled.sort();
            let audit = self.audit(
                &caller.actor,
                "installation.elements",
                id,
                json!({"from": stored, "to": disabled}),
            );
            Ok((disabled, audit))
        };
        self.change(|s| s.change_disabled_elements(id, &mut merge))?;
        Ok(InstallationView::from(self.stored(id)?))
    }
}
