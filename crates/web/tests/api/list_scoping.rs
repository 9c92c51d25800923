//! Reliability §3 (d): lists, searches, counts and pages never show anything outside the
//! caller's scope (the DHIS2 CVE-2023-32060 class), checked on the bodies, not only the status.
//!
//! For every account that may list residents: the list without an area, with every fixture area
//! and each grid's first household, with search terms that match out-of-scope people (name
//! prefixes, whole names, ID-number suffixes and whole ID numbers, LIKE wildcards), and paged
//! through everything with `after`/`next` at several page sizes. No person outside the scope may
//! appear, `total` must count only in-scope people, and the unfiltered list must hold every
//! in-scope person exactly once. The same holds for the area tree, area details, accounts and
//! the pages that show them.

use crate::support::{Agent, Log, PersonIndex, area_links, excerpt, inside, person_links, scope_of};
use bulwark_domain::{
    access::{Operation, Scope, allows},
    areas::Area,
};
use bulwark_testkit::{Engine, TestServer};
use reqwest::StatusCode;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// Percent-encodes a query value.
fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// Everything the checks need to know about the stored tree and register.
struct World {
    index: PersonIndex,
    /// Every area (households too), by code.
    areas: BTreeMap<String, Area>,
    areas_by_id: HashMap<i64, Area>,
}

impl World {
    async fn load(server: &TestServer) -> World {
        let root = Scope::of(server.fixture.area("county"));
        let all = server.store.areas_within(&root, true).await.expect("areas");
        World {
            index: PersonIndex::load(server).await,
            areas_by_id: all.iter().map(|a| (a.id, a.clone())).collect(),
            areas: all.into_iter().map(|a| (a.code.as_str().to_string(), a)).collect(),
        }
    }

    /// The people inside both `scope` and `within`.
    fn people_inside(&self, scope: &Area, within: &Area) -> BTreeSet<i64> {
        self.index.paths.iter().filter(|(_, p)| inside(scope, p) && inside(within, p)).map(|(id, _)| *id).collect()
    }
}

/// Checks one page of `/api/v1/persons`: only people inside `scope` and `within`, and a total
/// that counts only those. Returns the ids shown.
fn check_page(
    world: &World,
    who: &str,
    what: &str,
    scope: &Area,
    within: &Area,
    r: &crate::support::Reply,
    v: &mut Vec<String>,
) -> Vec<i64> {
    if r.status != StatusCode::OK {
        v.push(format!("{who} {what}: expected 200, got {} {}", r.status, excerpt(&r.text)));
        return Vec::new();
    }
    let mut ids = Vec::new();
    for p in r.json["people"].as_array().cloned().unwrap_or_default() {
        let id = p["id"].as_i64().unwrap_or_default();
        ids.push(id);
        match world.index.paths.get(&id) {
            Some(path) if inside(scope, path) && inside(within, path) => {}
            Some(_) => v.push(format!("{who} {what}: person {id} ({}) lies outside the scope", p["grid"])),
            None => v.push(format!("{who} {what}: person {id} is unknown")),
        }
        if let Some(grid) = p["grid"].as_str().and_then(|g| world.areas.get(g))
            && !inside(scope, &grid.path)
        {
            v.push(format!("{who} {what}: person {id} is shown in grid {} outside the scope", grid.code));
        }
    }
    let expected_total = world.people_inside(scope, within).len() as u64;
    if r.json["total"].as_u64() != Some(expected_total) {
        v.push(format!("{who} {what}: total {} but {expected_total} people are inside the scope", r.json["total"]));
    }
    ids
}

/// Pages through `base` (a `/api/v1/persons?…` path) with `limit`; returns every id shown.
async fn page_through(
    world: &World,
    agent: &Agent,
    scope: &Area,
    within: &Area,
    base: &str,
    limit: u32,
    v: &mut Vec<String>,
) -> Vec<i64> {
    let sep = if base.contains('?') { '&' } else { '?' };
    let mut shown = Vec::new();
    let mut after: Option<i64> = None;
    for _ in 0..200 {
        let path = match after {
            Some(a) => format!("{base}{sep}limit={limit}&after={a}"),
            None => format!("{base}{sep}limit={limit}"),
        };
        let r = agent.get(&path).await;
        shown.extend(check_page(world, &agent.name, &path, scope, within, &r, v));
        match r.json["next"].as_i64() {
            Some(n) => after = Some(n),
            None => return shown,
        }
    }
    v.push(format!("{} {base}: more than 200 pages", agent.name));
    shown
}

/// Runs every list check as every account that may list; returns the violations.
pub async fn run_lists(server: &TestServer, log: &Log) -> Vec<String> {
    let world = World::load(server).await;
    let f = &server.fixture;
    let mut v = Vec::new();

    // Residents.
    for (username, role, _) in &f.accounts {
        if !allows(*role, Operation::PersonsList) {
            continue;
        }
        let agent = Agent::bearer(server, username, log).await;
        let scope = scope_of(server, username);
        let everyone = world.people_inside(&scope, &scope);

        // The whole scope, at several page sizes: every in-scope person exactly once.
        for limit in [2, 50] {
            let shown = page_through(&world, &agent, &scope, &scope, "/api/v1/persons", limit, &mut v).await;
            let set: BTreeSet<i64> = shown.iter().copied().collect();
            if set.len() != shown.len() {
                v.push(format!("{username} paging with limit {limit}: a person is shown twice"));
            }
            if set != everyone {
                v.push(format!("{username} paging with limit {limit}: shows {set:?}, the scope holds {everyone:?}"));
            }
        }

        // Every area and household code.
        // Every fixture area, and the first household of each grid.
        let households: Vec<String> = ["A", "B", "C"].iter().map(|g| format!("{}-H001", f.code(g))).collect();
        let codes = f.areas.values().map(|a| a.code.as_str().to_string()).chain(households);
        for (code, area) in codes.filter_map(|c| world.areas.get_key_value(&c)) {
            let path = format!("/api/v1/persons?area={}", enc(code));
            let r = agent.get(&path).await;
            if inside(&scope, &area.path) {
                check_page(&world, username, &path, &scope, area, &r, &mut v);
            } else if inside(area, &scope.path) {
                // An ancestor of the scope: narrowed to the scope.
                check_page(&world, username, &path, &scope, &scope, &r, &mut v);
            } else if r.status != StatusCode::FORBIDDEN {
                v.push(format!(
                    "{username} {path} (outside the scope): expected 403, got {} {}",
                    r.status,
                    excerpt(&r.text)
                ));
            }
        }

        // Search terms that match people outside the scope.
        let mut terms: BTreeSet<String> = ["测试", "%", "_", "%测试", "X"].map(str::to_string).into();
        // Two people of every grid outside the scope: their names, name prefixes, ID-number
        // suffixes and whole ID numbers.
        for g in ["A", "B", "C"].into_iter().filter(|g| !inside(&scope, &f.area(g).path)) {
            for id in [f.people[g][0], f.people[g][5]] {
                if let Some((name, _)) = world.index.names.iter().find(|(_, i)| *i == id) {
                    terms.insert(name.clone());
                    terms.insert(name.chars().take(3).collect());
                }
                let (id_number, _) = &f.canaries[&id];
                terms.insert(id_number.clone());
                terms.insert(id_number[14..].to_string());
            }
        }
        for term in &terms {
            let path = format!("/api/v1/persons?q={}&limit=500", enc(term));
            let r = agent.get(&path).await;
            check_page(&world, username, &path, &scope, &scope, &r, &mut v);
        }
        for g in ["A", "B", "C"].into_iter().filter(|g| !inside(&scope, &f.area(g).path)) {
            let path = format!("/api/v1/persons?area={}&q={}", f.code(g), enc(&format!("测试{g}")));
            let r = agent.get(&path).await;
            if r.status != StatusCode::FORBIDDEN {
                v.push(format!("{username} {path}: expected 403, got {} {}", r.status, excerpt(&r.text)));
            }
        }

        // The pages that list residents.
        for g in ["A", "B", "C"] {
            let area = f.area(g);
            let path = format!("/areas/{}", area.code);
            let r = agent.get(&path).await;
            if inside(&scope, &area.path) {
                for id in person_links(&r.text) {
                    if !world.index.paths.get(&id).is_some_and(|p| inside(&scope, p)) {
                        v.push(format!("{username} page {path}: links person {id} outside the scope"));
                    }
                }
            } else if r.status != StatusCode::FORBIDDEN || !person_links(&r.text).is_empty() {
                v.push(format!(
                    "{username} page {path} (outside the scope): expected 403 without residents, got {}",
                    r.status
                ));
            }
        }
    }

    // The area tree: list, details and page.
    let mut tree_callers: Vec<(String, Area)> = f
        .accounts
        .iter()
        .filter(|(_, role, _)| allows(*role, Operation::AreasRead))
        .map(|(u, _, s)| (u.to_string(), f.area(s).clone()))
        .collect();
    let accounts = server.store.accounts(&Scope::of(f.area("county"))).await.expect("accounts");
    let admin_two = accounts.iter().any(|a| a.username.as_str() == "admin_two");
    if admin_two {
        tree_callers.push(("admin_two".into(), f.area("town2").clone()));
    }
    for (username, scope) in &tree_callers {
        let agent = Agent::bearer(server, username, log).await;
        let r = agent.get("/api/v1/areas").await;
        let expected: BTreeSet<String> = world
            .areas
            .values()
            .filter(|a| a.kind != bulwark_domain::areas::AreaKind::Household && inside(scope, &a.path))
            .map(|a| a.code.as_str().to_string())
            .collect();
        compare_listed(&mut v, &format!("{username} /api/v1/areas"), &r.json, "code", &expected);
        // The details of the fixture's areas inside the scope (areas other suites added are in
        // the list check above).
        let fixture_codes: BTreeSet<String> = f.areas.values().map(|a| a.code.as_str().to_string()).collect();
        for code in expected.intersection(&fixture_codes) {
            let path = format!("/api/v1/areas/{code}");
            let r = agent.get(&path).await;
            if r.status != StatusCode::OK {
                v.push(format!("{username} {path}: expected 200, got {}", r.status));
                continue;
            }
            let mut rows: Vec<Value> = vec![r.json["area"].clone()];
            for key in ["ancestors", "children"] {
                rows.extend(r.json[key].as_array().cloned().unwrap_or_default());
            }
            for row in rows {
                let c = row["code"].as_str().unwrap_or_default();
                if !world.areas.get(c).is_some_and(|a| inside(scope, &a.path)) {
                    v.push(format!("{username} {path}: shows area {c} ({}), outside the scope", row["name"]));
                }
            }
            let area = &world.areas[code];
            let people = world.people_inside(scope, area).len() as u64;
            if r.json["people"].as_u64() != Some(people) {
                v.push(format!("{username} {path}: people {} but {people} live there", r.json["people"]));
            }
        }
        let r = agent.get("/areas").await;
        for code in area_links(&r.text) {
            if !world.areas.get(&code).is_some_and(|a| inside(scope, &a.path)) {
                v.push(format!("{username} page /areas: links area {code}, outside the scope"));
            }
        }
    }

    // Accounts.
    let mut user_callers: Vec<(String, Area)> = f
        .accounts
        .iter()
        .filter(|(_, role, _)| allows(*role, Operation::UsersList))
        .map(|(u, _, s)| (u.to_string(), f.area(s).clone()))
        .collect();
    if admin_two {
        user_callers.push(("admin_two".into(), f.area("town2").clone()));
    }
    for (username, scope) in &user_callers {
        let agent = Agent::bearer(server, username, log).await;
        let expected: BTreeSet<String> = accounts
            .iter()
            .filter(|a| world.areas_by_id.get(&a.scope).is_some_and(|s| inside(scope, &s.path)))
            .map(|a| a.username.as_str().to_string())
            .collect();
        let r = agent.get("/api/v1/users").await;
        compare_listed(&mut v, &format!("{username} /api/v1/users"), &r.json, "username", &expected);
        let page = agent.get("/users").await;
        for a in &accounts {
            let u = a.username.as_str();
            if !expected.contains(u) && page.text.contains(&format!("<tr><td>{u}</td>")) {
                v.push(format!("{username} page /users: shows account {u}, outside the scope"));
            }
        }
    }
    v
}

async fn list_scoping(engine: Engine) {
    let server = TestServer::start(engine).await;
    crate::support::fresh_account(
        &server,
        "admin_two",
        bulwark_domain::access::Role::Admin,
        server.fixture.area("town2"),
    )
    .await;
    let log = Log::default();
    let violations = run_lists(&server, &log).await;
    println!("list scoping on {engine:?}: {} requests, {} violations", log.exchanges().len(), violations.len());
    assert!(violations.is_empty(), "{} violations:\n  {}", violations.len(), violations.join("\n  "));
}

#[tokio::test]
async fn list_scoping_sqlite() {
    list_scoping(Engine::Sqlite).await;
}

#[tokio::test]
async fn list_scoping_postgres() {
    list_scoping(Engine::Postgres).await;
}

/// Records every value of `key` that a JSON list shows but should not, and every one it misses.
fn compare_listed(v: &mut Vec<String>, what: &str, list: &serde_json::Value, key: &str, expected: &BTreeSet<String>) {
    let shown: BTreeSet<String> =
        list.as_array().into_iter().flatten().filter_map(|a| a[key].as_str().map(str::to_string)).collect();
    for x in shown.difference(expected) {
        v.push(format!("{what}: shows {x}, outside the scope"));
    }
    for x in expected.difference(&shown) {
        v.push(format!("{what}: misses {x}, inside the scope"));
    }
}
