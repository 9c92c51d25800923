//! The authorization matrix's and the CSRF suite's cases for command: an incident opened in each
//! town (directly in storage, once per server), with the fixture's residents of that town as its
//! members. An incident belongs to its town: a caller scoped to a grid, or to the other town, is
//! refused it like a nonexistent one.

use crate::{
    authorization_matrix::Case,
    support::{ApiOp, Body, NO_ID, foreign_grids, fresh, home_grid},
};
use bulwark_domain::{
    access::Scope,
    areas::Area,
    command::{IncidentLevel, golden_24_hours},
    workforce::Team,
};
use bulwark_store::command::NewIncident;
use bulwark_testkit::{START, TestServer};
use serde_json::json;
use std::collections::BTreeMap;

/// The incident of each town ("town1", "town2"), with one member and one task of each.
pub struct Scene {
    pub incidents: BTreeMap<&'static str, i64>,
    pub members: BTreeMap<&'static str, i64>,
    pub tasks: BTreeMap<&'static str, i64>,
}

const TRIGGER: &str = "矩阵演练";

pub async fn scene(server: &TestServer) -> Scene {
    let store = server.store.as_ref();
    let f = &server.fixture;
    let mut incidents = BTreeMap::new();
    let mut members = BTreeMap::new();
    let mut tasks = BTreeMap::new();
    for (town, grid) in [("town1", "A"), ("town2", "C")] {
        let area = f.area(town);
        let existing =
            store.incidents(&Scope::of(area)).await.expect("incidents").into_iter().find(|i| i.trigger == TRIGGER);
        let id = match existing {
            Some(i) => i.id,
            None => {
                let plan = golden_24_hours();
                let stored = store.save_plan(&plan, START, 1).await.expect("plan");
                let staff: Vec<_> = f.people[grid].iter().map(|p| (*p, Team::Cadre)).collect();
                let activation = plan.instantiate(START, &staff);
                let tokens = staff.iter().map(|(p, _)| (*p, format!("{:064x}", fresh()))).collect();
                let new = NewIncident {
                    plan: plan.key.clone(),
                    plan_version: stored.version,
                    title: plan.title.clone(),
                    trigger: TRIGGER.into(),
                    level: IncidentLevel::parse("3").expect("level"),
                    area: area.id,
                    headquarters: "指挥中心".into(),
                    forward_post: "前线".into(),
                    by: 1,
                    activation,
                    tokens,
                    timeline_text: "矩阵演练启动".into(),
                };
                store.open_incident(new).await.expect("incident")
            }
        };
        incidents.insert(town, id);
        members.insert(town, f.people[grid][0]);
        tasks.insert(town, store.tasks(id).await.expect("tasks")[0].id);
    }
    Scene { incidents, members, tasks }
}

fn town_of(grid: &str) -> &'static str {
    if grid == "C" { "town2" } else { "town1" }
}

pub async fn matrix_cases(server: &TestServer, op: &ApiOp, scope: &Area) -> Option<Vec<Case>> {
    let id = op.operation_id.as_str();
    let known = id.starts_with("plans_")
        || id.starts_with("incidents_")
        || matches!(id, "roll_call_answer" | "tasks_update" | "timeline_write" | "reports_read");
    if !known {
        return None;
    }
    let f = &server.fixture;
    let mut out = Vec::new();
    match id {
        "plans_read.list" | "incidents_read.list" => out.push(Case::new(op, op.template.clone(), Body::Empty, "list")),
        "plans_read.export" => out.push(Case::new(op, "/api/v1/plans/golden-24h".into(), Body::Empty, "shipped plan")),
        "plans_manage" => {
            let mut plan = golden_24_hours();
            plan.title = format!("矩阵预案 {}", fresh());
            let body = serde_json::to_value(&plan).expect("plan as JSON");
            out.push(Case::new(op, op.template.clone(), Body::Json(body), "a new version"));
        }
        "incidents_activate" => {
            let body = json!({"plan": "golden-24h", "trigger": "矩阵启动", "level": 4});
            out.push(Case::new(op, op.template.clone(), Body::Json(body), "own area"));
        }
        _ => {
            let scene = scene(server).await;
            let mut grids = vec![(home_grid(server, scope), "in scope".to_string())];
            grids.extend(foreign_grids(server, scope).into_iter().map(|g| (g, format!("out of scope ({g})"))));
            for (grid, variant) in grids {
                let town = town_of(grid);
                let incident = scene.incidents[town];
                let (path, body) = match id {
                    "roll_call_answer" => (
                        format!("/api/v1/incidents/{incident}/rollcall"),
                        Body::Json(json!({"person_id": scene.members[town], "status": "received"})),
                    ),
                    "tasks_update" => {
                        (format!("/api/v1/tasks/{}", scene.tasks[town]), Body::Json(json!({"notes": "矩阵"})))
                    }
                    "timeline_write" => {
                        (format!("/api/v1/incidents/{incident}/timeline"), Body::Json(json!({"text": "矩阵"})))
                    }
                    "incidents_activate.resend" => (
                        format!("/api/v1/incidents/{incident}/rollcall/resend"),
                        Body::Json(json!({"persons": [scene.members[town]]})),
                    ),
                    _ => (op.template.replace("{id}", &incident.to_string()), Body::Empty),
                };
                out.push(Case::new(op, path, body, variant).at(&f.area(town).path));
            }
            let (path, body) = match id {
                "roll_call_answer" => (
                    format!("/api/v1/incidents/{NO_ID}/rollcall"),
                    Body::Json(json!({"person_id": scene.members["town1"], "status": "received"})),
                ),
                "tasks_update" => (format!("/api/v1/tasks/{NO_ID}"), Body::Json(json!({"notes": "矩阵"}))),
                "timeline_write" => {
                    (format!("/api/v1/incidents/{NO_ID}/timeline"), Body::Json(json!({"text": "矩阵"})))
                }
                "incidents_activate.resend" => {
                    (format!("/api/v1/incidents/{NO_ID}/rollcall/resend"), Body::Json(json!({})))
                }
                _ => (op.template.replace("{id}", &NO_ID.to_string()), Body::Empty),
            };
            out.push(Case::new(op, path, body, "nonexistent").missing());
        }
    }
    Some(out)
}

/// The command pages' POST routes for the CSRF suite, each with a form that succeeds from the
/// page's own origin for a commander of town one: (template, path, form).
pub async fn csrf_page_targets(server: &TestServer) -> Vec<(&'static str, String, Body)> {
    let scene = scene(server).await;
    let incident = scene.incidents["town1"];
    let form = |pairs: Vec<(&str, String)>| Body::Form(pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect());
    let mut plan = golden_24_hours();
    plan.title = format!("跨站检查预案 {}", fresh());
    let plan_json = serde_json::to_string(&plan).expect("plan as JSON");
    let mut file = golden_24_hours();
    file.title = format!("跨站检查预案文件 {}", fresh());
    vec![
        (
            "/incidents",
            "/incidents".into(),
            form(vec![("plan", "golden-24h".into()), ("trigger", "跨站检查".into()), ("level", "4".into())]),
        ),
        (
            "/incidents/{id}/timeline",
            format!("/incidents/{incident}/timeline"),
            form(vec![("text", "跨站检查".into())]),
        ),
        ("/tasks/{id}", format!("/tasks/{}", scene.tasks["town1"]), form(vec![("status", "in_progress".into())])),
        ("/incidents/{id}/rollcall/resend", format!("/incidents/{incident}/rollcall/resend"), form(vec![])),
        // Without `base`: the latest version, whatever the other targets saved before.
        (
            "/plans/{key}/edit",
            "/plans/golden-24h/edit".into(),
            form(vec![("g0.new.title", "跨站检查".into()), ("g0.new.hours", "1".into())]),
        ),
        ("/plans", "/plans".into(), form(vec![("plan", plan_json)])),
        ("/plans/import", "/plans/import".into(), Body::File(serde_json::to_vec(&file).expect("plan file"))),
    ]
}
