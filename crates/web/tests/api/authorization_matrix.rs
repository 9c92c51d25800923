//! Reliability §3 (d): every role × every API operation × scope variant.
//!
//! The operations come from the OpenAPI document (method and path template); each is
//! instantiated with fixture objects: one inside the caller's scope (its home grid: A for the
//! county and town-one accounts, the own grid for grid workers, C for town two), one in every
//! fixture grid outside it (so a grid worker of A also tries grid B), and one that does not
//! exist. The expected status follows `allows(role, op)` and the scope:
//! - no session, or an unknown token → 401 (except the public login);
//! - a role the policy refuses → 403;
//! - an object outside the scope → 403;
//! - a nonexistent object → 403 with the same body as an out-of-scope one, so existence does not
//!   leak; for accounts scoped to the whole county (nothing is outside their scope) 403, 404 or
//!   422 are all accepted;
//! - allowed and inside the scope → 2xx (bodies are valid, so allowed calls succeed).
//!
//! The import is a per-row report: a row outside the scope is rejected inside a 200 answer, and
//! the check is then that nothing was imported.
//!
//! Besides the fixture accounts the matrix signs in `admin_two`, an admin of town two, so that
//! account management has an out-of-scope variant too.

use crate::support::{
    Agent, ApiOp, Body, Log, NO_AREA, NO_ID, api_operations, excerpt, foreign_grids, fresh, fresh_account, fresh_grid,
    fresh_id_number, fresh_name, fresh_phone, home_grid, household, inside, served_document, village_of,
};
use bulwark_domain::{
    access::{Operation, Role, allows},
    areas::Area,
};
use bulwark_testkit::{Engine, PASSWORD, TestServer};
use reqwest::StatusCode;
use serde_json::json;
use std::collections::BTreeMap;

/// One call of the matrix.
#[derive(Debug, Clone)]
pub struct Case {
    pub op: ApiOp,
    pub path: String,
    pub body: Body,
    pub variant: String,
    /// Where the object the call is about lives (an area path), when there is one.
    pub target: Option<String>,
    pub nonexistent: bool,
    /// Sent with the caller's spare session (logout ends the session it is sent with).
    pub spare: bool,
    /// Extra request headers (e.g. `Idempotency-Key`).
    pub headers: Vec<(String, String)>,
}

impl Case {
    pub fn new(op: &ApiOp, path: String, body: Body, variant: impl Into<String>) -> Case {
        Case {
            op: op.clone(),
            path,
            body,
            variant: variant.into(),
            target: None,
            nonexistent: false,
            spare: false,
            headers: vec![],
        }
    }
    pub fn at(mut self, target: &str) -> Case {
        self.target = Some(target.to_string());
        self
    }
    pub fn with_header(mut self, name: &str, value: &str) -> Case {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }
    pub fn missing(mut self) -> Case {
        self.nonexistent = true;
        self
    }
}

/// What a cell should answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    Success,
    Status(u16),
    /// 403, 404 or 422: a county-wide account asking for something that does not exist.
    NotFoundLike,
    /// 200 with every row rejected and nothing imported.
    ImportRejected,
}

fn csv_row(name: &str, id_number: &str, grid: &str) -> Body {
    Body::File(format!("name,id_number,grid\n{name},{id_number},{grid}\n").into_bytes())
}

/// The calls that exercise `op` for a caller whose scope is `scope` (for anonymous callers, the
/// perspective of town one). `None` when the matrix does not know the operation.
pub async fn cases(server: &TestServer, op: &ApiOp, scope: &Area, login_as: &str) -> Option<Vec<Case>> {
    let f = &server.fixture;
    let home = home_grid(server, scope);
    let foreign = foreign_grids(server, scope);
    let path_of = |g: &str| f.area(g).path.clone();
    let code = |g: &str| f.code(g);
    if let Some(transport) = crate::transport::matrix_cases(server, op, scope).await {
        return Some(transport);
    }
    if let Some(command) = crate::command_matrix::matrix_cases(server, op, scope).await {
        return Some(command);
    }
    if let Some(notify) = crate::notify::matrix_cases(server, op, login_as).await {
        return Some(notify);
    }
    if let Some(leaders) = crate::leaders::matrix_cases(server, op, scope).await {
        return Some(leaders);
    }
    if let Some(rosters) = crate::rosters::matrix_cases(server, op, scope).await {
        return Some(rosters);
    }
    let mut out = Vec::new();
    match op.operation_id.as_str() {
        "login" => out.push(Case::new(
            op,
            op.template.clone(),
            Body::Json(json!({"username": login_as, "password": PASSWORD})),
            "own credentials",
        )),
        "logout" => out.push(Case { spare: true, ..Case::new(op, op.template.clone(), Body::Empty, "own session") }),
        "me" | "areas_read.list" | "users_list" => out.push(Case::new(op, op.template.clone(), Body::Empty, "list")),
        "audit_read" => out.push(Case::new(op, "/api/v1/audit?limit=5".into(), Body::Empty, "list")),
        "areas_read.detail" => {
            out.push(
                Case::new(op, format!("/api/v1/areas/{}", code(home)), Body::Empty, "in scope").at(&path_of(home)),
            );
            for g in &foreign {
                out.push(
                    Case::new(op, format!("/api/v1/areas/{}", code(g)), Body::Empty, format!("out of scope ({g})"))
                        .at(&path_of(g)),
                );
            }
            out.push(Case::new(op, format!("/api/v1/areas/{NO_AREA}"), Body::Empty, "nonexistent").missing());
        }
        "areas_manage.create" => {
            let body = |parent: &str| {
                Body::Json(
                    json!({"parent": parent, "code": format!("{parent}-H{}", fresh()), "name": "新户", "kind": "household"}),
                )
            };
            out.push(Case::new(op, op.template.clone(), body(&code(home)), "in scope").at(&path_of(home)));
            for g in &foreign {
                out.push(
                    Case::new(op, op.template.clone(), body(&code(g)), format!("out of scope ({g})")).at(&path_of(g)),
                );
            }
            out.push(Case::new(op, op.template.clone(), body(NO_AREA), "nonexistent").missing());
        }
        "areas_manage.rename" => {
            // Renamed to the name it has: the call is real, the fixture stays as it is.
            let body = || Body::Json(json!({"name": "1号"}));
            out.push(
                Case::new(op, format!("/api/v1/areas/{}", household(server, home)), body(), "in scope")
                    .at(&path_of(home)),
            );
            for g in &foreign {
                out.push(
                    Case::new(
                        op,
                        format!("/api/v1/areas/{}", household(server, g)),
                        body(),
                        format!("out of scope ({g})"),
                    )
                    .at(&path_of(g)),
                );
            }
            out.push(Case::new(op, format!("/api/v1/areas/{NO_AREA}-H001"), body(), "nonexistent").missing());
        }
        "areas_manage.merge" => {
            // Fresh grids, so a merge that should not happen cannot damage the fixture.
            let mut villages = vec![(village_of(home), "in scope".to_string())];
            for g in &foreign {
                if !villages.iter().any(|(v, _)| *v == village_of(g)) {
                    villages.push((village_of(g), format!("out of scope ({g})")));
                }
            }
            for (village, variant) in villages {
                let from = fresh_grid(server, village).await;
                let into = fresh_grid(server, village).await;
                out.push(
                    Case::new(
                        op,
                        format!("/api/v1/areas/{}/merge", from.code),
                        Body::Json(json!({"into": into.code.as_str()})),
                        variant,
                    )
                    .at(&from.path),
                );
            }
            let into = fresh_grid(server, village_of(home)).await;
            out.push(
                Case::new(
                    op,
                    format!("/api/v1/areas/{NO_AREA}/merge"),
                    Body::Json(json!({"into": into.code.as_str()})),
                    "nonexistent",
                )
                .missing(),
            );
        }
        "persons_list" => {
            out.push(Case::new(op, "/api/v1/persons".into(), Body::Empty, "own scope"));
            out.push(
                Case::new(op, format!("/api/v1/persons?area={}", code(home)), Body::Empty, "in scope")
                    .at(&path_of(home)),
            );
            out.push(Case::new(
                op,
                format!("/api/v1/persons?area={}", code("county")),
                Body::Empty,
                "ancestor (narrowed)",
            ));
            for g in &foreign {
                out.push(
                    Case::new(
                        op,
                        format!("/api/v1/persons?area={}", code(g)),
                        Body::Empty,
                        format!("out of scope ({g})"),
                    )
                    .at(&path_of(g)),
                );
            }
            out.push(Case::new(op, format!("/api/v1/persons?area={NO_AREA}"), Body::Empty, "nonexistent").missing());
        }
        "persons_create" => {
            let body = |area: &str| {
                let n = fresh();
                Body::Json(json!({
                    "name": fresh_name(n), "document_number": fresh_id_number(n), "phone": fresh_phone(n), "area": area,
                }))
            };
            out.push(Case::new(op, op.template.clone(), body(&household(server, home)), "in scope").at(&path_of(home)));
            for g in &foreign {
                out.push(
                    Case::new(op, op.template.clone(), body(&household(server, g)), format!("out of scope ({g})"))
                        .at(&path_of(g)),
                );
            }
            out.push(Case::new(op, op.template.clone(), body(&format!("{NO_AREA}-H001")), "nonexistent").missing());
        }
        "persons_read" | "persons_update" | "persons_reveal" => {
            let (method_path, body): (fn(i64) -> String, Body) = match op.operation_id.as_str() {
                "persons_read" => (|id| format!("/api/v1/persons/{id}"), Body::Empty),
                "persons_update" => {
                    (|id| format!("/api/v1/persons/{id}"), Body::Json(json!({"other_needs": "矩阵检查"})))
                }
                _ => (|id| format!("/api/v1/persons/{id}/reveal"), Body::Json(json!({"reason": "矩阵核对"}))),
            };
            out.push(Case::new(op, method_path(f.people[home][0]), body.clone(), "in scope").at(&path_of(home)));
            for g in &foreign {
                out.push(
                    Case::new(op, method_path(f.people[g][0]), body.clone(), format!("out of scope ({g})"))
                        .at(&path_of(g)),
                );
            }
            out.push(Case::new(op, method_path(NO_ID), body, "nonexistent").missing());
        }
        "residents_import" => {
            let row = |grid: &str| {
                let n = fresh();
                csv_row(&fresh_name(n), &fresh_id_number(n), grid)
            };
            out.push(Case::new(op, op.template.clone(), row(&code(home)), "in scope").at(&path_of(home)));
            for g in &foreign {
                out.push(
                    Case::new(op, op.template.clone(), row(&code(g)), format!("out of scope ({g})")).at(&path_of(g)),
                );
            }
            out.push(Case::new(op, op.template.clone(), row(NO_AREA), "nonexistent").missing());
        }
        "users_manage.create" => {
            let body = |scope: &str| {
                Body::Json(
                    json!({"username": format!("mx{}", fresh()), "role": "sampler", "scope": scope, "password": "matrix-password"}),
                )
            };
            out.push(Case::new(op, op.template.clone(), body(&code(home)), "in scope").at(&path_of(home)));
            for g in &foreign {
                out.push(
                    Case::new(op, op.template.clone(), body(&code(g)), format!("out of scope ({g})")).at(&path_of(g)),
                );
            }
            out.push(Case::new(op, op.template.clone(), body(NO_AREA), "nonexistent").missing());
        }
        "users_manage.disable" => {
            let id = fresh_account(server, &format!("md{}", fresh()), Role::Sampler, f.area(home)).await;
            out.push(Case::new(op, format!("/api/v1/users/{id}/disable"), Body::Empty, "in scope").at(&path_of(home)));
            for g in &foreign {
                let id = fresh_account(server, &format!("md{}", fresh()), Role::Sampler, f.area(g)).await;
                out.push(
                    Case::new(op, format!("/api/v1/users/{id}/disable"), Body::Empty, format!("out of scope ({g})"))
                        .at(&path_of(g)),
                );
            }
            out.push(Case::new(op, format!("/api/v1/users/{NO_ID}/disable"), Body::Empty, "nonexistent").missing());
        }
        _ => return crate::testing_matrix::testing_cases(server, op, scope).await,
    }
    Some(out)
}

/// The answer a caller of `role` (none: anonymous) with `scope` should get for `case`.
pub fn expected(role: Option<Role>, scope: &Area, case: &Case) -> Expect {
    let Some(op) = Operation::parse(case.op.policy_name()) else { return Expect::Status(403) };
    let Some(role) = role else {
        return if op.is_public() { Expect::Success } else { Expect::Status(401) };
    };
    if op.is_public() || matches!(op, Operation::Logout | Operation::Me) {
        return Expect::Success;
    }
    if !allows(role, op) {
        return Expect::Status(403);
    }
    let import = op == Operation::ResidentsImport;
    let outside = case.target.as_deref().is_some_and(|t| !inside(scope, t));
    if case.nonexistent {
        if import {
            Expect::ImportRejected
        } else if scope.parent.is_none() {
            Expect::NotFoundLike
        } else {
            Expect::Status(403)
        }
    } else if outside {
        if import { Expect::ImportRejected } else { Expect::Status(403) }
    } else {
        Expect::Success
    }
}

/// Whether a reply meets the expectation.
pub fn meets(expect: Expect, case: &Case, status: StatusCode, body: &serde_json::Value) -> bool {
    // An outbox upload answers 200 with a status per item: the matrix sends one item.
    let item_status = body["results"][0]["status"].as_u64().and_then(|s| StatusCode::from_u16(s as u16).ok());
    let status = match item_status {
        Some(s) if case.op.operation_id == "registrations_create.batch" && status == StatusCode::OK => s,
        _ => status,
    };
    match expect {
        Expect::Success => {
            status.is_success() && (case.op.operation_id != "residents_import" || body["imported"].as_u64() == Some(1))
        }
        Expect::Status(s) => status.as_u16() == s,
        Expect::NotFoundLike => matches!(status.as_u16(), 403 | 404 | 422),
        Expect::ImportRejected => {
            status == StatusCode::OK && body["imported"].as_u64() == Some(0) && body["rejected"].as_u64() == Some(1)
        }
    }
}

/// A caller of the matrix.
pub struct MatrixCaller {
    pub agent: Agent,
    /// A second session of the same account (for logout).
    pub spare: Option<Agent>,
    /// The account's scope; town one for callers without a session.
    pub scope: Area,
    pub login_as: String,
}

/// Signs in every fixture account, `admin_two` (an admin of town two), and adds an anonymous
/// caller and one with an unknown token.
pub async fn matrix_callers(server: &TestServer, log: &Log) -> Vec<MatrixCaller> {
    fresh_account(server, "admin_two", Role::Admin, server.fixture.area("town2")).await;
    let mut accounts: Vec<(String, Area)> =
        server.fixture.accounts.iter().map(|(u, _, s)| (u.to_string(), server.fixture.area(s).clone())).collect();
    accounts.push(("admin_two".into(), server.fixture.area("town2").clone()));
    let mut callers = Vec::new();
    for (username, scope) in accounts {
        let agent = Agent::bearer(server, &username, log).await;
        let spare = Some(Agent::bearer(server, &username, log).await);
        callers.push(MatrixCaller { agent, spare, scope, login_as: username });
    }
    let town1 = server.fixture.area("town1").clone();
    for agent in [Agent::anonymous(server, log), Agent::bad_token(server, log)] {
        callers.push(MatrixCaller { agent, spare: None, scope: town1.clone(), login_as: "checkpoint".into() });
    }
    callers
}

/// The outcome of a matrix run.
pub struct MatrixRun {
    pub callers: usize,
    pub operations: usize,
    pub variants: usize,
    pub cells: usize,
    pub mismatches: Vec<String>,
}

/// Runs every operation of the document as every caller, in every variant.
pub async fn run_matrix(server: &TestServer, log: &Log) -> MatrixRun {
    let ops = api_operations(&served_document(server).await);
    let callers = matrix_callers(server, log).await;
    let mut mismatches = Vec::new();
    let mut cells = 0;
    let mut variants = std::collections::BTreeSet::new();
    for op in &ops {
        if Operation::parse(op.policy_name()).is_none() {
            mismatches.push(format!("{} {} ({}): no policy row", op.method, op.template, op.operation_id));
        }
    }
    for caller in &callers {
        for op in &ops {
            let Some(cases) = cases(server, op, &caller.scope, &caller.login_as).await else {
                mismatches.push(format!(
                    "{} {} ({}): the matrix has no case for it",
                    op.method, op.template, op.operation_id
                ));
                continue;
            };
            // 403 bodies of out-of-scope objects, to compare with the nonexistent one's.
            let mut refused_bodies: BTreeMap<bool, Vec<String>> = BTreeMap::new();
            for case in cases {
                variants.insert(case.variant.split(" (").next().unwrap_or_default().to_string());
                let agent = if case.spare { caller.spare.as_ref().unwrap_or(&caller.agent) } else { &caller.agent };
                let headers: Vec<(&str, &str)> = case.headers.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
                let reply = agent.send(case.op.method.clone(), &case.path, case.body.clone(), &headers).await;
                cells += 1;
                let expect = expected(caller.agent.role, &caller.scope, &case);
                if !meets(expect, &case, reply.status, &reply.json) {
                    mismatches.push(format!(
                        "{} {} {} [{} / {}]: expected {expect:?}, got {} {}",
                        caller.agent.name,
                        case.op.method,
                        case.path,
                        case.op.operation_id,
                        case.variant,
                        reply.status.as_u16(),
                        excerpt(&reply.text)
                    ));
                }
                let scoped_refusal = expect == Expect::Status(403)
                    && caller
                        .agent
                        .role
                        .is_some_and(|r| Operation::parse(case.op.policy_name()).is_some_and(|o| allows(r, o)));
                if scoped_refusal && reply.status == StatusCode::FORBIDDEN {
                    refused_bodies.entry(case.nonexistent).or_default().push(reply.text.clone());
                }
            }
            if let (Some(outside), Some(missing)) = (refused_bodies.get(&false), refused_bodies.get(&true))
                && missing.iter().any(|m| outside.iter().any(|o| o != m))
            {
                mismatches.push(format!(
                    "{} {} {}: the refusal of a nonexistent object differs from an out-of-scope one: {} vs {}",
                    caller.agent.name,
                    op.method,
                    op.template,
                    excerpt(&missing[0]),
                    excerpt(&outside[0])
                ));
            }
        }
    }
    MatrixRun { callers: callers.len(), operations: ops.len(), variants: variants.len(), cells, mismatches }
}

async fn authorization_matrix(engine: Engine) {
    let server = TestServer::start(engine).await;
    let log = Log::default();
    let mut run = run_matrix(&server, &log).await;

    // The two cases the brief names, asserted on their own as well.
    let grid_worker = Agent::bearer(&server, "gridworker_a", &log).await;
    let b = server.fixture.code("B");
    let r = grid_worker.get(&format!("/api/v1/persons?area={b}")).await;
    if r.status != StatusCode::FORBIDDEN {
        run.mismatches.push(format!(
            "gridworker_a listing grid B: expected 403, got {} {}",
            r.status,
            excerpt(&r.text)
        ));
    }
    let person_b = server.fixture.people["B"][0];
    let r = grid_worker.get(&format!("/api/v1/persons/{person_b}")).await;
    if r.status != StatusCode::FORBIDDEN {
        run.mismatches
            .push(format!("gridworker_a reading person {person_b} of grid B: expected 403, got {}", r.status));
    }

    println!(
        "authorization matrix on {engine:?}: {} callers (roles + anonymous + unknown token) × {} operations × {} variant kinds = {} cells, {} mismatches",
        run.callers,
        run.operations,
        run.variants,
        run.cells,
        run.mismatches.len()
    );
    assert!(run.mismatches.is_empty(), "{} mismatches:\n  {}", run.mismatches.len(), run.mismatches.join("\n  "));
}

#[tokio::test]
async fn authorization_matrix_sqlite() {
    authorization_matrix(Engine::Sqlite).await;
}

#[tokio::test]
async fn authorization_matrix_postgres() {
    authorization_matrix(Engine::Postgres).await;
}
