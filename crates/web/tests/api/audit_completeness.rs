//! Reliability §3 (f): every read of a person's record is in the audit log.
//!
//! A workload of reads (lists paged through, searches, person reads, reveals, the area and person
//! pages through a cookie session) and writes, by several roles, plus the whole authorization
//! matrix; then, from the response bodies, the set A of (request → people shown), found by
//! the people's names and full values; and from the audit log (read by the auditor page by page
//! with `before`) the entries grouped by request. Every request that showed people must have its
//! own group: the same account, the operation of the route, and exactly one entry per person
//! shown (a list of 50 is 50 entries). Every 403 must appear as a `denied` entry of the same
//! account and operation, writes have their entries, and nothing the audit endpoint answers
//! holds a canary ID number or phone.

use crate::{
    authorization_matrix::run_matrix,
    support::{
        Agent, Body, Exchange, Log, PersonIndex, api_operations, audit_log, canaries_in, excerpt, fresh, fresh_grid,
        fresh_id_number, fresh_name, fresh_phone, household, is_export, matches_template, policy_of, sensitive_values,
        served_document,
    },
};
use bulwark_testkit::{Engine, TestServer};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap, HashSet};

/// What the workload wrote.
pub struct Workload {
    pub created: Vec<i64>,
    pub updated: Vec<i64>,
}

/// Reads and writes by several roles, through the API and the pages; some of them refused.
pub async fn read_workload(server: &TestServer, log: &Log) -> Workload {
    let f = &server.fixture;
    let (a, b, c) = (&f.people["A"], &f.people["B"], &f.people["C"]);
    let own_origin = [("origin", server.url.as_str())];

    let commander = Agent::bearer(server, "commander", log).await;
    let mut after: Option<i64> = None;
    for _ in 0..20 {
        let path = match after {
            Some(n) => format!("/api/v1/persons?limit=5&after={n}"),
            None => "/api/v1/persons?limit=5".to_string(),
        };
        let r = commander.get(&path).await;
        match r.json["next"].as_i64() {
            Some(n) => after = Some(n),
            None => break,
        }
    }
    commander.get("/api/v1/persons?q=%E6%B5%8B%E8%AF%95A").await; // q=测试A
    commander.get(&format!("/api/v1/persons?area={}", f.code("A"))).await;
    commander.get(&format!("/api/v1/persons/{}", a[0])).await;
    commander.post(&format!("/api/v1/persons/{}/reveal", a[0]), json!({"reason": "流调核实"})).await;
    commander.get("/api/v1/notifications").await;

    let commander_page = Agent::cookie(server, "commander", log).await;
    commander_page.get(&format!("/areas/{}", f.code("A"))).await;
    commander_page.get(&format!("/areas/{}?after={}", f.code("B"), b[2])).await;
    commander_page.get(&format!("/areas/{}", f.code("village1"))).await;
    commander_page.get(&format!("/persons/{}", a[1])).await;
    // The delivery board shows the people notified (the matrix filled the outbox).
    commander_page.get("/notifications").await;
    commander_page
        .send(
            Method::POST,
            &format!("/persons/{}/reveal", a[1]),
            Body::Form(vec![("reason".into(), "转运联系".into())]),
            &own_origin,
        )
        .await;

    let grid_worker = Agent::bearer(server, "gridworker_a", log).await;
    grid_worker.get("/api/v1/persons").await;
    grid_worker.get(&format!("/api/v1/persons/{}", a[2])).await;
    grid_worker.post(&format!("/api/v1/persons/{}/reveal", a[2]), json!({"reason": "上门采样"})).await;
    grid_worker.get(&format!("/api/v1/persons/{}", b[0])).await; // 403
    grid_worker.get(&format!("/api/v1/persons?area={}", f.code("B"))).await; // 403
    grid_worker.get(&format!("/areas/{}", f.code("B"))).await; // 403
    grid_worker.get("/import").await; // 403

    let working_group = Agent::bearer(server, "working_group", log).await;
    working_group.get(&format!("/api/v1/persons?area={}", f.code("village1"))).await;
    working_group.get(&format!("/api/v1/persons/{}", a[3])).await;

    let dispatcher = Agent::bearer(server, "dispatcher", log).await;
    dispatcher.get(&format!("/api/v1/persons?area={}", f.code("B"))).await;
    dispatcher.get(&format!("/api/v1/persons/{}", b[1])).await;

    let sampler = Agent::bearer(server, "sampler", log).await;
    sampler.get(&format!("/api/v1/persons/{}", a[4])).await;
    sampler.get("/api/v1/persons").await; // 403
    sampler.post(&format!("/api/v1/persons/{}/reveal", a[4]), json!({"reason": "核对身份"})).await; // 403

    let commander_two = Agent::bearer(server, "commander_two", log).await;
    commander_two.get("/api/v1/persons").await;
    commander_two.get(&format!("/api/v1/persons/{}", c[0])).await;
    commander_two.get(&format!("/api/v1/persons/{}", a[0])).await; // 403

    for (name, path) in [
        ("auditor", "/api/v1/persons".to_string()),
        ("auditor", format!("/api/v1/persons/{}", a[0])),
        ("lab", "/api/v1/persons".to_string()),
        ("lab", "/api/v1/areas".to_string()),
        ("admin", "/api/v1/persons".to_string()),
    ] {
        Agent::bearer(server, name, log).await.get(&path).await; // 403
    }

    // Writes, allowed and refused.
    let n = fresh();
    let created = commander
        .post(
            "/api/v1/persons",
            json!({"name": fresh_name(n), "document_number": fresh_id_number(n), "phone": fresh_phone(n), "area": household(server, "A")}),
        )
        .await;
    let updated = grid_worker.patch(&format!("/api/v1/persons/{}", a[5]), json!({"address": "一号网格新址"})).await;
    grid_worker.patch(&format!("/api/v1/persons/{}", a[5]), json!({"area": household(server, "B")})).await; // 403
    commander.patch(&format!("/api/v1/areas/{}", household(server, "C")), json!({"name": "改名"})).await; // 403
    commander
        .post("/api/v1/areas", json!({"parent": f.code("C"), "code": format!("{}-H{}", f.code("C"), fresh()), "name": "新户", "kind": "household"}))
        .await; // 403
    let n = fresh();
    commander
        .post(
            "/api/v1/persons",
            json!({"name": fresh_name(n), "document_number": fresh_id_number(n), "area": household(server, "C")}),
        )
        .await; // 403
    let (from, into) = (fresh_grid(server, "village2").await, fresh_grid(server, "village2").await);
    commander.post(&format!("/api/v1/areas/{}/merge", from.code), json!({"into": into.code.as_str()})).await; // 403

    Workload {
        created: created.json["id"].as_i64().into_iter().collect(),
        updated: (updated.status == StatusCode::OK).then_some(a[5]).into_iter().collect(),
    }
}

/// The audited operation of a route that shows people, if it is one.
fn read_operation(method: &Method, route: &str) -> Option<&'static str> {
    const READS: &[(&str, &str, &str)] = &[
        ("GET", "/api/v1/persons", "persons_list"),
        ("GET", "/api/v1/persons/{id}", "persons_read"),
        ("POST", "/api/v1/persons", "persons_create"),
        ("PATCH", "/api/v1/persons/{id}", "persons_update"),
        ("POST", "/api/v1/persons/{id}/reveal", "persons_reveal"),
        ("GET", "/areas/{code}", "persons_list"),
        ("GET", "/persons/{id}", "persons_read"),
        ("POST", "/persons/{id}/reveal", "persons_reveal"),
        ("POST", "/api/v1/registrations", "registrations_create"),
        ("POST", "/api/v1/registrations/batch", "registrations_create"),
        ("GET", "/api/v1/rounds/{id}/untested", "untested_list"),
        ("GET", "/api/v1/rounds/{id}/home-visits", "home_sampling_read"),
        ("GET", "/api/v1/rounds/{id}/abnormal-pools", "abnormal_pools_read"),
        ("GET", "/api/v1/qr-codes", "printables_read"),
        ("GET", "/api/v1/incidents/{id}/rollcall/missing", "incidents_read"),
        ("GET", "/api/v1/incidents/{id}/rollcall/arrived", "incidents_read"),
        ("GET", "/incidents/{id}", "incidents_read"),
        ("GET", "/api/v1/notifications", "notifications_read"),
        ("GET", "/notifications", "notifications_read"),
        ("GET", "/api/v1/rosters", "rosters_read"),
        ("GET", "/api/v1/rosters/export", "rosters_read"),
        ("GET", "/api/v1/incidents/{id}/export/tasks", "incidents_read"),
        ("GET", "/api/v1/incidents/{id}/export/missing", "incidents_read"),
        ("GET", "/api/v1/rounds/{id}/export/untested", "untested_list"),
        ("GET", "/api/v1/rounds/{id}/export/abnormal-pools", "abnormal_pools_read"),
        ("GET", "/api/v1/rounds/{id}/export/home-visits", "home_sampling_read"),
        ("POST", "/api/v1/assignments", "rosters_manage"),
        ("GET", "/api/v1/leaders", "rosters_read"),
        ("PUT", "/api/v1/areas/{code}/leader", "rosters_manage"),
        ("GET", "/leaders", "rosters_read"),
        ("GET", "/rosters", "rosters_read"),
        ("GET", "/rosters/posts/{id}", "rosters_read"),
        ("GET", "/checkin", "posts_check_in"),
    ];
    READS.iter().find(|(m, t, _)| *m == method.as_str() && matches_template(t, route)).map(|(_, _, op)| *op)
}

/// The person a reveal route is about.
pub fn revealed_person(e: &Exchange) -> Option<i64> {
    let route = e.route();
    if e.method != Method::POST || !route.ends_with("/reveal") {
        return None;
    }
    route.trim_end_matches("/reveal").rsplit('/').next().and_then(|id| id.parse().ok())
}

/// Checks the audit log against the exchanges; returns the violations and prints the figures.
pub async fn check_audit(server: &TestServer, exchanges: &[Exchange], workload: &Workload, label: &str) -> Vec<String> {
    let mut v = Vec::new();
    let ops = api_operations(&served_document(server).await);
    let index = PersonIndex::load(server).await;
    let audit_reads = Log::default();
    let auditor = Agent::bearer(server, "auditor", &audit_reads).await;
    let entries = audit_log(&auditor).await;

    // Set B: success entries about people, grouped by request.
    let mut groups: HashMap<String, Vec<&Value>> = HashMap::new();
    for e in &entries {
        if e["outcome"] == "success" && e["person"].is_i64() {
            groups.entry(e["request_id"].as_str().unwrap_or_default().to_string()).or_default().push(e);
        }
    }
    let mut used: HashSet<String> = HashSet::new();

    // Set A: every request that showed people.
    let mut reads = 0;
    let mut pairs = 0;
    for x in exchanges {
        if !x.status.is_success() || x.route() == "/api/v1/audit" {
            continue;
        }
        let shown: Vec<i64> = index.persons_in(&x.text).into_iter().collect();
        if shown.is_empty() {
            continue;
        }
        let Some(op) = read_operation(&x.method, x.route()) else {
            v.push(format!("{} {} {} shows people {shown:?} but is no audited read", x.agent, x.method, x.path));
            continue;
        };
        reads += 1;
        pairs += shown.len();
        // An export that writes whole ID numbers or phones also holds one reveal entry (reason
        // "export") for each person whose whole numbers it wrote, in the same request.
        let mut revealed: Vec<i64> = if is_export(x.route()) {
            index.full_values_in(&x.text).into_iter().map(|(id, _)| id).collect()
        } else {
            Vec::new()
        };
        revealed.sort_unstable();
        revealed.dedup();
        let people_of = |entries: &[&Value]| {
            let mut people: Vec<i64> = entries.iter().filter_map(|e| e["person"].as_i64()).collect();
            people.sort_unstable();
            people
        };
        let found = groups.iter().find(|(rid, g)| {
            if used.contains(*rid) || g.iter().any(|e| e["username"] != x.agent.as_str()) {
                return false;
            }
            let (reads, reveals): (Vec<&Value>, Vec<&Value>) = g.iter().copied().partition(|e| e["operation"] == op);
            if reveals.iter().any(|e| e["operation"] != "persons_reveal" || e["detail"] != "export") {
                return false;
            }
            people_of(&reads) == shown
                && people_of(&reveals) == revealed
                && (op != "persons_reveal" || reads.iter().all(|e| e["detail"].as_str() == x.reason.as_deref()))
        });
        match found {
            Some((rid, _)) => {
                used.insert(rid.clone());
            }
            None => v.push(format!(
                "{} {} {} showed people {shown:?} (whole numbers of {revealed:?}), but no request of the audit log has exactly one {op} entry for each (and one export reveal for each whole number)",
                x.agent, x.method, x.path
            )),
        }
    }

    // Denied attempts: one `denied` entry per 403, by account and operation.
    let mut issued: BTreeMap<(String, String), usize> = BTreeMap::new();
    for x in exchanges {
        // An outbox upload answers each item on its own: its refused items are denials too.
        if x.status == StatusCode::OK && x.route() == "/api/v1/registrations/batch" {
            let value: Value = serde_json::from_str(&x.text).unwrap_or_default();
            let refused = value["results"].as_array().into_iter().flatten().filter(|r| r["status"] == 403).count();
            *issued.entry((x.agent.clone(), "registrations_create".into())).or_default() += refused;
            continue;
        }
        if x.status != StatusCode::FORBIDDEN || x.text.contains("\"cross_origin\"") {
            continue;
        }
        match policy_of(&ops, &x.method, x.route()) {
            Some(op) => *issued.entry((x.agent.clone(), op)).or_default() += 1,
            None => v.push(format!("{} {} {}: a 403 on a route the test does not know", x.agent, x.method, x.path)),
        }
    }
    let mut logged: BTreeMap<(String, String), usize> = BTreeMap::new();
    for e in &entries {
        if e["outcome"] == "denied" && e["operation"] != "login" {
            let key = (
                e["username"].as_str().unwrap_or_default().to_string(),
                e["operation"].as_str().unwrap_or_default().to_string(),
            );
            *logged.entry(key).or_default() += 1;
        }
    }
    let keys: std::collections::BTreeSet<_> = issued.keys().chain(logged.keys()).cloned().collect();
    for key in keys {
        let (i, l) = (issued.get(&key).copied().unwrap_or(0), logged.get(&key).copied().unwrap_or(0));
        if i != l {
            let refused: Vec<String> = exchanges
                .iter()
                .filter(|x| {
                    x.status == StatusCode::FORBIDDEN
                        && x.agent == key.0
                        && policy_of(&ops, &x.method, x.route()).as_deref() == Some(key.1.as_str())
                })
                .map(|x| format!("{} {}", x.method, x.path))
                .collect();
            v.push(format!(
                "{} {}: {i} requests refused with 403, {l} `denied` audit entries; the refused requests: {}",
                key.0,
                key.1,
                refused.join(", ")
            ));
        }
    }

    // Writes.
    for (ids, op) in [(&workload.created, "persons_create"), (&workload.updated, "persons_update")] {
        for id in ids {
            if !entries.iter().any(|e| e["person"] == *id && e["operation"] == op && e["outcome"] == "success") {
                v.push(format!("person {id}: no {op} entry"));
            }
        }
    }
    if workload.created.is_empty() || workload.updated.is_empty() {
        v.push("the workload's create and update did not both succeed".into());
    }

    // Nothing the auditor sees holds an ID number or a phone.
    let page = auditor.get("/audit").await;
    let mut audit_texts: Vec<String> = audit_reads.exchanges().into_iter().map(|x| x.text).collect();
    audit_texts.push(page.text);
    for text in &audit_texts {
        let mut found = canaries_in(server, text);
        found.extend(sensitive_values(text));
        if !found.is_empty() {
            let entry = entries.iter().find(|e| found.iter().any(|f| e.to_string().contains(f.as_str())));
            v.push(format!(
                "the audit log shows {found:?}: {}",
                excerpt(&entry.map(Value::to_string).unwrap_or_default())
            ));
        }
    }
    let denied_issued: usize = issued.values().sum();
    let denied_logged: usize = logged.values().sum();
    println!(
        "audit completeness on {label}: {} exchanges, {reads} responses with person data, {pairs} (request, person) pairs, {} audit entries, {} read groups matched, {denied_issued} refusals issued, {denied_logged} denied entries, {} violations",
        exchanges.len(),
        entries.len(),
        used.len(),
        v.len()
    );
    v
}

async fn audit_completeness(engine: Engine) {
    let server = TestServer::start(engine).await;
    let log = Log::default();
    let _ = run_matrix(&server, &log).await;
    let workload = read_workload(&server, &log).await;
    let violations = check_audit(&server, &log.exchanges(), &workload, &format!("{engine:?}")).await;
    assert!(violations.is_empty(), "{} violations:\n  {}", violations.len(), violations.join("\n  "));
}

#[tokio::test]
async fn audit_completeness_sqlite() {
    audit_completeness(Engine::Sqlite).await;
}

#[tokio::test]
async fn audit_completeness_postgres() {
    audit_completeness(Engine::Postgres).await;
}
