//! A person's page, and the audited reveal of their full ID number and phone.

use super::{Chrome, OrPage, PageCaller, PageError, render};
use crate::{AppState, views::PersonView};
use askama::Template;
use axum::{
    Form,
    extract::{Path, State},
    response::{IntoResponse, Redirect, Response},
};
use bulwark_app::people::{self, PersonChangeInput, PersonInput};
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
    can_edit: bool,
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
    let can_edit = allows(caller.actor.account.role, Operation::PersonsUpdate);
    let chrome = caller.chrome();
    let document_label = chrome.t.get(&format!("doc-{}", p.document_type));
    let sex_label = p.sex.as_ref().map(|s| chrome.t.get(&format!("sex-{s}"))).unwrap_or_else(|| "—".into());
    Ok(render(&PersonPage { chrome, p, document_label, sex_label, can_reveal, can_edit }))
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

/// The new-resident form on a grid or household page. Checkboxes are absent when unticked.
#[derive(Deserialize)]
pub(crate) struct NewPersonForm {
    name: String,
    document_type: String,
    document_number: String,
    phone: String,
    address: String,
    /// A household of the grid, or empty for the page's own area.
    household: Option<String>,
    cannot_walk: Option<String>,
    bedridden: Option<String>,
    other_needs: String,
}

pub(crate) async fn create(
    State(state): State<AppState>,
    caller: PageCaller,
    Path(area): Path<String>,
    Form(f): Form<NewPersonForm>,
) -> Result<Response, PageError> {
    let input = PersonInput {
        name: f.name,
        document_type: Some(f.document_type),
        document_number: Some(f.document_number),
        phone: Some(f.phone),
        address: Some(f.address),
        area: f.household.filter(|h| !h.is_empty()).unwrap_or(area),
        sex: None,
        birth_date: None,
        cannot_walk: f.cannot_walk.is_some(),
        bedridden: f.bedridden.is_some(),
        other_needs: Some(f.other_needs),
    };
    let person = people::create(state.store.as_ref(), &caller.actor, input, state.clock.today(), state.clock.now())
        .await
        .or_page(caller.lang)?;
    Ok(Redirect::to(&format!("/persons/{}", person.id)).into_response())
}

/// The edit form on a person's page: phone, address and the needs set by hand.
#[derive(Deserialize)]
pub(crate) struct EditPersonForm {
    phone: Option<String>,
    address: String,
    cannot_walk: Option<String>,
    bedridden: Option<String>,
    other_needs: String,
}

pub(crate) async fn update(
    State(state): State<AppState>,
    caller: PageCaller,
    Path(id): Path<i64>,
    Form(f): Form<EditPersonForm>,
) -> Result<Response, PageError> {
    let input = PersonChangeInput {
        // An empty phone field keeps the stored (masked, so not shown) number.
        phone: f.phone.filter(|p| !p.trim().is_empty()),
        address: Some(f.address),
        cannot_walk: Some(f.cannot_walk.is_some()),
        bedridden: Some(f.bedridden.is_some()),
        other_needs: Some(f.other_needs),
        ..Default::default()
    };
    people::update(state.store.as_ref(), &caller.actor, id, input, state.clock.now()).await.or_page(caller.lang)?;
    Ok(Redirect::to(&format!("/persons/{id}")).into_response())
}
