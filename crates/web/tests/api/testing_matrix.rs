//! The authorization matrix's cases for the mass-testing operations: a round over the whole
//! fixture and a site in each village are made once per server (straight through the store), and
//! each case names where its object lives, so scope is checked like everywhere else.

use crate::authorization_matrix::Case;
use crate::support::{ApiOp, Body, NO_AREA, NO_ID, foreign_grids, fresh, home_grid, village_of};
use bulwark_domain::{
    access::Scope,
    areas::Area,
    testing::{LaneKind, NewLane, NewRegistration, NewRound, NewSite, OpeningHours, PoolSize, TubeCode, TubeFormat},
};
use bulwark_testkit::{START, TestServer};
use serde_json::json;

pub const ROUND_NAME: &str = "矩阵轮次";

/// The matrix's round and the site of each village (by fixture name).
pub struct TestingWorld {
    pub round: i64,
    pub sites: Vec<(&'static str, i64)>,
}

impl TestingWorld {
    pub fn site(&self, village: &str) -> i64 {
        self.sites.iter().find(|(v, _)| *v == village).expect("a site per village").1
    }
}

pub async fn testing_world(server: &TestServer) -> TestingWorld {
    let store = server.store.as_ref();
    let f = &server.fixture;
    let round = match store.rounds().await.unwrap().into_iter().find(|r| r.name == ROUND_NAME) {
        Some(r) => r.id,
        None => {
            let new = NewRound {
                name: ROUND_NAME.into(),
                areas: vec![f.area("county").id],
                pool_size: PoolSize::TEN,
                overrides: vec![],
                starts_at: START,
                ends_at: None,
            };
            store.create_round(new, START).await.unwrap().id
        }
    };
    let everything = Scope::of(f.area("county"));
    let mut sites = Vec::new();
    for village in ["village1", "village2"] {
        let name = format!("矩阵采样点-{village}");
        let existing = store.sites(&everything).await.unwrap().into_iter().find(|s| s.name == name);
        let id = match existing {
            Some(s) => s.id,
            None => {
                let area = f.area(village).id;
                let site = NewSite {
                    name,
                    area,
                    serves: vec![area],
                    hours: OpeningHours::ALWAYS,
                    lanes: vec![NewLane { name: "1".into(), kind: LaneKind::Normal }],
                };
                store.create_site(site, START).await.unwrap().id
            }
        };
        sites.push((village, id));
    }
    TestingWorld { round, sites }
}

/// A tube with one registration at the site of `village`'s grid, made through the store.
async fn fresh_tube(server: &TestServer, world: &TestingWorld, grid: &str) -> String {
    let code = format!("MX{:08}", fresh());
    let person = server
        .store
        .person(&Scope::of(server.fixture.area("county")), server.fixture.people[grid][0])
        .await
        .unwrap()
        .unwrap();
    let reg = NewRegistration {
        key: uuid::Uuid::now_v7().to_string(),
        body_hash: 0,
        round: world.round,
        site: world.site(village_of(grid)),
        lane: None,
        tube: TubeCode::parse(&code, &TubeFormat::default()).unwrap(),
        pool_size: PoolSize::TEN,
        person: person.id,
        person_area_path: person.area_path.clone(),
        flags: vec![],
        at: START,
        device_time: None,
        by: 0,
        home: false,
        audit: None,
    };
    server.store.register(reg).await.unwrap();
    code
}

/// Cases for the mass-testing operations; `None` for any other operation.
pub async fn testing_cases(server: &TestServer, op: &ApiOp, scope: &Area) -> Option<Vec<Case>> {
    let f = &server.fixture;
    let home = home_grid(server, scope);
    let foreign = foreign_grids(server, scope);
    let path_of = |g: &str| f.area(g).path.clone();
    let code = |g: &str| f.code(g);
    let id = op.operation_id.as_str();
    if !matches!(
        Operation::parse(op.policy_name()),
        Some(
            Operation::RoundsManage
                | Operation::RoundsRead
                | Operation::SitesManage
                | Operation::SitesRead
                | Operation::RegistrationsCreate
                | Operation::TubesSeal
                | Operation::LabResultsSubmit
                | Operation::UntestedList
                | Operation::AbnormalPoolsRead
                | Operation::DoorKnockRecord
                | Operation::HomeSamplingRead
                | Operation::PrintablesRead
                | Operation::ReviewRead
        )
    ) {
        return None;
    }
    let world = testing_world(server).await;
    let round = world.round;
    let mut out = Vec::new();
    // Each call by area: in scope, every foreign grid, and an area that does not exist.
    let by_area = |out: &mut Vec<Case>, path: &dyn Fn(&str) -> String, body: &dyn Fn(&str) -> Body| {
        out.push(Case::new(op, path(&code(home)), body(&code(home)), "in scope").at(&path_of(home)));
        for g in &foreign {
            out.push(Case::new(op, path(&code(g)), body(&code(g)), format!("out of scope ({g})")).at(&path_of(g)));
        }
        out.push(Case::new(op, path(NO_AREA), body(NO_AREA), "nonexistent").missing());
    };
    match id {
        "rounds_read.list" | "sites_read" => out.push(Case::new(op, op.template.clone(), Body::Empty, "list")),
        "rounds_read.progress" | "abnormal_pools_read" => {
            out.push(Case::new(op, op.template.replace("{id}", &round.to_string()), Body::Empty, "list"))
        }
        "review_read" => out.push(Case::new(op, format!("/api/v1/review?round={round}"), Body::Empty, "list")),
        "rounds_manage" => by_area(&mut out, &|_| op.template.clone(), &|area| {
            Body::Json(json!({"name": format!("矩阵{}", fresh()), "areas": [area], "pool_size": 10}))
        }),
        "sites_manage" => by_area(&mut out, &|_| op.template.clone(), &|area| {
            Body::Json(json!({"name": format!("矩阵点{}", fresh()), "area": area, "lanes": [{"name": "1"}]}))
        }),
        "rounds_read.coverage"
        | "untested_list"
        | "home_sampling_read"
        | "rounds_read.export_coverage"
        | "untested_list.export"
        | "home_sampling_read.export"
        | "abnormal_pools_read.export" => {
            let template = op.template.replace("{id}", &round.to_string());
            by_area(&mut out, &|area| format!("{template}?area={area}"), &|_| Body::Empty)
        }
        "printables_read" => by_area(&mut out, &|area| format!("/api/v1/qr-codes?area={area}"), &|_| Body::Empty),
        "door_knock_record" => {
            let path = op.template.replace("{id}", &round.to_string());
            let body =
                |person: i64| Body::Json(json!({"person_id": person, "outcome": "away_from_town", "note": "矩阵"}));
            out.push(Case::new(op, path.clone(), body(f.people[home][1]), "in scope").at(&path_of(home)));
            for g in &foreign {
                out.push(
                    Case::new(op, path.clone(), body(f.people[g][1]), format!("out of scope ({g})")).at(&path_of(g)),
                );
            }
            out.push(Case::new(op, path, body(NO_ID), "nonexistent").missing());
        }
        "registrations_create" | "registrations_create.batch" => {
            let item = |grid: &str, site: i64| json!({"round": round, "site": site, "tube": format!("MX{:08}", fresh()), "person": {"person_id": f.people[grid][2]}});
            let case = |grid: &str, site: i64, variant: String| {
                let key = uuid::Uuid::now_v7().to_string();
                if id == "registrations_create" {
                    Case::new(op, op.template.clone(), Body::Json(item(grid, site)), variant)
                        .with_header("Idempotency-Key", &key)
                } else {
                    let mut one = item(grid, site);
                    one["key"] = json!(key);
                    Case::new(op, op.template.clone(), Body::Json(json!({"items": [one]})), variant)
                }
            };
            out.push(case(home, world.site(village_of(home)), "in scope".into()).at(&path_of(village_of(home))));
            for g in &foreign {
                let v = village_of(g);
                if !crate::support::inside(scope, &path_of(v)) {
                    out.push(case(g, world.site(v), format!("out of scope ({g})")).at(&path_of(v)));
                }
            }
            out.push(case(home, NO_ID, "nonexistent".into()).missing());
        }
        "tubes_seal" => {
            let tube = fresh_tube(server, &world, home).await;
            out.push(
                Case::new(op, format!("/api/v1/tubes/{tube}/seal"), Body::Empty, "in scope")
                    .at(&path_of(village_of(home))),
            );
            for g in &foreign {
                let v = village_of(g);
                if !crate::support::inside(scope, &path_of(v)) {
                    let tube = fresh_tube(server, &world, g).await;
                    out.push(
                        Case::new(op, format!("/api/v1/tubes/{tube}/seal"), Body::Empty, format!("out of scope ({g})"))
                            .at(&path_of(v)),
                    );
                }
            }
            out.push(Case::new(op, "/api/v1/tubes/MX99999999/seal".into(), Body::Empty, "nonexistent").missing());
        }
        // Lab results are about tubes, not areas: a lab sends what it tested.
        "lab_results_submit" => out.push(Case::new(
            op,
            op.template.clone(),
            Body::Json(json!([{"tube": format!("MX{:08}", fresh()), "result": "阴性"}])),
            "list",
        )),
        "lab_results_submit.import" => out.push(Case::new(
            op,
            op.template.clone(),
            Body::File(format!("条码号,检测结果\nMX{:08},阴性\n", fresh()).into_bytes()),
            "list",
        )),
        _ => return None,
    }
    Some(out)
}

use bulwark_domain::access::Operation;
