//! Reliability §3 (d), mass assignment: fields the API does not accept are never written.
//!
//! `PATCH /api/v1/persons/{id}` with the document, `synthetic`, `id`, `area_path`, the grid,
//! derived fields and timestamps changes none of them (alone, or next to an accepted field);
//! the accepted `area` is still held to the caller's scope. Creating a person or an account
//! with such fields stores what the server decides, not what the client sent.

use crate::support::{Agent, Log, fresh, fresh_id_number, fresh_name, household};
use bulwark_domain::{access::Scope, people::Person};
use bulwark_testkit::{Engine, START, TestServer};
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn stored(server: &TestServer, id: i64) -> Person {
    let root = Scope::of(server.fixture.area("county"));
    server.store.person(&root, id).await.expect("read").expect("the person exists")
}

/// `after` equals `before` but for `updated_at` and what `allowed` may change.
fn same_but(before: &Person, after: &Person, allowed: impl Fn(&mut Person, &Person)) -> Result<(), String> {
    let mut expected = before.clone();
    expected.updated_at = after.updated_at;
    allowed(&mut expected, after);
    if &expected == after { Ok(()) } else { Err(format!("before {before:?}\nafter  {after:?}")) }
}

async fn mass_assignment(engine: Engine) {
    let server = TestServer::start(engine).await;
    let f = &server.fixture;
    let log = Log::default();
    let grid_worker = Agent::bearer(&server, "gridworker_a", &log).await;
    let id = f.people["A"][0];
    let other = f.people["C"][0];
    let path = format!("/api/v1/persons/{id}");
    let (foreign_document, _) = f.canaries[&other].clone();
    let c = f.area("C");
    let unaccepted = json!({
        "document_number": foreign_document,
        "id_number": foreign_document,
        "document_type": "passport",
        "synthetic": false,
        "id": other,
        "area_path": c.path,
        "grid": c.id,
        "grid_id": c.id,
        "area_id": c.id,
        "sex": "female",
        "birth_date": "2001-02-03",
        "created_at": 0,
        "updated_at": 0,
        "role": "admin",
        "status": "isolated",
    });
    let mut problems = Vec::new();

    let before = stored(&server, id).await;
    let r = grid_worker.patch(&path, unaccepted.clone()).await;
    if r.status.is_server_error() {
        problems.push(format!("PATCH with unaccepted fields: {} {}", r.status, r.text));
    }
    let after = stored(&server, id).await;
    if let Err(e) = same_but(&before, &after, |_, _| {}) {
        problems.push(format!("PATCH with unaccepted fields only ({}) changed the record:\n{e}", r.status));
    }
    if stored(&server, other).await.synthetic != before.synthetic || stored(&server, other).await.id != other {
        problems.push("the person named by `id` in the body changed".into());
    }

    // Next to an accepted field: only that field changes.
    let mut with_name = unaccepted.clone();
    with_name["name"] = Value::from("改名测试");
    let before = stored(&server, id).await;
    let r = grid_worker.patch(&path, with_name).await;
    let after = stored(&server, id).await;
    if r.status == StatusCode::OK {
        if after.name != "改名测试" {
            problems.push("the accepted name was not applied".into());
        }
        if let Err(e) = same_but(&before, &after, |p, a| p.name = a.name.clone()) {
            problems.push(format!("PATCH with a name and unaccepted fields changed more than the name:\n{e}"));
        }
        if r.json["document_number_masked"]
            .as_str()
            .is_some_and(|m| !m.ends_with(&before.document.number().unwrap_or_default()[14..]))
        {
            problems.push(format!("the answer shows another document: {}", r.json["document_number_masked"]));
        }
    } else if !r.status.is_client_error() {
        problems.push(format!("PATCH with a name and unaccepted fields: {} {}", r.status, r.text));
    } else if let Err(e) = same_but(&before, &after, |_, _| {}) {
        problems.push(format!("a refused PATCH ({}) changed the record:\n{e}", r.status));
    }

    // The accepted `area` stays inside the caller's scope.
    for target in [household(&server, "C"), f.code("B"), household(&server, "B")] {
        let before = stored(&server, id).await;
        let r = grid_worker.patch(&path, json!({"area": target})).await;
        if r.status != StatusCode::FORBIDDEN {
            problems.push(format!(
                "moving person {id} to {target} as gridworker_a: expected 403, got {} {}",
                r.status, r.text
            ));
        }
        if let Err(e) = same_but(&before, &stored(&server, id).await, |_, _| {}) {
            problems.push(format!("the refused move to {target} changed the record:\n{e}"));
        }
    }

    // Creating a person: the server decides the id, the grid, the path, `synthetic` and the times.
    let commander = Agent::bearer(&server, "commander", &log).await;
    let n = fresh();
    let r = commander
        .post(
            "/api/v1/persons",
            json!({
                "name": fresh_name(n), "document_number": fresh_id_number(n), "area": household(&server, "A"),
                "synthetic": true, "id": other, "area_path": c.path, "grid": c.id, "created_at": 0, "updated_at": 0,
            }),
        )
        .await;
    if r.status == StatusCode::CREATED {
        let new_id = r.json["id"].as_i64().expect("an id");
        let p = stored(&server, new_id).await;
        let a = f.area("A");
        if new_id == other
            || p.synthetic
            || p.grid != Some(a.id)
            || !p.area_path.starts_with(&a.path)
            || p.created_at != START
        {
            problems.push(format!("the created person took fields from the body: {p:?}"));
        }
    } else if !r.status.is_client_error() {
        problems.push(format!("creating a person with unaccepted fields: {} {}", r.status, r.text));
    }

    // Creating an account: scope, state and id are the server's.
    let admin = Agent::bearer(&server, "admin", &log).await;
    let username = format!("ma{}", fresh());
    let r = admin
        .post(
            "/api/v1/users",
            json!({
                "username": username, "role": "sampler", "scope": f.code("A"), "password": "mass-assign-1",
                "disabled": true, "id": 1, "scope_area": c.id, "role_id": 1,
            }),
        )
        .await;
    if r.status == StatusCode::CREATED {
        let accounts = server.store.accounts(&Scope::of(f.area("county"))).await.expect("accounts");
        let account = accounts.iter().find(|a| a.username.as_str() == username).expect("the new account");
        if account.id == 1 || account.disabled || account.scope != f.area("A").id {
            problems.push(format!("the created account took fields from the body: {account:?}"));
        }
    } else if !r.status.is_client_error() {
        problems.push(format!("creating an account with unaccepted fields: {} {}", r.status, r.text));
    }

    assert!(problems.is_empty(), "{} problems:\n  {}", problems.len(), problems.join("\n  "));
}

#[tokio::test]
async fn mass_assignment_sqlite() {
    mass_assignment(Engine::Sqlite).await;
}

#[tokio::test]
async fn mass_assignment_postgres() {
    mass_assignment(Engine::Postgres).await;
}
