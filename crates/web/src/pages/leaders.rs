//! `/leaders`: the villages (and communities, and the town) in the caller's scope with their
//! leader (包村领导: title, name, masked phone) and, for those who may, a form per area to set
//! the leader from the staff members in scope, or to remove them.

use super::{Chrome, OrPage, PageCaller, PageError, render};
use crate::AppState;
use askama::Template;
use axum::{
    Form,
    extract::{Path, Query, State},
    response::{IntoResponse, Redirect, Response},
};
use bulwark_app::leaders::{self, LeaderInput};
use bulwark_domain::access::{Operation, allows};
use serde::Deserialize;

/// One area's line.
struct Line {
    code: String,
    name: String,
    kind: String,
    title: String,
    /// The leader's name, or empty when none is set (or they live outside the caller's scope).
    name_of_leader: String,
    phone: String,
    person: Option<i64>,
}

impl Line {
    /// Whether `id` is this area's leader (the option selected).
    fn led_by(&self, id: &i64) -> bool {
        self.person == Some(*id)
    }
}

#[derive(Template)]
#[template(path = "leaders.html")]
struct LeadersPage {
    chrome: Chrome,
    lines: Vec<Line>,
    can_manage: bool,
    /// (person id, name) of the staff members in scope.
    staff: Vec<(i64, String)>,
    notice: Option<String>,
}

#[derive(Deserialize)]
pub(crate) struct LeadersParams {
    notice: Option<String>,
}

pub(crate) async fn page(
    State(state): State<AppState>,
    caller: PageCaller,
    Query(p): Query<LeadersParams>,
) -> Result<Response, PageError> {
    let board = leaders::board(state.store.as_ref(), &caller.actor, state.clock.now()).await.or_page(caller.lang)?;
    let chrome = caller.chrome();
    let t = chrome.t;
    let lines = board
        .areas
        .iter()
        .map(|a| {
            let listed = board.leaders.get(&a.id);
            let person = listed.and_then(|l| l.person.as_ref());
            Line {
                code: a.code.as_str().to_string(),
                name: a.name.clone(),
                kind: t.get(&format!("kind-{}", a.kind.as_str())),
                title: listed.map(|l| l.led.leader.title.clone()).unwrap_or_default(),
                name_of_leader: person.map(|p| p.name.clone()).unwrap_or_default(),
                phone: person.and_then(|p| p.masked_phone()).unwrap_or_default(),
                person: listed.map(|l| l.led.leader.person),
            }
        })
        .collect();
    let notice = match p.notice.as_deref() {
        Some("set") => Some(t.get("leaders-notice-set")),
        Some("removed") => Some(t.get("leaders-notice-removed")),
        _ => None,
    };
    let page = LeadersPage {
        lines,
        can_manage: allows(caller.actor.account.role, Operation::RostersManage),
        staff: board.staff.iter().map(|p| (p.id, p.name.clone())).collect(),
        notice,
        chrome,
    };
    Ok(render(&page))
}

#[derive(Deserialize)]
pub(crate) struct LeaderForm {
    person_id: i64,
    title: String,
}

pub(crate) async fn set(
    State(state): State<AppState>,
    caller: PageCaller,
    Path(code): Path<String>,
    Form(f): Form<LeaderForm>,
) -> Result<Response, PageError> {
    let input = LeaderInput { person_id: f.person_id, title: f.title };
    leaders::set(state.store.as_ref(), &caller.actor, &code, input, state.clock.now()).await.or_page(caller.lang)?;
    Ok(Redirect::to("/leaders?notice=set").into_response())
}

pub(crate) async fn remove(
    State(state): State<AppState>,
    caller: PageCaller,
    Path(code): Path<String>,
) -> Result<Response, PageError> {
    leaders::remove(state.store.as_ref(), &caller.actor, &code, state.clock.now()).await.or_page(caller.lang)?;
    Ok(Redirect::to("/leaders?notice=removed").into_response())
}
