//! The fixture: one county with two towns, each with a village and grids, residents whose phones
//! and ID numbers are unique canaries, and one account per role.
//!
//! ```text
//! 900000 county                       accounts: admin, auditor (county)
//! ├── 900000001 town one              commander, working_group, sampler, checkpoint, lab,
//! │   └── 900000001201 village one         dispatcher (town one)
//! │       ├── …-G01 grid A (3 households × 2 people)    gridworker_a
//! │       └── …-G02 grid B (3 households × 2 people)    gridworker_b
//! └── 900000002 town two              commander_two (town two)
//!     └── 900000002201 village two
//!         └── …-G01 grid C (3 households × 2 people)
//! ```
//! Nothing here is a real person: ID numbers use the non-existent address code 900000.

use bulwark_app::accounts::hash_password;
use bulwark_domain::{
    Millis,
    access::{NewAccount, Operation, Role, Username},
    areas::{Area, AreaCode, AreaKind, NewArea},
    audit::AuditStamp,
    people::{Document, IdNumber, NewPerson, PersonId, Phone},
};
use bulwark_store::Store;
use std::collections::BTreeMap;

/// The password of every fixture account.
pub const PASSWORD: &str = "fixture-password";

/// Codes and ids of what the fixture created.
#[derive(Debug, Clone)]
pub struct Fixture {
    pub areas: BTreeMap<&'static str, Area>,
    /// Person ids by grid name ("A", "B", "C").
    pub people: BTreeMap<&'static str, Vec<PersonId>>,
    /// The canary ID numbers and phones of every person, by id.
    pub canaries: BTreeMap<PersonId, (String, String)>,
    /// (username, role, scope area name)
    pub accounts: Vec<(&'static str, Role, &'static str)>,
}

impl Fixture {
    pub fn area(&self, name: &str) -> &Area {
        &self.areas[name]
    }

    /// The code of the named area ("county", "town1", "village1", "A", "B", "town2", "village2", "C").
    pub fn code(&self, name: &str) -> String {
        self.areas[name].code.as_str().to_string()
    }

    pub async fn load(store: &dyn Store, now: Millis) -> Fixture {
        let mut areas = BTreeMap::new();
        let tree: [(&'static str, &str, &str, AreaKind, Option<&'static str>); 8] = [
            ("county", "900000", "测试县", AreaKind::County, None),
            ("town1", "900000001", "一号镇", AreaKind::Town, Some("county")),
            ("village1", "900000001201", "湴朗村民委员会", AreaKind::Village, Some("town1")),
            ("A", "900000001201-G01", "一号网格", AreaKind::Grid, Some("village1")),
            ("B", "900000001201-G02", "二号网格", AreaKind::Grid, Some("village1")),
            ("town2", "900000002", "二号镇", AreaKind::Town, Some("county")),
            ("village2", "900000002201", "二号村", AreaKind::Village, Some("town2")),
            ("C", "900000002201-G01", "三号网格", AreaKind::Grid, Some("village2")),
        ];
        for (key, code, name, kind, parent) in tree {
            let parent = parent.map(|p: &str| areas.get(p).map(|a: &Area| a.id).expect("parents first"));
            let area = store
                .create_area(NewArea { code: AreaCode::parse(code).expect("code"), name: name.into(), kind, parent })
                .await
                .expect("create fixture area");
            areas.insert(key, area);
        }
        let stamp = AuditStamp {
            at: now,
            user: None,
            username: "fixture".into(),
            role: None,
            operation: Operation::PersonsCreate,
            request_id: "fixture".into(),
        };
        let mut people = BTreeMap::new();
        let mut canaries = BTreeMap::new();
        for (g, grid) in ["A", "B", "C"].into_iter().enumerate() {
            let grid_area = areas[grid].clone();
            let mut new_people = Vec::new();
            for h in 1..=3 {
                let code = AreaCode::parse(&format!("{}-H{h:03}", grid_area.code)).expect("code");
                let household = store
                    .create_area(NewArea {
                        code,
                        name: format!("{h}号"),
                        kind: AreaKind::Household,
                        parent: Some(grid_area.id),
                    })
                    .await
                    .expect("create household");
                for m in 0..2 {
                    let n = g * 100 + h * 10 + m;
                    let elderly = m == 1 && h == 1;
                    let year = if elderly { 1938 } else { 1985 };
                    let id = IdNumber::from_body(&format!("900000{year}0101{n:03}"));
                    let phone = format!("1390000{n:04}");
                    let mut p = NewPerson::new(format!("测试{grid}{h}{m}"), Document::ResidentId(id), household.id);
                    p.phone = Some(Phone::parse(&phone).expect("phone"));
                    p.address = Some(format!("{}{h}号", grid_area.name));
                    p.needs.cannot_walk = elderly;
                    p.synthetic = true;
                    new_people.push(p);
                }
            }
            let documents: Vec<(String, String)> = new_people
                .iter()
                .map(|p| {
                    (
                        p.document.number().unwrap_or_default().to_string(),
                        p.phone.as_ref().map(|x| x.as_str().to_string()).unwrap_or_default(),
                    )
                })
                .collect();
            let ids = store.insert_people(new_people, &stamp).await.expect("insert fixture people");
            for (id, canary) in ids.iter().zip(documents) {
                canaries.insert(*id, canary);
            }
            people.insert(grid, ids);
        }
        let accounts: Vec<(&'static str, Role, &'static str)> = vec![
            ("admin", Role::Admin, "county"),
            ("auditor", Role::Auditor, "county"),
            ("commander", Role::Commander, "town1"),
            ("working_group", Role::WorkingGroup, "town1"),
            ("gridworker_a", Role::GridWorker, "A"),
            ("gridworker_b", Role::GridWorker, "B"),
            ("sampler", Role::Sampler, "town1"),
            ("checkpoint", Role::Checkpoint, "town1"),
            ("lab", Role::Lab, "town1"),
            ("dispatcher", Role::TransferDispatcher, "town1"),
            ("commander_two", Role::Commander, "town2"),
        ];
        // One hash for all: argon2 is slow by design, and the fixture loads for every test.
        let hash = hash_password(PASSWORD).expect("hash");
        for (username, role, scope) in &accounts {
            let account = NewAccount {
                username: Username::parse(username).expect("username"),
                display_name: format!("{username} 测试"),
                role: *role,
                scope: areas[scope].id,
                password_hash: hash.clone(),
            };
            store.create_account(account, now).await.expect("create fixture account");
        }
        Fixture { areas, people, canaries, accounts }
    }
}
