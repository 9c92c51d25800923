//! A person's page, and the audited reveal of their full ID number and phone.

use super::{Chrome, OrPage, PageCaller, PageError, render};
use crate::{AppState, views::PersonView};
use askama::Template;
use axum::{
    Form,
    extract::{Path, State},
    response::Response,
};
use bulwark_app::people;
use bulwark_domain::access::{Operation, allows};
use serde::Deserialize;

#[derive(Template)]
#[template(path = "person.html")]
struct PersonPage {
    chrome: Chrome,
    p: PersonView,
    document_label: String,
    sex_label: String,
    can_reveal: bool,
}

pub(crate) async fn detail(
    State(state): State<AppState>,
    caller: PageCaller,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    let store = state.store.as_ref();
    let person = people::get(store, &caller.actor, id, state.clock.now()).await.or_page(caller.lang)?;
    let p = PersonView::many(store, &[person], state.clock.today()).await.or_page(caller.lang)?.remove(0);
    let can_reveal = allows(caller.actor.account.role, Operation::PersonsReveal);
    let chrome = caller.chrome();
    let document_label = chrome.t.get(&format!("doc-{}", p.document_type));
    let sex_label = p.sex.as_ref().map(|s| chrome.t.get(&format!("sex-{s}"))).unwrap_or_else(|| "—".into());
    Ok(render(&PersonPage { chrome, p, document_label, sex_label, can_reveal }))
}

#[derive(Template)]
#[template(path = "revealed.html")]
struct Revealed {
    chrome: Chrome,
    document_number: Option<String>,
    phone: Option<String>,
}

#[derive(Deserialize)]
pub(crate) struct RevealForm {
    reason: String,
}

/// Answers the htmx form on the person page with the full values (a fragment).
pub(crate) async fn reveal(
    State(state): State<AppState>,
    caller: PageCaller,
    Path(id): Path<i64>,
    Form(form): Form<RevealForm>,
) -> Result<Response, PageError> {
    let r = people::reveal(state.store.as_ref(), &caller.actor, id, &form.reason, state.clock.now())
        .await
        .or_page(caller.lang)?;
    Ok(render(&Revealed { chrome: caller.chrome(), document_number: r.document_number, phone: r.phone }))
}
