//! The import page: upload a file, see a preview with every row error, then confirm.
//!
//! The preview keeps the uploaded bytes in memory for 30 minutes under a random key bound to the
//! uploader; confirming imports exactly the file that was previewed. Nothing is stored until
//! then, and a restart only costs a re-upload.

use super::{Chrome, OrPage, PageCaller, PageError, render};
use crate::AppState;
use askama::Template;
use axum::{
    Form,
    extract::{Multipart, State},
    response::Response,
};
use bulwark_app::{
    AppError,
    accounts::new_token,
    imports::{ImportReport, import_residents},
};
use bulwark_domain::{Millis, access::UserId};
use serde::Deserialize;
use std::{collections::HashMap, sync::Mutex};

const PREVIEW_LIFETIME: Millis = 30 * 60_000;

/// An uploaded file: who uploaded it, its bytes, and when.
type Upload = (UserId, Vec<u8>, Millis);

/// Previewed uploads waiting for confirmation.
#[derive(Default)]
pub struct PendingImports(Mutex<HashMap<String, Upload>>);

impl PendingImports {
    fn put(&self, user: UserId, bytes: Vec<u8>, now: Millis) -> String {
        let key = new_token();
        let mut map = self.0.lock().expect("pending imports");
        map.retain(|_, (_, _, at)| now - *at < PREVIEW_LIFETIME);
        map.insert(key.clone(), (user, bytes, now));
        key
    }

    fn take(&self, key: &str, user: UserId, now: Millis) -> Option<Vec<u8>> {
        let mut map = self.0.lock().expect("pending imports");
        match map.remove(key) {
            Some((owner, bytes, at)) if owner == user && now - at < PREVIEW_LIFETIME => Some(bytes),
            Some(other) if other.0 != user => {
                map.insert(key.to_string(), other);
                None
            }
            _ => None,
        }
    }
}

#[derive(Template)]
#[template(path = "import.html")]
struct ImportPage {
    chrome: Chrome,
    report: Option<ImportReport>,
    pending: Option<String>,
    message: Option<String>,
}

pub(crate) async fn form(State(state): State<AppState>, caller: PageCaller) -> Result<Response, PageError> {
    let op = bulwark_domain::access::Operation::ResidentsImport;
    caller.actor.authorize(state.store.as_ref(), op, state.clock.now()).await.or_page(caller.lang)?;
    Ok(render(&ImportPage { chrome: caller.chrome(), report: None, pending: None, message: None }))
}

/// Reads the `file` field of a multipart form.
pub(crate) async fn file_field(mut multipart: Multipart) -> Result<Vec<u8>, AppError> {
    while let Some(field) = multipart.next_field().await.map_err(|e| AppError::invalid("file", e))? {
        if field.name() == Some("file") {
            return Ok(field.bytes().await.map_err(|e| AppError::invalid("file", e))?.to_vec());
        }
    }
    Err(AppError::invalid("file", "a multipart form with a field named \"file\""))
}

pub(crate) async fn preview(
    State(state): State<AppState>,
    caller: PageCaller,
    multipart: Multipart,
) -> Result<Response, PageError> {
    let lang = caller.lang;
    let bytes = file_field(multipart).await.or_page(lang)?;
    let now = state.clock.now();
    let report = import_residents(
        state.store.as_ref(),
        &caller.actor,
        bytes.clone(),
        true,
        state.clock.today(),
        now,
        Box::new(|_| {}),
    )
    .await
    .or_page(lang)?;
    let pending = (report.importable > 0).then(|| state.pending_imports.put(caller.actor.account.id, bytes, now));
    let message = (report.importable == 0).then(|| caller.chrome().t.get("import-nothing"));
    Ok(render(&ImportPage { chrome: caller.chrome(), report: Some(report), pending, message }))
}

#[derive(Deserialize)]
pub(crate) struct ConfirmForm {
    key: String,
}

pub(crate) async fn confirm(
    State(state): State<AppState>,
    caller: PageCaller,
    Form(f): Form<ConfirmForm>,
) -> Result<Response, PageError> {
    let now = state.clock.now();
    let chrome = caller.chrome();
    let Some(bytes) = state.pending_imports.take(&f.key, caller.actor.account.id, now) else {
        let message = Some(chrome.t.get("import-expired"));
        return Ok(render(&ImportPage { chrome, report: None, pending: None, message }));
    };
    let report =
        import_residents(state.store.as_ref(), &caller.actor, bytes, false, state.clock.today(), now, Box::new(|_| {}))
            .await
            .or_page(caller.lang)?;
    let message = Some(chrome.t.n("import-done", report.imported));
    Ok(render(&ImportPage { chrome, report: Some(report), pending: None, message }))
}
