//! Contract tests that every storage engine of Bulwark passes unchanged.
//!
//! Each public `async fn` here takes a freshly created, empty [`Store`] and checks one part of the
//! contracts documented in `bulwark-store`. An engine runs them all with one line in its
//! `tests/contract.rs`:
//!
//! ```text
//! bulwark_store_tests::contract_tests!(fixture = {
//!     let dir = tempfile::tempdir().unwrap();
//!     let store = bulwark_sqlite::SqliteStore::open(&dir.path().join("bulwark.db")).unwrap();
//!     (store, dir)
//! });
//! ```
//!
//! The factory expression is evaluated inside each `#[tokio::test]` (so it may `.await`) and must
//! give a value of a concrete type that implements [`Store`]. When a test needs to clean up after
//! itself (e.g. drop a database), the form `contract_tests!(fixture = EXPR)` takes an expression
//! giving `(store, guard)`: the guard is dropped after the store, at the end of the test, also
//! when it fails. The calling crate needs `tokio` (with `macros` and `rt`) as a dev-dependency.
//!
//! The append-only rule of the audit table is not reachable through the traits; each engine
//! tests it with raw SQL in its own tests.

use bulwark_domain::{
    Millis,
    access::{NewAccount, Operation, Role, Scope, SessionKind, UserId, Username},
    areas::{Area, AreaCode, AreaId, AreaKind, NewArea},
    audit::{AuditEntry, AuditStamp, NewAuditEntry, Outcome},
    notify::Email,
    people::{Document, DocumentType, IdNumber, NewPerson, Person, PersonId, Phone, Sex, SpecialNeeds},
    workforce::{StaffMember, Team},
};
use bulwark_store::{AuditQuery, PersonChange, PersonQuery, Store, StoreError};
use chrono::NaiveDate;
use std::collections::HashSet;
use std::time::{Duration, Instant};

#[doc(hidden)]
pub use bulwark_store;

mod command;
pub use command::*;
mod testing;
pub use testing::*;
mod transport;
pub use transport::*;
mod notify;
pub use notify::*;
mod rosters;
pub use rosters::*;
mod settings;
pub use settings::*;
mod leaders;
pub use leaders::*;

/// Expands to one `#[tokio::test]` per contract test, each on a fresh store from the factory.
///
/// - `contract_tests!(factory)`: `factory` is an expression (it may `.await`) giving a fresh,
///   empty store of a concrete type implementing `bulwark_store::Store`.
/// - `contract_tests!(fixture = expr)`: `expr` gives `(store, guard)`; `guard` is dropped after
///   the store when the test ends, to clean up (drop a database, remove a directory).
#[macro_export]
macro_rules! contract_tests {
    (fixture = $fixture:expr) => {
        $crate::__contract_tests! {
            [$fixture]
            engine_and_ping,
            areas_create_and_read,
            areas_duplicate_code_is_conflict,
            areas_unknown_parent_is_invalid,
            areas_batch_is_all_or_nothing,
            areas_children_and_ancestors,
            areas_within_and_counts,
            areas_id_prefix_is_not_containment,
            areas_rename,
            merge_grid_moves_everything,
            merge_grid_unknown_grid_changes_nothing,
            person_insert_round_trip,
            person_grid_resolution,
            person_duplicate_document_is_conflict,
            person_unknown_area_is_invalid,
            people_insert_batch_in_input_order_with_audit,
            people_insert_batch_is_all_or_nothing,
            people_insert_45000_is_fast,
            people_reads_never_leave_scope,
            people_keyset_pagination,
            people_search,
            person_update_with_audit,
            person_update_outside_scope_is_refused,
            people_by_ids_stay_in_scope,
            registered_documents,
            accounts_create_and_read,
            accounts_scoped_list,
            accounts_disable_ends_sessions,
            sessions_lifecycle,
            audit_append_and_query,
            audit_of_a_list_keeps_one_entry_per_person,
            audit_by_person_whether_indexed_or_not,
            staff_assignments,
            testing_rounds_and_sites_round_trip,
            testing_registration_is_idempotent_by_key,
            testing_a_reused_key_opens_no_tube,
            testing_a_registration_needs_its_round_and_site,
            testing_physical_facts_are_flagged_never_refused,
            testing_register_many_answers_each_item,
            testing_a_batch_fills_and_seals_its_tubes,
            testing_registration_writes_its_audit_entry,
            testing_progress_and_coverage_counters,
            testing_untested_list_and_home_visits,
            testing_lab_results_and_the_review_queue,
            testing_abnormal_pool_members_and_state,
            testing_abnormal_pool_members_follow_their_people,
            testing_abnormal_pools_order_duplicates_and_retests,
            testing_abnormal_pool_retests_in_any_order,
            testing_abnormal_pools_many_in_result_order,
            testing_people_by_document_and_qr,
            testing_register_scanned_finds_the_person_and_stores,
            testing_scans_together_each_find_their_own,
            testing_people_scanned_in_order,
            testing_resident_counters_follow_moves,
            testing_merge_grid_moves_mass_testing_references,
            testing_progress_equals_a_recount,
            testing_lab_mappings_are_saved,
            transport_box_lifecycle,
            transport_codes_and_references,
            transport_physical_facts_are_flagged,
            transport_boxes_by_scope_and_overdue,
            command_plans_are_versioned,
            command_open_incident_stores_everything,
            command_open_incident_refuses_what_does_not_hold,
            command_answers_only_move_forward,
            command_concurrent_answers_of_one_person_serialize,
            command_task_changes_append_to_the_timeline,
            command_overdue_is_marked_once,
            command_incidents_are_scoped_by_area,
            command_timeline_in_order,
            notify_enqueue_is_one_transaction_idempotent_by_key,
            notify_claim_lease_and_marks,
            notify_expired_lease_is_claimed_again,
            notify_concurrent_claimers_never_share_a_row,
            notify_lists_and_counts_by_scope,
            notify_in_app_read,
            rosters_posts_and_shifts_round_trip,
            rosters_overlapping_assignments_are_refused_naming_the_clash,
            rosters_two_concurrent_overlapping_assignments_one_wins,
            rosters_check_in_and_out_are_idempotent,
            rosters_day_roster_and_summary,
            settings_init_keeps_the_first_and_put_replaces,
            settings_concurrent_init_agrees_on_one_value,
            leaders_set_replace_list_and_remove,
            leaders_unknown_area_or_person_is_invalid,
        }
    };
    ($factory:expr) => {
        $crate::contract_tests!(fixture = ($factory, ()));
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __contract_tests {
    ([$fixture:expr] $($name:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $name() {
                let (store, guard) = $fixture;
                $crate::$name(&store).await;
                drop(store);
                drop(guard);
            }
        )*
    };
}

// ---------------------------------------------------------------------------------------------
// Fixtures

/// 07:00 on 6 October 2022 in Shengtang (UTC+8): the first abnormal results.
pub const T0: Millis = 1_665_010_800_000;
const MINUTE: Millis = 60_000;

/// A small part of the tree: 圣堂镇 → 湴朗村民委员会 → two grids, each with a household.
#[derive(Debug, Clone)]
pub struct World {
    pub town: Area,
    pub village: Area,
    pub grid_a: Area,
    pub grid_b: Area,
    pub house_a: Area,
    pub house_b: Area,
}

pub fn code(s: &str) -> AreaCode {
    AreaCode::parse(s).expect("valid test area code")
}

pub async fn new_area(store: &dyn Store, code_: &str, name: &str, kind: AreaKind, parent: Option<&Area>) -> Area {
    let area = NewArea { code: code(code_), name: name.to_string(), kind, parent: parent.map(|p| p.id) };
    store.create_area(area).await.unwrap_or_else(|e| panic!("create area {code_}: {e}"))
}

pub async fn world(store: &dyn Store) -> World {
    let town = new_area(store, "440785101", "圣堂镇", AreaKind::Town, None).await;
    let village = new_area(store, "440785101210", "湴朗村民委员会", AreaKind::Village, Some(&town)).await;
    let grid_a = new_area(store, "440785101210-G01", "湴朗村第一网格", AreaKind::Grid, Some(&village)).await;
    let grid_b = new_area(store, "440785101210-G02", "湴朗村第二网格", AreaKind::Grid, Some(&village)).await;
    let house_a = new_area(store, "440785101210-G01-H001", "湴朗村一巷3号", AreaKind::Household, Some(&grid_a)).await;
    let house_b = new_area(store, "440785101210-G02-H001", "湴朗村二巷8号", AreaKind::Household, Some(&grid_b)).await;
    World { town, village, grid_a, grid_b, house_a, house_b }
}

/// The `i`-th of many distinct, valid resident ID numbers of Enping (440785), born from 1940 on.
pub fn nth_id(i: u32) -> IdNumber {
    let birth = NaiveDate::from_ymd_opt(1940, 1, 1).unwrap() + chrono::Days::new(u64::from(i / 900));
    IdNumber::from_body(&format!("440785{}{:03}", birth.format("%Y%m%d"), 100 + i % 900))
}

/// A resident with the `i`-th ID number.
pub fn resident(name: &str, i: u32, area: &Area) -> NewPerson {
    NewPerson::new(name, Document::ResidentId(nth_id(i)), area.id)
}

/// A grid worker's stamp at `at`.
pub fn stamp(at: Millis, operation: Operation) -> AuditStamp {
    AuditStamp {
        at,
        user: Some(42),
        username: "chen.grid".into(),
        role: Some(Role::GridWorker),
        operation,
        request_id: format!("req-{at}"),
    }
}

pub async fn insert(store: &dyn Store, person: NewPerson) -> Person {
    store.insert_person(person, &stamp(T0, Operation::PersonsCreate)).await.expect("insert person")
}

pub fn all_in(scope: &Scope) -> PersonQuery {
    PersonQuery { within: scope.clone(), search: None, after: None, limit: 1000 }
}

pub fn search_in(scope: &Scope, text: &str) -> PersonQuery {
    PersonQuery { search: Some(text.to_string()), ..all_in(scope) }
}

pub async fn ids_in(store: &dyn Store, query: &PersonQuery) -> Vec<PersonId> {
    store.people(query).await.expect("people").into_iter().map(|p| p.id).collect()
}

pub async fn audit_of(store: &dyn Store, person: PersonId) -> Vec<AuditEntry> {
    store
        .audit_entries(&AuditQuery { person: Some(person), limit: 1000, ..Default::default() })
        .await
        .expect("audit entries")
}

/// Every audit entry, newest first, read page by page (engines may cap a page's size).
pub async fn all_audit(store: &dyn Store) -> Vec<AuditEntry> {
    let mut all: Vec<AuditEntry> = Vec::new();
    loop {
        let before = all.last().map(|e| e.seq);
        let page =
            store.audit_entries(&AuditQuery { before, limit: 500, ..Default::default() }).await.expect("audit entries");
        if page.is_empty() {
            return all;
        }
        all.extend(page);
    }
}

pub fn account(username: &str, display: &str, role: Role, scope: &Area) -> NewAccount {
    NewAccount {
        username: Username::parse(username).expect("valid username"),
        display_name: display.to_string(),
        role,
        scope: scope.id,
        password_hash: format!("$argon2id$v=19$m=19456,t=2,p=1$test${username}"),
    }
}

fn is_conflict<T: std::fmt::Debug>(result: &Result<T, StoreError>) -> bool {
    matches!(result, Err(StoreError::Conflict(m)) if !m.is_empty())
}

fn is_invalid<T: std::fmt::Debug>(result: &Result<T, StoreError>) -> bool {
    matches!(result, Err(StoreError::Invalid(_)))
}

fn sorted_staff(staff: Vec<StaffMember>) -> Vec<(PersonId, &'static str, AreaId)> {
    let mut out: Vec<_> = staff.into_iter().map(|s| (s.person, s.team.as_str(), s.area)).collect();
    out.sort();
    out
}

// ---------------------------------------------------------------------------------------------
// The store itself

pub async fn engine_and_ping(store: &dyn Store) {
    assert!(["sqlite", "postgres"].contains(&store.engine()), "unknown engine {}", store.engine());
    store.ping().await.expect("ping");
}

// ---------------------------------------------------------------------------------------------
// Areas

pub async fn areas_create_and_read(store: &dyn Store) {
    let w = world(store).await;
    assert_eq!(w.town.parent, None);
    assert_eq!(w.town.path, format!("/{}/", w.town.id));
    assert_eq!(w.village.path, format!("/{}/{}/", w.town.id, w.village.id));
    assert_eq!(w.house_a.path, format!("{}{}/", w.grid_a.path, w.house_a.id));
    assert_eq!(w.village.name, "湴朗村民委员会");
    assert_eq!(w.village.kind, AreaKind::Village);
    assert_eq!(w.village.parent, Some(w.town.id));
    assert_eq!(w.grid_a.code.as_str(), "440785101210-G01");

    assert_eq!(store.area(w.village.id).await.unwrap(), Some(w.village.clone()));
    assert_eq!(store.area(w.house_b.id).await.unwrap(), Some(w.house_b.clone()));
    // Codes are case-insensitive by parsing: "g01" is "G01".
    assert_eq!(store.area_by_code(&code("440785101210-g01")).await.unwrap(), Some(w.grid_a.clone()));
    assert_eq!(store.area(w.house_b.id + 1000).await.unwrap(), None);
    assert_eq!(store.area_by_code(&code("440785101299")).await.unwrap(), None);
}

pub async fn areas_duplicate_code_is_conflict(store: &dyn Store) {
    let w = world(store).await;
    let again = NewArea {
        code: code("440785101210"),
        name: "另一个村".into(),
        kind: AreaKind::Village,
        parent: Some(w.town.id),
    };
    let result = store.create_area(again).await;
    assert!(is_conflict(&result), "duplicate area code: {result:?}");
    // Nothing was created, the original is intact.
    assert_eq!(store.children(w.town.id).await.unwrap(), vec![w.village.clone()]);
    assert_eq!(store.area_by_code(&code("440785101210")).await.unwrap(), Some(w.village));
}

pub async fn areas_unknown_parent_is_invalid(store: &dyn Store) {
    let w = world(store).await;
    let orphan =
        NewArea {
            code: code("X-1"), name: "无主网格".into(), kind: AreaKind::Grid, parent: Some(w.house_b.id + 1000)
        };
    let result = store.create_area(orphan).await;
    assert!(is_invalid(&result), "unknown parent: {result:?}");
    assert_eq!(store.area_by_code(&code("X-1")).await.unwrap(), None);
}

pub async fn areas_batch_is_all_or_nothing(store: &dyn Store) {
    let w = world(store).await;
    let grid = |c: &str, name: &str| NewArea {
        code: code(c),
        name: name.into(),
        kind: AreaKind::Grid,
        parent: Some(w.village.id),
    };
    let created = store.create_areas(vec![grid("G-3", "第三网格"), grid("G-4", "第四网格")]).await.unwrap();
    assert_eq!(created.iter().map(|a| a.name.as_str()).collect::<Vec<_>>(), ["第三网格", "第四网格"], "input order");
    for a in &created {
        assert_eq!(a.path, Area::child_path(Some(&w.village.path), a.id));
        assert_eq!(store.area(a.id).await.unwrap().as_ref(), Some(a));
    }
    // A duplicate code in the middle of a batch: none of the batch is created.
    let result = store.create_areas(vec![grid("G-5", "第五网格"), grid("G-3", "重复"), grid("G-6", "第六网格")]).await;
    assert!(is_conflict(&result), "duplicate in a batch: {result:?}");
    for c in ["G-5", "G-6"] {
        assert_eq!(store.area_by_code(&code(c)).await.unwrap(), None, "{c} must not exist");
    }
    // An unknown parent anywhere in the batch: none is created.
    let orphan =
        NewArea { code: code("G-7"), name: "无主".into(), kind: AreaKind::Grid, parent: Some(w.house_b.id + 1000) };
    let result = store.create_areas(vec![grid("G-8", "第八网格"), orphan]).await;
    assert!(is_invalid(&result), "unknown parent in a batch: {result:?}");
    assert_eq!(store.area_by_code(&code("G-8")).await.unwrap(), None);
    assert!(store.create_areas(Vec::new()).await.unwrap().is_empty());
}

pub async fn areas_children_and_ancestors(store: &dyn Store) {
    let town = new_area(store, "440785101", "圣堂镇", AreaKind::Town, None).await;
    let village = new_area(store, "440785101210", "湴朗村民委员会", AreaKind::Village, Some(&town)).await;
    // Created out of code order: children come back by code.
    let g3 = new_area(store, "440785101210-G03", "第三网格", AreaKind::Grid, Some(&village)).await;
    let g1 = new_area(store, "440785101210-G01", "第一网格", AreaKind::Grid, Some(&village)).await;
    let g2 = new_area(store, "440785101210-G02", "第二网格", AreaKind::Grid, Some(&village)).await;
    let house = new_area(store, "440785101210-G02-H007", "二巷7号", AreaKind::Household, Some(&g2)).await;

    assert_eq!(store.children(village.id).await.unwrap(), vec![g1.clone(), g2.clone(), g3.clone()]);
    assert_eq!(store.children(town.id).await.unwrap(), vec![village.clone()]);
    assert_eq!(store.children(house.id).await.unwrap(), vec![]);

    assert_eq!(
        store.ancestors(house.id).await.unwrap(),
        vec![town.clone(), village.clone(), g2.clone(), house.clone()]
    );
    assert_eq!(store.ancestors(g1.id).await.unwrap(), vec![town.clone(), village.clone(), g1.clone()]);
    assert_eq!(store.ancestors(town.id).await.unwrap(), vec![town.clone()]);
}

pub async fn areas_within_and_counts(store: &dyn Store) {
    let w = world(store).await;
    let community = new_area(store, "440785101001", "圣堂社区居民委员会", AreaKind::Community, Some(&w.town)).await;
    let village = Scope::of(&w.village);

    let within = store.areas_within(&village, false).await.unwrap();
    assert_eq!(within, vec![w.village.clone(), w.grid_a.clone(), w.grid_b.clone()]);
    let with_households = store.areas_within(&village, true).await.unwrap();
    assert_eq!(
        with_households,
        vec![w.village.clone(), w.grid_a.clone(), w.grid_b.clone(), w.house_a.clone(), w.house_b.clone()]
    );
    // Shallowest first, then by code: the community's code sorts before the village's.
    let town = store.areas_within(&Scope::of(&w.town), false).await.unwrap();
    assert_eq!(town, vec![w.town.clone(), community.clone(), w.village.clone(), w.grid_a.clone(), w.grid_b.clone()]);
    assert_eq!(
        store.areas_within(&Scope::of(&w.grid_b), true).await.unwrap(),
        vec![w.grid_b.clone(), w.house_b.clone()]
    );

    let town_scope = Scope::of(&w.town);
    assert_eq!(store.count_areas(&town_scope, AreaKind::Town).await.unwrap(), 1);
    assert_eq!(store.count_areas(&town_scope, AreaKind::Village).await.unwrap(), 1);
    assert_eq!(store.count_areas(&town_scope, AreaKind::Community).await.unwrap(), 1);
    assert_eq!(store.count_areas(&town_scope, AreaKind::Grid).await.unwrap(), 2);
    assert_eq!(store.count_areas(&town_scope, AreaKind::Household).await.unwrap(), 2);
    assert_eq!(store.count_areas(&town_scope, AreaKind::County).await.unwrap(), 0);
    assert_eq!(store.count_areas(&Scope::of(&w.grid_a), AreaKind::Household).await.unwrap(), 1);
    assert_eq!(store.count_areas(&Scope::of(&community), AreaKind::Grid).await.unwrap(), 0);
}

/// Scopes are subtrees, not string prefixes: area 4's scope must not cover area 40.
pub async fn areas_id_prefix_is_not_containment(store: &dyn Store) {
    let w = world(store).await;
    // Create sibling grids until one's id, as text, starts with another's (e.g. 7 and 70).
    let mut grids = vec![w.grid_a.clone(), w.grid_b.clone()];
    let mut pair = None;
    for n in 3..400 {
        let g =
            new_area(store, &format!("440785101210-G{n:03}"), &format!("第{n}网格"), AreaKind::Grid, Some(&w.village))
                .await;
        let id = g.id.to_string();
        if let Some(short) = grids.iter().find(|s| id.starts_with(&s.id.to_string())) {
            pair = Some((short.clone(), g.clone()));
            break;
        }
        grids.push(g);
    }
    let (short, long) = pair.expect("two sibling grids whose ids share a prefix");
    let inside = insert(store, resident("梁志强", 1, &short)).await;
    let outside = insert(store, resident("吴美玲", 2, &long)).await;
    store.add_staff(vec![StaffMember::new(outside.id, Team::GridWorker, long.id)]).await.unwrap();
    store.create_account(account("wu.grid", "吴美玲", Role::GridWorker, &long), T0).await.unwrap();

    let scope = Scope::of(&short);
    assert_eq!(store.count_people(&scope).await.unwrap(), 1);
    assert_eq!(ids_in(store, &all_in(&scope)).await, vec![inside.id]);
    assert_eq!(store.person(&scope, outside.id).await.unwrap(), None);
    let within = store.areas_within(&scope, true).await.unwrap();
    assert!(within.iter().all(|a| a.path.starts_with(&short.path)), "{within:?}");
    assert!(!within.iter().any(|a| a.id == long.id));
    assert_eq!(store.count_areas(&scope, AreaKind::Grid).await.unwrap(), 1);
    assert!(store.staff(&scope, None).await.unwrap().is_empty());
    assert!(store.accounts(&scope).await.unwrap().is_empty());
    assert_eq!(store.count_people(&Scope::of(&long)).await.unwrap(), 1);
}

pub async fn areas_rename(store: &dyn Store) {
    let w = world(store).await;
    let renamed = store.rename_area(w.village.id, "湴朗村").await.unwrap();
    assert_eq!(renamed, Area { name: "湴朗村".into(), ..w.village.clone() });
    assert_eq!(store.area(w.village.id).await.unwrap(), Some(renamed));
    let missing = store.rename_area(w.house_b.id + 1000, "不存在").await;
    assert_eq!(missing, Err(StoreError::NotFound));
}

pub async fn merge_grid_moves_everything(store: &dyn Store) {
    let w = world(store).await;
    let at_home = insert(store, resident("陈秀英", 1, &w.house_a)).await;
    let in_grid = insert(store, resident("陈大文", 2, &w.grid_a)).await;
    let over_there = insert(store, resident("李秀英", 3, &w.house_b)).await;
    store
        .add_staff(vec![
            StaffMember::new(in_grid.id, Team::GridWorker, w.grid_a.id),
            StaffMember::new(at_home.id, Team::Volunteer, w.house_a.id),
            StaffMember::new(over_there.id, Team::GridWorker, w.grid_b.id),
            // Serves both grids: one assignment remains after the merge.
            StaffMember::new(over_there.id, Team::GridWorker, w.grid_a.id),
            StaffMember::new(over_there.id, Team::Cadre, w.village.id),
        ])
        .await
        .unwrap();
    let worker_a = store.create_account(account("chen.grid", "陈大文", Role::GridWorker, &w.grid_a), T0).await.unwrap();
    let household =
        store.create_account(account("chen.home", "陈秀英", Role::GridWorker, &w.house_a), T0).await.unwrap();
    let worker_b = store.create_account(account("li.grid", "李秀英", Role::GridWorker, &w.grid_b), T0).await.unwrap();
    let audit_before = all_audit(store).await.len();

    let moved = store.merge_grid(w.grid_a.id, w.grid_b.id).await.unwrap();
    assert_eq!(moved, 2);

    // The source grid is gone.
    assert_eq!(store.area(w.grid_a.id).await.unwrap(), None);
    assert_eq!(store.area_by_code(&w.grid_a.code).await.unwrap(), None);
    // Its household now hangs under the target, with a rewritten path.
    let house_a = store.area(w.house_a.id).await.unwrap().expect("household survives");
    assert_eq!(house_a.parent, Some(w.grid_b.id));
    assert_eq!(house_a.path, format!("{}{}/", w.grid_b.path, w.house_a.id));
    assert_eq!(house_a.name, "湴朗村一巷3号");
    assert_eq!(store.children(w.grid_b.id).await.unwrap(), vec![house_a.clone(), w.house_b.clone()]);
    assert_eq!(store.children(w.village.id).await.unwrap(), vec![w.grid_b.clone()]);
    assert_eq!(
        store.ancestors(house_a.id).await.unwrap(),
        vec![w.town.clone(), w.village.clone(), w.grid_b.clone(), house_a.clone()]
    );
    let village = Scope::of(&w.village);
    assert_eq!(store.count_areas(&village, AreaKind::Grid).await.unwrap(), 1);
    assert_eq!(store.count_areas(&village, AreaKind::Household).await.unwrap(), 2);

    // People moved with their grid.
    let grid_b = Scope::of(&w.grid_b);
    let p = store.person(&grid_b, at_home.id).await.unwrap().expect("household member moved");
    assert_eq!((p.area, p.grid, p.area_path.as_str()), (house_a.id, Some(w.grid_b.id), house_a.path.as_str()));
    let p = store.person(&grid_b, in_grid.id).await.unwrap().expect("grid member moved");
    assert_eq!((p.area, p.grid, p.area_path.as_str()), (w.grid_b.id, Some(w.grid_b.id), w.grid_b.path.as_str()));
    assert_eq!(p.name, "陈大文");
    assert_eq!(store.person(&Scope::of(&house_a), at_home.id).await.unwrap().map(|p| p.id), Some(at_home.id));
    assert_eq!(store.count_people(&grid_b).await.unwrap(), 3);
    assert_eq!(store.count_people(&village).await.unwrap(), 3);
    let mut ids = ids_in(store, &all_in(&grid_b)).await;
    ids.sort();
    assert_eq!(ids, vec![at_home.id, in_grid.id, over_there.id]);

    // Staff moved; the duplicate assignment collapsed into one.
    assert_eq!(
        sorted_staff(store.staff(&village, None).await.unwrap()),
        sorted_staff(vec![
            StaffMember::new(in_grid.id, Team::GridWorker, w.grid_b.id),
            StaffMember::new(at_home.id, Team::Volunteer, house_a.id),
            StaffMember::new(over_there.id, Team::GridWorker, w.grid_b.id),
            StaffMember::new(over_there.id, Team::Cadre, w.village.id),
        ])
    );
    assert_eq!(store.staff(&Scope::of(&house_a), None).await.unwrap().len(), 1);

    // Account scopes moved: the grid's to the target grid, the household's stays on its household.
    assert_eq!(store.account(worker_a.id).await.unwrap().unwrap().scope, w.grid_b.id);
    assert_eq!(store.account(household.id).await.unwrap().unwrap().scope, house_a.id);
    assert_eq!(store.account(worker_b.id).await.unwrap().unwrap().scope, w.grid_b.id);
    let names: Vec<String> =
        store.accounts(&grid_b).await.unwrap().into_iter().map(|a| a.username.as_str().to_string()).collect();
    assert_eq!(names, vec!["chen.grid", "chen.home", "li.grid"]);

    // The audit log is untouched.
    assert_eq!(all_audit(store).await.len(), audit_before);
}

pub async fn merge_grid_unknown_grid_changes_nothing(store: &dyn Store) {
    let w = world(store).await;
    let p = insert(store, resident("陈秀英", 1, &w.house_a)).await;
    let missing = w.house_b.id + 1000;
    assert!(store.merge_grid(w.grid_a.id, missing).await.is_err());
    assert!(store.merge_grid(missing, w.grid_b.id).await.is_err());
    assert_eq!(store.area(w.grid_a.id).await.unwrap(), Some(w.grid_a.clone()));
    assert_eq!(store.area(w.house_a.id).await.unwrap(), Some(w.house_a.clone()));
    assert_eq!(store.person(&Scope::of(&w.grid_a), p.id).await.unwrap(), Some(p));
}

// ---------------------------------------------------------------------------------------------
// People

pub async fn person_insert_round_trip(store: &dyn Store) {
    let w = world(store).await;
    let mut new = resident("陈秀英", 7, &w.house_a);
    new.phone = Some(Phone::parse("138 1234 5678").unwrap());
    new.address = Some("恩平市圣堂镇湴朗村一巷3号".into());
    new.needs = SpecialNeeds { cannot_walk: true, bedridden: false, other: Some("视力不好".into()) };
    new.synthetic = true;
    let s = stamp(T0 + 5 * MINUTE, Operation::PersonsCreate);
    let p = store.insert_person(new.clone(), &s).await.unwrap();

    assert_eq!(p.name, "陈秀英");
    assert_eq!(p.document, new.document);
    assert_eq!(p.sex, new.sex);
    assert_eq!(p.birth_date, new.birth_date);
    assert!(p.birth_date.is_some() && p.sex.is_some());
    assert_eq!(p.phone, new.phone);
    assert_eq!(p.address, new.address);
    assert_eq!(p.area, w.house_a.id);
    assert_eq!(p.grid, Some(w.grid_a.id));
    assert_eq!(p.area_path, w.house_a.path);
    assert_eq!(p.needs, new.needs);
    assert!(p.synthetic);
    assert_eq!((p.created_at, p.updated_at), (s.at, s.at));
    assert_eq!(store.person(&Scope::of(&w.town), p.id).await.unwrap(), Some(p.clone()));

    // Other documents, no document, no phone, a landline, no birth date.
    let mut passport = NewPerson::new(
        "JOHN SMITH",
        Document::parse(DocumentType::Passport, "e1234567", NaiveDate::from_ymd_opt(2022, 10, 6).unwrap()).unwrap(),
        w.grid_b.id,
    );
    passport.phone = Some(Phone::parse("0750-7381368").unwrap());
    passport.sex = Some(Sex::Male);
    let passport = insert(store, passport).await;
    assert_eq!(passport.document.number(), Some("E1234567"));
    assert_eq!(passport.document.kind(), DocumentType::Passport);
    assert_eq!((passport.sex, passport.birth_date), (Some(Sex::Male), None));
    assert_eq!(passport.phone.as_ref().map(Phone::as_str), Some("0750-7381368"));
    let nobody = insert(store, NewPerson::new("无名氏", Document::None, w.grid_b.id)).await;
    assert_eq!(nobody.document, Document::None);
    assert_eq!(store.person(&Scope::of(&w.grid_b), nobody.id).await.unwrap(), Some(nobody.clone()));
    assert_eq!(store.person(&Scope::of(&w.grid_b), p.id + 1000).await.unwrap(), None);

    // One audit entry, from the stamp, naming the person.
    let entries = audit_of(store, p.id).await;
    assert_eq!(entries.len(), 1, "{entries:?}");
    let e = &entries[0];
    assert_eq!(e.at, s.at);
    assert_eq!(e.user, Some(42));
    assert_eq!(e.username, "chen.grid");
    assert_eq!(e.role.as_deref(), Some("grid_worker"));
    assert_eq!(e.operation, "persons_create");
    assert_eq!(e.person, Some(p.id));
    assert_eq!(e.outcome, "success");
    assert_eq!(e.request_id, s.request_id);
}

pub async fn person_grid_resolution(store: &dyn Store) {
    let w = world(store).await;
    let household = insert(store, resident("陈秀英", 1, &w.house_b)).await;
    let grid = insert(store, resident("陈大文", 2, &w.grid_a)).await;
    let village = insert(store, resident("李秀英", 3, &w.village)).await;
    let town = insert(store, resident("梁志强", 4, &w.town)).await;
    assert_eq!(household.grid, Some(w.grid_b.id));
    assert_eq!(grid.grid, Some(w.grid_a.id));
    assert_eq!(village.grid, None);
    assert_eq!(town.grid, None);
    assert_eq!(village.area_path, w.village.path);
    let read = store.person(&Scope::of(&w.town), household.id).await.unwrap().unwrap();
    assert_eq!(read.grid, Some(w.grid_b.id));
}

pub async fn person_duplicate_document_is_conflict(store: &dyn Store) {
    let w = world(store).await;
    let first = insert(store, resident("陈秀英", 1, &w.house_a)).await;
    let again =
        store.insert_person(resident("陈秀英", 1, &w.grid_b), &stamp(T0 + MINUTE, Operation::PersonsCreate)).await;
    assert!(is_conflict(&again), "same ID number twice: {again:?}");
    assert_eq!(store.count_people(&Scope::of(&w.town)).await.unwrap(), 1);
    assert_eq!(all_audit(store).await.len(), 1, "the refused insert wrote no audit entry");

    // The same number under another document type is another document; no document is no conflict.
    let today = NaiveDate::from_ymd_opt(2022, 10, 6).unwrap();
    let passport = Document::parse(DocumentType::Passport, "E7654321", today).unwrap();
    let permit = Document::parse(DocumentType::Permit, "E7654321", today).unwrap();
    insert(store, NewPerson::new("何家明", passport.clone(), w.grid_a.id)).await;
    insert(store, NewPerson::new("何家明", permit, w.grid_a.id)).await;
    let twice = store
        .insert_person(NewPerson::new("何家明", passport, w.grid_b.id), &stamp(T0, Operation::PersonsCreate))
        .await;
    assert!(is_conflict(&twice), "same passport twice: {twice:?}");
    insert(store, NewPerson::new("无名氏", Document::None, w.grid_a.id)).await;
    insert(store, NewPerson::new("无名氏", Document::None, w.grid_a.id)).await;
    assert_eq!(store.count_people(&Scope::of(&w.town)).await.unwrap(), 5);
    assert_eq!(store.person(&Scope::of(&w.town), first.id).await.unwrap(), Some(first));
}

pub async fn person_unknown_area_is_invalid(store: &dyn Store) {
    let w = world(store).await;
    let mut p = resident("陈秀英", 1, &w.house_a);
    p.area = w.house_b.id + 1000;
    let result = store.insert_person(p, &stamp(T0, Operation::PersonsCreate)).await;
    assert!(is_invalid(&result), "unknown area: {result:?}");
    assert_eq!(store.count_people(&Scope::of(&w.town)).await.unwrap(), 0);
    assert!(all_audit(store).await.is_empty());
}

pub async fn people_insert_batch_in_input_order_with_audit(store: &dyn Store) {
    let w = world(store).await;
    let batch = vec![
        resident("陈秀英", 10, &w.house_b),
        resident("陈大文", 11, &w.grid_a),
        resident("李秀英", 12, &w.house_a),
        NewPerson::new("无名氏", Document::None, w.grid_b.id),
        resident("梁志强", 13, &w.village),
    ];
    let s = AuditStamp { request_id: "import-1".into(), ..stamp(T0 + 30 * MINUTE, Operation::ResidentsImport) };
    assert_eq!(store.insert_people(Vec::new(), &s).await.unwrap(), Vec::<PersonId>::new());
    let ids = store.insert_people(batch.clone(), &s).await.unwrap();
    assert_eq!(ids.len(), batch.len());
    assert_eq!(ids.iter().collect::<HashSet<_>>().len(), batch.len(), "distinct ids");
    let town = Scope::of(&w.town);
    for (id, new) in ids.iter().zip(&batch) {
        let p = store.person(&town, *id).await.unwrap().expect("inserted");
        assert_eq!((p.name.as_str(), &p.document, p.area), (new.name.as_str(), &new.document, new.area));
        assert_eq!(p.created_at, s.at);
        let entries = audit_of(store, *id).await;
        assert_eq!(entries.len(), 1);
        assert_eq!((entries[0].operation.as_str(), entries[0].request_id.as_str()), ("residents_import", "import-1"));
        assert_eq!(entries[0].outcome, "success");
    }
    assert_eq!(store.count_people(&town).await.unwrap(), 5);
    assert_eq!(all_audit(store).await.len(), 5);
}

pub async fn people_insert_batch_is_all_or_nothing(store: &dyn Store) {
    let w = world(store).await;
    let existing = insert(store, resident("陈秀英", 1, &w.house_a)).await;
    let town = Scope::of(&w.town);
    let s = stamp(T0 + MINUTE, Operation::ResidentsImport);

    // One row repeats a registered document.
    let batch =
        vec![resident("陈大文", 2, &w.grid_a), resident("冒名者", 1, &w.grid_b), resident("李秀英", 3, &w.grid_b)];
    let result = store.insert_people(batch, &s).await;
    assert!(is_conflict(&result), "registered document in batch: {result:?}");

    // Two rows share a document.
    let batch =
        vec![resident("陈大文", 2, &w.grid_a), resident("李秀英", 3, &w.grid_b), resident("陈大文", 2, &w.house_b)];
    let result = store.insert_people(batch, &s).await;
    assert!(is_conflict(&result), "duplicate inside batch: {result:?}");

    // One row lives in an area that does not exist.
    let mut lost = resident("梁志强", 4, &w.grid_b);
    lost.area = w.house_b.id + 1000;
    let batch = vec![resident("陈大文", 2, &w.grid_a), lost, resident("李秀英", 3, &w.grid_b)];
    let result = store.insert_people(batch, &s).await;
    assert!(is_invalid(&result), "unknown area in batch: {result:?}");

    // Nothing of the refused batches was written, neither people nor audit entries.
    assert_eq!(ids_in(store, &all_in(&town)).await, vec![existing.id]);
    assert_eq!(all_audit(store).await.len(), 1);
    let docs = vec![Document::ResidentId(nth_id(2)), Document::ResidentId(nth_id(3)), Document::ResidentId(nth_id(4))];
    assert!(store.registered_documents(&docs).await.unwrap().is_empty());

    // The same batch without the bad row goes through whole.
    let batch = vec![resident("陈大文", 2, &w.grid_a), resident("李秀英", 3, &w.grid_b)];
    assert_eq!(store.insert_people(batch, &s).await.unwrap().len(), 2);
    assert_eq!(store.count_people(&town).await.unwrap(), 3);
}

/// The town's register in one import: 45,000 people (Shengtang has about that many) within seconds.
pub async fn people_insert_45000_is_fast(store: &dyn Store) {
    const N: u32 = 45_000;
    let w = world(store).await;
    let mut households = vec![w.house_a.clone(), w.house_b.clone()];
    for (n, grid) in (2..20).zip([&w.grid_a, &w.grid_b].into_iter().cycle()) {
        households.push(
            new_area(store, &format!("{}-H{n:03}", grid.code), &format!("{n}号"), AreaKind::Household, Some(grid))
                .await,
        );
    }
    let surnames = ["陈", "李", "梁", "吴", "何", "黄", "冯", "郑"];
    let people: Vec<NewPerson> = (0..N)
        .map(|i| {
            let mut p = resident(
                &format!("{}{}", surnames[i as usize % surnames.len()], i),
                i,
                &households[i as usize % households.len()],
            );
            p.synthetic = true;
            p
        })
        .collect();
    let s = stamp(T0, Operation::ResidentsImport);
    let started = Instant::now();
    let ids = store.insert_people(people.clone(), &s).await.expect("bulk insert");
    let took = started.elapsed();
    eprintln!("{}: inserted {N} people in {took:?}", store.engine());
    assert!(took < Duration::from_secs(30), "inserting {N} people took {took:?}");
    assert_eq!(ids.len(), N as usize);
    assert_eq!(store.count_people(&Scope::of(&w.town)).await.unwrap(), u64::from(N));
    let town = Scope::of(&w.town);
    for i in [0usize, 1, 12_345, N as usize - 1] {
        let p = store.person(&town, ids[i]).await.unwrap().expect("inserted");
        assert_eq!(p.document, people[i].document, "row {i}");
        assert_eq!(p.area, people[i].area, "row {i}");
    }
    let audit = all_audit(store).await;
    assert_eq!(audit.len(), N as usize, "one audit entry per person");
    let audited: HashSet<PersonId> = audit.iter().filter_map(|e| e.person).collect();
    assert_eq!(audited, ids.iter().copied().collect::<HashSet<_>>());
}

pub async fn people_reads_never_leave_scope(store: &dyn Store) {
    let w = world(store).await;
    let a_home = insert(store, resident("陈秀英", 1, &w.house_a)).await;
    let a_grid = insert(store, resident("陈大文", 2, &w.grid_a)).await;
    let b_home = insert(store, resident("陈美玲", 3, &w.house_b)).await;
    let b_grid = insert(store, resident("李秀英", 4, &w.grid_b)).await;
    let in_village = insert(store, resident("梁志强", 5, &w.village)).await;
    let (a, b) = (Scope::of(&w.grid_a), Scope::of(&w.grid_b));

    assert_eq!(store.count_people(&a).await.unwrap(), 2);
    assert_eq!(store.count_people(&b).await.unwrap(), 2);
    assert_eq!(store.count_people(&Scope::of(&w.village)).await.unwrap(), 5);
    assert_eq!(store.count_people(&Scope::of(&w.house_a)).await.unwrap(), 1);
    assert_eq!(ids_in(store, &all_in(&a)).await, vec![a_home.id, a_grid.id]);
    assert_eq!(ids_in(store, &all_in(&b)).await, vec![b_home.id, b_grid.id]);
    assert_eq!(ids_in(store, &all_in(&Scope::of(&w.house_b))).await, vec![b_home.id]);
    for id in [b_home.id, b_grid.id, in_village.id] {
        assert_eq!(store.person(&a, id).await.unwrap(), None, "person {id} is outside grid A");
    }
    assert!(store.person(&a, a_home.id).await.unwrap().is_some());
    assert_eq!(store.person(&Scope::of(&w.house_a), a_grid.id).await.unwrap(), None);

    // Searching never reaches across: not by name, not by document.
    assert_eq!(ids_in(store, &search_in(&a, "陈")).await, vec![a_home.id, a_grid.id]);
    assert!(ids_in(store, &search_in(&a, "李")).await.is_empty());
    assert!(ids_in(store, &search_in(&a, "梁志强")).await.is_empty());
    let b_suffix = &nth_id(3).as_str()[12..].to_string();
    assert!(ids_in(store, &search_in(&a, b_suffix)).await.is_empty());
    assert_eq!(ids_in(store, &search_in(&b, b_suffix)).await, vec![b_home.id]);
    // Paging from an id of the other grid does not leak it either.
    let after = PersonQuery { after: Some(a_home.id), ..all_in(&b) };
    assert!(!ids_in(store, &after).await.contains(&a_grid.id));
}

pub async fn people_keyset_pagination(store: &dyn Store) {
    let w = world(store).await;
    let mut in_a = Vec::new();
    for i in 0..25u32 {
        let (grid, name) = if i % 5 == 4 { (&w.grid_b, "李") } else { (&w.house_a, "陈") };
        let p = insert(store, resident(&format!("{name}{i}"), i, grid)).await;
        if grid.id == w.house_a.id {
            in_a.push(p.id);
        }
    }
    assert_eq!(in_a.len(), 20);
    let scope = Scope::of(&w.grid_a);
    let mut pages = Vec::new();
    let mut after = None;
    loop {
        let page = ids_in(store, &PersonQuery { within: scope.clone(), search: None, after, limit: 8 }).await;
        if page.is_empty() {
            break;
        }
        assert!(page.len() <= 8);
        assert!(page.windows(2).all(|w| w[0] < w[1]), "by id: {page:?}");
        after = page.last().copied();
        pages.push(page);
        assert!(pages.len() < 10, "pagination does not end");
    }
    assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), vec![8, 8, 4]);
    let mut all: Vec<PersonId> = pages.concat();
    let mut expected = in_a.clone();
    expected.sort();
    all.sort();
    assert_eq!(all, expected);

    // Pagination and search together.
    let q = |after| PersonQuery { within: Scope::of(&w.village), search: Some("李".into()), after, limit: 2 };
    let first = ids_in(store, &q(None)).await;
    let second = ids_in(store, &q(first.last().copied())).await;
    let third = ids_in(store, &q(second.last().copied())).await;
    assert_eq!((first.len(), second.len(), third.len()), (2, 2, 1));
}

pub async fn people_search(store: &dyn Store) {
    let w = world(store).await;
    let chen_xiuying = insert(store, resident("陈秀英", 1, &w.house_a)).await;
    let chen_dawen = insert(store, resident("陈大文", 2, &w.grid_a)).await;
    let li_xiuying = insert(store, resident("李秀英", 3, &w.grid_b)).await;
    let today = NaiveDate::from_ymd_opt(2022, 10, 6).unwrap();
    let passport = insert(
        store,
        NewPerson::new("JOHN SMITH", Document::parse(DocumentType::Passport, "E12345678", today).unwrap(), w.grid_b.id),
    )
    .await;
    // Someone whose ID number ends in X.
    let x = (10..800).find(|i| nth_id(*i).as_str().ends_with('X')).expect("an ID ending in X");
    let with_x = insert(store, resident("何家明", x, &w.grid_b)).await;
    let village = Scope::of(&w.village);

    // Name prefixes.
    assert_eq!(ids_in(store, &search_in(&village, "陈")).await, vec![chen_xiuying.id, chen_dawen.id]);
    assert_eq!(ids_in(store, &search_in(&village, "陈秀")).await, vec![chen_xiuying.id]);
    assert_eq!(ids_in(store, &search_in(&village, "李秀英")).await, vec![li_xiuying.id]);
    assert_eq!(ids_in(store, &search_in(&village, "JOHN")).await, vec![passport.id]);
    // A prefix, not a substring.
    assert!(ids_in(store, &search_in(&village, "秀英")).await.is_empty());
    // Document suffixes.
    let suffix = &nth_id(2).as_str()[14..].to_string();
    assert_eq!(ids_in(store, &search_in(&village, suffix)).await, vec![chen_dawen.id]);
    assert_eq!(ids_in(store, &search_in(&village, nth_id(3).as_str())).await, vec![li_xiuying.id]);
    assert_eq!(ids_in(store, &search_in(&village, "5678")).await, vec![passport.id]);
    let x_suffix = &nth_id(x).as_str()[14..].to_string();
    assert_eq!(ids_in(store, &search_in(&village, x_suffix)).await, vec![with_x.id]);
    assert_eq!(
        ids_in(store, &search_in(&village, &x_suffix.to_lowercase())).await,
        vec![with_x.id],
        "a typed lower-case x"
    );
    // Not a prefix of the document, not a wildcard.
    assert!(ids_in(store, &search_in(&village, "440785")).await.is_empty());
    assert!(ids_in(store, &search_in(&village, "%")).await.is_empty());
    assert!(ids_in(store, &search_in(&village, "_")).await.is_empty());
    assert!(ids_in(store, &search_in(&village, "王")).await.is_empty());
}

pub async fn person_update_with_audit(store: &dyn Store) {
    let w = world(store).await;
    let house_a2 =
        new_area(store, "440785101210-G01-H002", "湴朗村一巷5号", AreaKind::Household, Some(&w.grid_a)).await;
    let mut new = resident("陈秀英", 1, &w.house_a);
    new.phone = Some(Phone::parse("13812345678").unwrap());
    new.address = Some("一巷3号".into());
    let original = insert(store, new).await;
    let village = Scope::of(&w.village);

    let s1 = stamp(T0 + 60 * MINUTE, Operation::PersonsUpdate);
    let change = PersonChange {
        name: Some("陈秀兰".into()),
        phone: Some(Some(Phone::parse("0750-7381368").unwrap())),
        address: Some(None),
        area: Some(house_a2.id),
        needs: Some(SpecialNeeds { cannot_walk: false, bedridden: true, other: Some("需上门采样".into()) }),
    };
    let updated = store.update_person(&village, original.id, change, &s1).await.unwrap();
    let expected = Person {
        name: "陈秀兰".into(),
        phone: Some(Phone::parse("0750-7381368").unwrap()),
        address: None,
        area: house_a2.id,
        grid: Some(w.grid_a.id),
        area_path: house_a2.path.clone(),
        needs: SpecialNeeds { cannot_walk: false, bedridden: true, other: Some("需上门采样".into()) },
        updated_at: s1.at,
        ..original.clone()
    };
    assert_eq!(updated, expected);
    assert_eq!(store.person(&village, original.id).await.unwrap(), Some(expected.clone()));

    // An empty change leaves every field alone.
    let s2 = stamp(T0 + 61 * MINUTE, Operation::PersonsUpdate);
    let same = store.update_person(&village, original.id, PersonChange::default(), &s2).await.unwrap();
    assert_eq!(Person { updated_at: expected.updated_at, ..same }, expected);

    // Moving to the other grid resolves the new grid.
    let s3 = stamp(T0 + 62 * MINUTE, Operation::PersonsUpdate);
    let moved = store
        .update_person(&village, original.id, PersonChange { area: Some(w.grid_b.id), ..Default::default() }, &s3)
        .await
        .unwrap();
    assert_eq!(
        (moved.area, moved.grid, moved.area_path.as_str()),
        (w.grid_b.id, Some(w.grid_b.id), w.grid_b.path.as_str())
    );
    assert_eq!(store.person(&Scope::of(&w.grid_a), original.id).await.unwrap(), None);
    assert_eq!(store.count_people(&Scope::of(&w.grid_b)).await.unwrap(), 1);

    // An unknown area is invalid and changes nothing.
    let s4 = stamp(T0 + 63 * MINUTE, Operation::PersonsUpdate);
    let bad = PersonChange { name: Some("不该改".into()), area: Some(w.house_b.id + 1000), ..Default::default() };
    let result = store.update_person(&village, original.id, bad, &s4).await;
    assert!(is_invalid(&result), "unknown area: {result:?}");
    assert_eq!(store.person(&village, original.id).await.unwrap(), Some(moved.clone()));
    // Unknown person.
    let result = store.update_person(&village, original.id + 1000, PersonChange::default(), &s4).await;
    assert_eq!(result, Err(StoreError::NotFound));

    // One entry per successful update, newest first, then the registration.
    let entries = audit_of(store, original.id).await;
    let ops: Vec<(&str, Millis)> = entries.iter().map(|e| (e.operation.as_str(), e.at)).collect();
    assert_eq!(
        ops,
        vec![("persons_update", s3.at), ("persons_update", s2.at), ("persons_update", s1.at), ("persons_create", T0)]
    );
    assert!(entries.iter().all(|e| e.person == Some(original.id) && e.outcome == "success"));
    assert_eq!(entries[0].request_id, s3.request_id);
    // The detail names the fields that changed, never their values.
    let details: Vec<Option<&str>> = entries.iter().map(|e| e.detail.as_deref()).collect();
    assert_eq!(details, vec![Some("changed: area"), None, Some("changed: area, name, phone, address, needs"), None]);
}

pub async fn person_update_outside_scope_is_refused(store: &dyn Store) {
    let w = world(store).await;
    let p = insert(store, resident("陈秀英", 1, &w.house_a)).await;
    let s = stamp(T0 + MINUTE, Operation::PersonsUpdate);
    let change = PersonChange { name: Some("陈秀兰".into()), ..Default::default() };
    let result = store.update_person(&Scope::of(&w.grid_b), p.id, change, &s).await;
    assert_eq!(result, Err(StoreError::NotFound), "a person outside the scope is not found");
    // Nor can someone be moved out of the scope of the change.
    let away = PersonChange { area: Some(w.house_b.id), ..Default::default() };
    assert!(store.update_person(&Scope::of(&w.grid_a), p.id, away, &s).await.is_err());
    assert_eq!(store.person(&Scope::of(&w.town), p.id).await.unwrap(), Some(p.clone()));
    assert_eq!(audit_of(store, p.id).await.len(), 1, "only the registration was audited");
}

pub async fn people_by_ids_stay_in_scope(store: &dyn Store) {
    let w = world(store).await;
    let a = insert(store, resident("陈秀英", 1, &w.house_a)).await;
    let b = insert(store, resident("李伟", 2, &w.house_b)).await;
    let ids = [b.id, a.id, a.id + b.id + 1000];
    let town = store.people_by_ids(&Scope::of(&w.town), &ids).await.unwrap();
    assert_eq!(town.iter().map(|p| p.id).collect::<Vec<_>>(), vec![a.id.min(b.id), a.id.max(b.id)]);
    let grid = store.people_by_ids(&Scope::of(&w.grid_a), &ids).await.unwrap();
    assert_eq!(grid, vec![a], "a person outside the scope is left out");
    assert!(store.people_by_ids(&Scope::of(&w.town), &[]).await.unwrap().is_empty());
}

pub async fn registered_documents(store: &dyn Store) {
    let w = world(store).await;
    let today = NaiveDate::from_ymd_opt(2022, 10, 6).unwrap();
    let a = Document::ResidentId(nth_id(1));
    let b = Document::parse(DocumentType::Passport, "E1234567", today).unwrap();
    let unregistered = Document::ResidentId(nth_id(2));
    let same_number_other_kind = Document::parse(DocumentType::Permit, "E1234567", today).unwrap();
    insert(store, NewPerson::new("陈秀英", a.clone(), w.grid_a.id)).await;
    insert(store, NewPerson::new("JOHN SMITH", b.clone(), w.grid_b.id)).await;
    insert(store, NewPerson::new("无名氏", Document::None, w.grid_b.id)).await;

    assert!(store.registered_documents(&[]).await.unwrap().is_empty());
    let asked = vec![unregistered, b.clone(), same_number_other_kind, Document::None, a.clone()];
    let found = store.registered_documents(&asked).await.unwrap();
    assert_eq!(found.len(), 2, "{found:?}");
    assert!(found.contains(&a) && found.contains(&b), "{found:?}");
    // Anywhere: documents are global, not scoped.
    assert_eq!(store.registered_documents(std::slice::from_ref(&b)).await.unwrap(), vec![b]);
}

// ---------------------------------------------------------------------------------------------
// Accounts and sessions

pub async fn accounts_create_and_read(store: &dyn Store) {
    let w = world(store).await;
    let new = account("zhang.admin", "张伟（管理员）", Role::Admin, &w.town);
    let created = store.create_account(new.clone(), T0).await.unwrap();
    assert_eq!(created.username, new.username);
    assert_eq!(created.display_name, "张伟（管理员）");
    assert_eq!((created.role, created.scope, created.disabled), (Role::Admin, w.town.id, false));
    assert_eq!(store.account(created.id).await.unwrap(), Some(created.clone()));
    assert_eq!(
        store.account_by_username(&new.username).await.unwrap(),
        Some((created.clone(), new.password_hash.clone()))
    );
    assert_eq!(store.account(created.id + 1000).await.unwrap(), None);
    assert_eq!(store.account_by_username(&Username::parse("nobody").unwrap()).await.unwrap(), None);

    let twice = store.create_account(account("Zhang.Admin", "另一个张伟", Role::Commander, &w.village), T0 + 1).await;
    assert!(is_conflict(&twice), "duplicate username: {twice:?}");
    assert_eq!(store.accounts(&Scope::of(&w.town)).await.unwrap(), vec![created.clone()]);

    let mut lost = account("lost.user", "无处", Role::Commander, &w.town);
    lost.scope = w.house_b.id + 1000;
    assert!(store.create_account(lost, T0).await.is_err(), "scope area must exist");

    store.set_password_hash(created.id, "$argon2id$new").await.unwrap();
    let (_, hash) = store.account_by_username(&new.username).await.unwrap().unwrap();
    assert_eq!(hash, "$argon2id$new");
    assert!(store.set_password_hash(created.id + 1000, "x").await.is_err());
    assert!(store.set_disabled(created.id + 1000, true).await.is_err());
}

pub async fn accounts_scoped_list(store: &dyn Store) {
    let w = world(store).await;
    let commander =
        store.create_account(account("wang.commander", "王指挥", Role::Commander, &w.town), T0).await.unwrap();
    let village =
        store.create_account(account("liang.village", "梁书记", Role::WorkingGroup, &w.village), T0).await.unwrap();
    let grid_a = store.create_account(account("chen.grid", "陈网格员", Role::GridWorker, &w.grid_a), T0).await.unwrap();
    let grid_b = store.create_account(account("li.grid", "李网格员", Role::GridWorker, &w.grid_b), T0).await.unwrap();
    let home = store.create_account(account("ann.home", "安", Role::Sampler, &w.house_a), T0).await.unwrap();

    assert_eq!(
        store.accounts(&Scope::of(&w.town)).await.unwrap(),
        vec![home.clone(), grid_a.clone(), grid_b.clone(), village.clone(), commander]
    );
    assert_eq!(
        store.accounts(&Scope::of(&w.village)).await.unwrap(),
        vec![home.clone(), grid_a.clone(), grid_b.clone(), village]
    );
    assert_eq!(store.accounts(&Scope::of(&w.grid_a)).await.unwrap(), vec![home, grid_a]);
    assert_eq!(store.accounts(&Scope::of(&w.grid_b)).await.unwrap(), vec![grid_b]);
    assert!(store.accounts(&Scope::of(&w.house_b)).await.unwrap().is_empty());
}

pub async fn accounts_disable_ends_sessions(store: &dyn Store) {
    let w = world(store).await;
    let a = store.create_account(account("chen.grid", "陈网格员", Role::GridWorker, &w.grid_a), T0).await.unwrap();
    let other = store.create_account(account("li.grid", "李网格员", Role::GridWorker, &w.grid_b), T0).await.unwrap();
    store.create_session("hash-cookie", a.id, SessionKind::Cookie, T0).await.unwrap();
    store.create_session("hash-bearer", a.id, SessionKind::Bearer, T0).await.unwrap();
    store.create_session("hash-other", other.id, SessionKind::Cookie, T0).await.unwrap();
    assert!(store.session("hash-cookie").await.unwrap().is_some());

    store.set_disabled(a.id, true).await.unwrap();
    assert!(store.account(a.id).await.unwrap().unwrap().disabled);
    assert_eq!(store.session("hash-cookie").await.unwrap(), None);
    assert_eq!(store.session("hash-bearer").await.unwrap(), None);
    assert!(store.session("hash-other").await.unwrap().is_some(), "other accounts keep their sessions");
    // A session of a disabled account is never returned.
    if store.create_session("hash-late", a.id, SessionKind::Cookie, T0 + MINUTE).await.is_ok() {
        assert_eq!(store.session("hash-late").await.unwrap(), None);
    }

    // Enabling again does not bring the old sessions back.
    store.set_disabled(a.id, false).await.unwrap();
    assert!(!store.account(a.id).await.unwrap().unwrap().disabled);
    assert_eq!(store.session("hash-cookie").await.unwrap(), None);
    assert_eq!(store.session("hash-bearer").await.unwrap(), None);
    store.create_session("hash-new", a.id, SessionKind::Cookie, T0 + 2 * MINUTE).await.unwrap();
    let (_, account) = store.session("hash-new").await.unwrap().unwrap();
    assert_eq!(account, store.account(a.id).await.unwrap().unwrap());
}

pub async fn sessions_lifecycle(store: &dyn Store) {
    let w = world(store).await;
    let a = store.create_account(account("chen.grid", "陈网格员", Role::GridWorker, &w.grid_a), T0).await.unwrap();
    let hash = "3f1e0c6b0e1d6e0b5e4f6a1d2c3b4a5968778695a4b3c2d1e0f1a2b3c4d5e6f7";
    store.create_session(hash, a.id, SessionKind::Cookie, T0).await.unwrap();
    let (times, account) = store.session(hash).await.unwrap().expect("session");
    assert_eq!((times.kind, times.created_at, times.last_seen_at), (SessionKind::Cookie, T0, T0));
    assert_eq!(account, a);

    store.touch_session(hash, T0 + 5 * MINUTE).await.unwrap();
    let (times, _) = store.session(hash).await.unwrap().unwrap();
    assert_eq!((times.created_at, times.last_seen_at), (T0, T0 + 5 * MINUTE));

    store.create_session("bearer-hash", a.id, SessionKind::Bearer, T0 + MINUTE).await.unwrap();
    let (times, _) = store.session("bearer-hash").await.unwrap().unwrap();
    assert_eq!(times.kind, SessionKind::Bearer);

    store.delete_session(hash).await.unwrap();
    assert_eq!(store.session(hash).await.unwrap(), None);
    assert!(store.session("bearer-hash").await.unwrap().is_some());
    assert_eq!(store.session("never-issued").await.unwrap(), None);
    let unknown: UserId = a.id + 1000;
    assert!(store.create_session("orphan", unknown, SessionKind::Cookie, T0).await.is_err(), "the account must exist");
}

// ---------------------------------------------------------------------------------------------
// Audit log

pub async fn audit_append_and_query(store: &dyn Store) {
    store.append_audit(Vec::new()).await.unwrap();
    let entry = |at: Millis, user: Option<UserId>, person: Option<PersonId>, operation: Operation, outcome: Outcome| {
        NewAuditEntry {
            at,
            user,
            username: user.map_or("unknown".to_string(), |u| format!("user{u}")),
            role: user.map(|_| Role::GridWorker),
            operation,
            person,
            outcome,
            detail: None,
            request_id: format!("r{at}"),
        }
    };
    let mut reveal = entry(T0 + 3, Some(1), Some(100), Operation::PersonsReveal, Outcome::Success);
    reveal.detail = Some("查看原因：流调需要联系本人".into());
    let entries = vec![
        entry(T0, None, None, Operation::Login, Outcome::Rejected),
        entry(T0 + 1, Some(1), Some(100), Operation::PersonsRead, Outcome::Success),
        entry(T0 + 2, Some(2), Some(100), Operation::PersonsRead, Outcome::Denied),
        reveal.clone(),
        entry(T0 + 4, Some(1), Some(200), Operation::PersonsList, Outcome::Success),
    ];
    store.append_audit(entries[..2].to_vec()).await.unwrap();
    store.append_audit(entries[2..].to_vec()).await.unwrap();

    let all = all_audit(store).await;
    assert_eq!(all.len(), 5);
    assert!(all.windows(2).all(|w| w[0].seq > w[1].seq), "newest first");
    assert_eq!(all.iter().map(|e| e.at).collect::<Vec<_>>(), vec![T0 + 4, T0 + 3, T0 + 2, T0 + 1, T0]);
    // Every field round-trips.
    for (stored, new) in all.iter().rev().zip(&entries) {
        assert_eq!(stored.at, new.at);
        assert_eq!(stored.user, new.user);
        assert_eq!(stored.username, new.username);
        assert_eq!(stored.role.as_deref(), new.role.map(Role::as_str));
        assert_eq!(stored.operation, new.operation.as_str());
        assert_eq!(stored.person, new.person);
        assert_eq!(stored.outcome, new.outcome.as_str());
        assert_eq!(stored.detail, new.detail);
        assert_eq!(stored.request_id, new.request_id);
    }

    let q = |person, user, before, limit| AuditQuery { person, user, before, limit };
    let ats = |v: Vec<AuditEntry>| v.into_iter().map(|e| e.at).collect::<Vec<_>>();
    assert_eq!(ats(store.audit_entries(&q(Some(100), None, None, 100)).await.unwrap()), vec![T0 + 3, T0 + 2, T0 + 1]);
    assert_eq!(ats(store.audit_entries(&q(None, Some(1), None, 100)).await.unwrap()), vec![T0 + 4, T0 + 3, T0 + 1]);
    assert_eq!(ats(store.audit_entries(&q(Some(100), Some(1), None, 100)).await.unwrap()), vec![T0 + 3, T0 + 1]);
    assert_eq!(ats(store.audit_entries(&q(None, None, None, 2)).await.unwrap()), vec![T0 + 4, T0 + 3]);
    // Keyset: older than the third newest.
    let third = all[2].seq;
    assert_eq!(ats(store.audit_entries(&q(None, None, Some(third), 100)).await.unwrap()), vec![T0 + 1, T0]);
    assert_eq!(ats(store.audit_entries(&q(Some(100), None, Some(third), 1)).await.unwrap()), vec![T0 + 1]);
    assert!(store.audit_entries(&q(Some(999), None, None, 100)).await.unwrap().is_empty());
    let stored_reveal = &store.audit_entries(&q(None, None, None, 2)).await.unwrap()[1];
    assert_eq!(stored_reveal.detail.as_deref(), Some("查看原因：流调需要联系本人"));
}

/// A list's entries share their request's fields in storage; each is still its own entry, found
/// by person, by user and in pages, between entries of other requests.
pub async fn audit_of_a_list_keeps_one_entry_per_person(store: &dyn Store) {
    let by = |user: UserId, request: &str| AuditStamp {
        at: T0,
        user: Some(user),
        username: format!("user{user}"),
        role: Some(Role::Commander),
        operation: Operation::AbnormalPoolsRead,
        request_id: request.into(),
    };
    let (list, other) = (by(1, "list"), by(2, "other"));
    let mut entries: Vec<NewAuditEntry> = (1..=4).map(|p| list.entry(Some(p), Outcome::Success, None)).collect();
    entries.push(other.entry(Some(2), Outcome::Success, Some("why".into())));
    entries.push(list.entry(Some(5), Outcome::Success, None));
    entries.push(list.entry(None, Outcome::Success, None));
    store.append_audit(entries.clone()).await.unwrap();
    store.append_audit(vec![other.entry(Some(3), Outcome::Denied, None)]).await.unwrap();

    let all = all_audit(store).await;
    assert_eq!(all.len(), 8);
    assert!(all.windows(2).all(|w| w[0].seq > w[1].seq), "newest first, each its own number");
    let stored: Vec<(Option<PersonId>, &str, &str, Option<&str>)> =
        all.iter().rev().map(|e| (e.person, e.request_id.as_str(), e.outcome.as_str(), e.detail.as_deref())).collect();
    assert_eq!(
        stored,
        vec![
            (Some(1), "list", "success", None),
            (Some(2), "list", "success", None),
            (Some(3), "list", "success", None),
            (Some(4), "list", "success", None),
            (Some(2), "other", "success", Some("why")),
            (Some(5), "list", "success", None),
            (None, "list", "success", None),
            (Some(3), "other", "denied", None),
        ]
    );
    assert!(
        all.iter().all(|e| e.username == format!("user{}", e.user.unwrap()) && e.role.as_deref() == Some("commander"))
    );

    let q = |person, user, before, limit| AuditQuery { person, user, before, limit };
    let requests = |v: Vec<AuditEntry>| v.into_iter().map(|e| e.request_id).collect::<Vec<_>>();
    assert_eq!(requests(store.audit_entries(&q(Some(2), None, None, 100)).await.unwrap()), vec!["other", "list"]);
    assert_eq!(requests(store.audit_entries(&q(Some(3), None, None, 100)).await.unwrap()), vec!["other", "list"]);
    let by_list_user = store.audit_entries(&q(None, Some(1), None, 100)).await.unwrap();
    assert_eq!(
        by_list_user.iter().map(|e| e.person).collect::<Vec<_>>(),
        vec![None, Some(5), Some(4), Some(3), Some(2), Some(1)]
    );
    // A page that ends inside the list, and the next one from there.
    let page = store.audit_entries(&q(None, Some(1), None, 3)).await.unwrap();
    assert_eq!(page.iter().map(|e| e.person).collect::<Vec<_>>(), vec![None, Some(5), Some(4)]);
    let next = store.audit_entries(&q(None, Some(1), Some(page[2].seq), 3)).await.unwrap();
    assert_eq!(next.iter().map(|e| e.person).collect::<Vec<_>>(), vec![Some(3), Some(2), Some(1)]);
}

/// A person's history is the same whichever of her entries the person index holds yet: none,
/// some (an indexing turn stops inside the log), all; no entry is found twice or missed.
pub async fn audit_by_person_whether_indexed_or_not(store: &dyn Store) {
    let stamp = |request: &str| AuditStamp {
        at: T0,
        user: Some(1),
        username: "li".into(),
        role: Some(Role::Commander),
        operation: Operation::AbnormalPoolsRead,
        request_id: request.into(),
    };
    let list = |request: &str, people: &[PersonId]| -> Vec<NewAuditEntry> {
        people.iter().map(|p| stamp(request).entry(Some(*p), Outcome::Success, None)).collect()
    };
    // Each person's history as the whole log (read without the person index) has it.
    let check = async |when: &str| {
        let all = all_audit(store).await;
        for person in 1..=7 {
            let expected: Vec<&AuditEntry> = all.iter().filter(|e| e.person == Some(person)).collect();
            let found = store
                .audit_entries(&AuditQuery { person: Some(person), limit: 1000, ..Default::default() })
                .await
                .unwrap();
            assert_eq!(found.iter().collect::<Vec<_>>(), expected, "person {person}, {when}");
            if let Some(newest) = expected.first() {
                let older = store
                    .audit_entries(&AuditQuery {
                        person: Some(person),
                        before: Some(newest.seq),
                        limit: 2,
                        ..Default::default()
                    })
                    .await
                    .unwrap();
                let want: Vec<&AuditEntry> = expected.iter().skip(1).take(2).copied().collect();
                assert_eq!(older.iter().collect::<Vec<_>>(), want, "person {person} older than her newest, {when}");
            }
        }
    };
    assert!(!store.index_audit(10).await.unwrap(), "nothing waits in an empty log");
    store.append_audit(list("a", &[1, 2, 3, 4, 5, 6, 3])).await.unwrap();
    store.append_audit(list("b", &[2])).await.unwrap();
    store.append_audit(vec![stamp("c").entry(None, Outcome::Success, None)]).await.unwrap();
    store.append_audit(vec![stamp("d").entry(Some(3), Outcome::Denied, None)]).await.unwrap();
    check("nothing indexed").await;
    // One turn of one entry (an engine that indexes as it appends has nothing waiting).
    store.index_audit(1).await.unwrap();
    check("one turn indexed").await;
    store.append_audit(list("e", &[1, 2, 6])).await.unwrap();
    check("one turn indexed, more appended").await;
    let mut turns = 0;
    while store.index_audit(2).await.unwrap() {
        turns += 1;
        assert!(turns < 100, "indexing ends");
    }
    check("all indexed").await;
    assert!(!store.index_audit(2).await.unwrap(), "nothing waits once all is indexed");
    store.append_audit(list("f", &[7, 1])).await.unwrap();
    check("all indexed, more appended").await;
}

// ---------------------------------------------------------------------------------------------
// Staff

pub async fn staff_assignments(store: &dyn Store) {
    let w = world(store).await;
    let chen = insert(store, resident("陈大文", 1, &w.house_a)).await;
    let li = insert(store, resident("李秀英", 2, &w.house_b)).await;
    let teacher = insert(store, resident("何老师", 3, &w.village)).await;
    let s = |person: &Person, team, area: &Area| StaffMember::new(person.id, team, area.id);
    store
        .add_staff(vec![
            s(&chen, Team::GridWorker, &w.grid_a),
            s(&chen, Team::Cadre, &w.village),
            s(&li, Team::GridWorker, &w.grid_b),
            s(&teacher, Team::Volunteer, &w.house_a),
            s(&chen, Team::GridWorker, &w.grid_a),
        ])
        .await
        .unwrap();
    // Adding again is harmless.
    store.add_staff(vec![s(&li, Team::GridWorker, &w.grid_b)]).await.unwrap();
    store.add_staff(Vec::new()).await.unwrap();

    let village = Scope::of(&w.village);
    assert_eq!(
        sorted_staff(store.staff(&village, None).await.unwrap()),
        sorted_staff(vec![
            s(&chen, Team::GridWorker, &w.grid_a),
            s(&chen, Team::Cadre, &w.village),
            s(&li, Team::GridWorker, &w.grid_b),
            s(&teacher, Team::Volunteer, &w.house_a),
        ])
    );
    assert_eq!(
        sorted_staff(store.staff(&Scope::of(&w.grid_a), None).await.unwrap()),
        sorted_staff(vec![s(&chen, Team::GridWorker, &w.grid_a), s(&teacher, Team::Volunteer, &w.house_a)])
    );
    assert_eq!(store.staff(&Scope::of(&w.grid_b), None).await.unwrap(), vec![s(&li, Team::GridWorker, &w.grid_b)]);
    assert_eq!(
        sorted_staff(store.staff(&village, Some(Team::GridWorker)).await.unwrap()),
        sorted_staff(vec![s(&chen, Team::GridWorker, &w.grid_a), s(&li, Team::GridWorker, &w.grid_b)])
    );
    assert_eq!(store.staff(&village, Some(Team::Cadre)).await.unwrap(), vec![s(&chen, Team::Cadre, &w.village)]);
    assert!(store.staff(&Scope::of(&w.grid_b), Some(Team::Sampler)).await.unwrap().is_empty());

    // Unknown people or areas are refused, and nothing of that batch is kept.
    let ghost = StaffMember::new(teacher.id + 1000, Team::Sampler, w.grid_b.id);
    assert!(store.add_staff(vec![s(&li, Team::Sampler, &w.grid_b), ghost]).await.is_err());
    let nowhere = StaffMember::new(li.id, Team::Sampler, w.house_b.id + 1000);
    assert!(store.add_staff(vec![nowhere]).await.is_err());
    assert_eq!(store.staff(&village, None).await.unwrap().len(), 4);

    // An e-mail address given sets the assignment's; the assignment added again without one
    // keeps it.
    let email = Email::parse("chen.dawen@example.org").unwrap();
    let cadre = s(&chen, Team::Cadre, &w.village).with_email(email);
    store.add_staff(vec![cadre.clone()]).await.unwrap();
    store.add_staff(vec![s(&chen, Team::Cadre, &w.village)]).await.unwrap();
    assert_eq!(store.staff(&village, Some(Team::Cadre)).await.unwrap(), vec![cadre]);
    assert_eq!(store.staff(&village, None).await.unwrap().len(), 4);
    assert!(store.staff(&village, None).await.unwrap().iter().filter(|m| m.email.is_some()).count() == 1);
}
