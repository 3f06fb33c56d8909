//! Capturing the one-time setup code from the address bar.
//!
//! The platform opens an app's setup URL with `?code=<setup code>` while an
//! installation is pending. The SDK reads it once, at `init`, and at once
//! rewrites the current history entry without it (`history.replaceState`), so
//! the code is not left in `location.href`, in the back/forward list, in a
//! bookmark, or in the `Referer` of the app's next requests. The code then
//! lives only in the SDK's memory until it is exchanged.

use web_sys::{Url, Window};

use crate::error::SdkError;

/// The query parameter the platform puts the code in.
const PARAM: &str = "code";

/// Takes the setup code out of the window's URL. Returns `None` when there is
/// none (an empty `code=` is scrubbed too, and counts as none).
pub(crate) fn take(window: &Window) -> Result<Option<String>, SdkError> {
    let href = window
        .location()
        .href()
        .map_err(|e| SdkError::browser("location.href", &e))?;
    let url = Url::new(&href).map_err(|e| SdkError::browser("URL", &e))?;
    let params = url.search_params();
    let Some(code) = params.get(PARAM) else {
        return Ok(None);
    };
    // `url.searchParams` is live: deleting from it rewrites `url.search`.
    params.delete(PARAM);
    let history = window
        .history()
        .map_err(|e| SdkError::browser("history", &e))?;
    let state = history
        .state()
        .map_err(|e| SdkError::browser("history.state", &e))?;
    history
        .replace_state_with_url(&state, "", Some(&url.href()))
        .map_err(|e| SdkError::browser("history.replaceState", &e))?;
    Ok(Some(code).filter(|c| !c.is_empty()))
}
