//! The area tree page and an area's page (a grid's page lists its residents, masked).

use super::{Chrome, OrPage, PageCaller, PageError, render};
use crate::{AppState, views::PersonView};
use askama::Template;
use axum::{
    Form,
    extract::{Path, Query, State},
    response::{IntoResponse, Redirect, Response},
};
use bulwark_app::{areas, people};
use bulwark_domain::{
    access::{Operation, allows},
    areas::{Area, AreaKind},
    people::DocumentType,
};
use serde::Deserialize;

pub(crate) struct TreeRow {
    pub code: String,
    pub name: String,
    pub kind: String,
    pub depth: usize,
}

#[derive(Template)]
#[template(path = "areas.html")]
struct TreePage {
    chrome: Chrome,
    rows: Vec<TreeRow>,
}

pub(crate) async fn tree(State(state): State<AppState>, caller: PageCaller) -> Result<Response, PageError> {
    let areas = areas::tree(state.store.as_ref(), &caller.actor, state.clock.now()).await.or_page(caller.lang)?;
    let base = areas.first().map(|a| a.path.matches('/').count()).unwrap_or(0);
    let chrome = caller.chrome();
    let rows = areas
        .iter()
        .map(|a| TreeRow {
            code: a.code.as_str().to_string(),
            name: a.name.clone(),
            kind: chrome.t.get(&format!("kind-{}", a.kind.as_str())),
            depth: a.path.matches('/').count().saturating_sub(base),
        })
        .collect();
    Ok(render(&TreePage { chrome, rows }))
}

#[derive(Template)]
#[template(path = "area.html")]
struct AreaPage {
    chrome: Chrome,
    area: Area,
    kind: String,
    ancestors: Vec<Area>,
    children: Vec<Area>,
    people_total: u64,
    residents: Vec<PersonView>,
    shows_residents: bool,
    next: Option<i64>,
    can_manage: bool,
    can_create_grid: bool,
    siblings: Vec<Area>,
    is_grid: bool,
    can_register: bool,
    document_types: Vec<(&'static str, String)>,
}

#[derive(Deserialize)]
pub(crate) struct PageParams {
    after: Option<i64>,
}

pub(crate) async fn detail(
    State(state): State<AppState>,
    caller: PageCaller,
    Path(code): Path<String>,
    Query(params): Query<PageParams>,
) -> Result<Response, PageError> {
    let store = state.store.as_ref();
    let now = state.clock.now();
    let lang = caller.lang;
    let d = areas::detail(store, &caller.actor, &code, now).await.or_page(lang)?;
    let role = caller.actor.account.role;
    let shows_residents =
        matches!(d.area.kind, AreaKind::Grid | AreaKind::Household) && allows(role, Operation::PersonsList);
    let (residents, next) = if shows_residents {
        let page = people::list(store, &caller.actor, Some(&code), None, params.after, 50, now).await.or_page(lang)?;
        (PersonView::many(store, &page.people, state.clock.today()).await.or_page(lang)?, page.next)
    } else {
        (Vec::new(), None)
    };
    let can_manage = allows(role, Operation::AreasManage) && d.area.id != caller.actor.scope.area;
    let is_grid = d.area.kind == AreaKind::Grid;
    let siblings = match (is_grid && can_manage, d.area.parent) {
        (true, Some(parent)) => {
            store.children(parent).await.or_page(lang)?.into_iter().filter(|a| a.id != d.area.id).collect()
        }
        _ => Vec::new(),
    };
    let chrome = caller.chrome();
    let can_register =
        matches!(d.area.kind, AreaKind::Grid | AreaKind::Household) && allows(role, Operation::PersonsCreate);
    let document_types =
        DocumentType::ALL.iter().map(|t| (t.as_str(), chrome.t.get(&format!("doc-{}", t.as_str())))).collect();
    let ancestors = d.ancestors.into_iter().filter(|a| a.id != d.area.id).collect();
    Ok(render(&AreaPage {
        kind: chrome.t.get(&format!("kind-{}", d.area.kind.as_str())),
        chrome,
        can_create_grid: allows(role, Operation::AreasManage) && d.area.kind.can_contain(AreaKind::Grid),
        area: d.area,
        ancestors,
        children: d.children,
        people_total: d.people,
        residents,
        shows_residents,
        next,
        can_manage,
        siblings,
        is_grid,
        can_register,
        document_types,
    }))
}

#[derive(Deserialize)]
pub(crate) struct NewGridForm {
    code: String,
    name: String,
}

pub(crate) async fn create_grid(
    State(state): State<AppState>,
    caller: PageCaller,
    Path(parent): Path<String>,
    Form(form): Form<NewGridForm>,
) -> Result<Response, PageError> {
    let now = state.clock.now();
    let grid = areas::create(state.store.as_ref(), &caller.actor, &parent, &form.code, &form.name, "grid", now)
        .await
        .or_page(caller.lang)?;
    Ok(Redirect::to(&format!("/areas/{}", grid.code)).into_response())
}

#[derive(Deserialize)]
pub(crate) struct RenameForm {
    name: String,
}

pub(crate) async fn rename(
    State(state): State<AppState>,
    caller: PageCaller,
    Path(code): Path<String>,
    Form(form): Form<RenameForm>,
) -> Result<Response, PageError> {
    areas::rename(state.store.as_ref(), &caller.actor, &code, &form.name, state.clock.now())
        .await
        .or_page(caller.lang)?;
    Ok(Redirect::to(&format!("/areas/{code}")).into_response())
}

#[derive(Deserialize)]
pub(crate) struct MergeForm {
    into: String,
}

pub(crate) async fn merge(
    State(state): State<AppState>,
    caller: PageCaller,
    Path(code): Path<String>,
    Form(form): Form<MergeForm>,
) -> Result<Response, PageError> {
    areas::merge(state.store.as_ref(), &caller.actor, &code, &form.into, state.clock.now())
        .await
        .or_page(caller.lang)?;
    // Account scopes inside the merged grid moved.
    state.sessions.clear();
    Ok(Redirect::to(&format!("/areas/{}", form.into)).into_response())
}
