//! The demo's posts and rosters, loaded with the whole demo town on both engines: a post at every
//! village's sampling site with teacher volunteers on temperature and registration and cadres on
//! queue order, the highway exit's post staffed 24 hours in 3 × 8 h shifts on 6 and 7 October,
//! check-ins, and no-shows; the dashboard's summary at 09:00 on 6 October; a leader (包村领导)
//! for each village.

use bulwark_app::{demo, demo_rosters::CHECKPOINT_POST, rosters::local_offset};
use bulwark_domain::{
    access::Scope,
    areas::AreaCode,
    workforce::{PostKind, RosterRules, roster::day_bounds},
};
use bulwark_store::Store;
use std::collections::HashSet;

async fn demo_rosters(store: &dyn Store) {
    let day = demo::outbreak_day();
    demo::load(store, demo::DEFAULT_SEED, day, Some("demo-password-2022".into()), 1_665_000_000_000)
        .await
        .expect("demo load");
    let town = store.area_by_code(&AreaCode::parse(bulwark_demo::TOWN.0).unwrap()).await.unwrap().unwrap();
    let scope = Scope::of(&town);
    let posts = store.posts(&scope).await.unwrap();
    let sites = store.sites(&scope).await.unwrap();
    assert_eq!(posts.len(), sites.len() + 1, "a post per sampling site and the highway exit");
    assert!(posts.iter().filter(|p| p.kind == PostKind::SamplingSite).all(|p| p.site.is_some()));

    for (d, date) in [day, day + chrono::Days::new(1)].into_iter().enumerate() {
        let (from, to) = day_bounds(date, local_offset());
        let roster = store.roster(&scope, from, to).await.unwrap();
        let exit = roster.iter().find(|p| p.post.name == CHECKPOINT_POST).expect("the highway exit post");
        assert_eq!(exit.post.kind, PostKind::Checkpoint);
        assert_eq!(exit.shifts.len(), 3, "day {d}: 3 × 8 h");
        assert_eq!(exit.shifts[0].shift.starts, from);
        assert_eq!(exit.shifts[2].shift.ends, to, "staffed around the clock");
        assert!(exit.shifts.iter().all(|s| s.assignments.len() == 2));
        let responsibilities: HashSet<&str> = roster
            .iter()
            .flat_map(|p| &p.shifts)
            .flat_map(|s| &s.assignments)
            .map(|a| a.responsibility.as_str())
            .collect();
        assert!(responsibilities.contains("测温、登记（教师志愿者）"), "{responsibilities:?}");
        assert!(responsibilities.contains("排队秩序、绿色通道引导（党员干部）"));
        let all: Vec<_> = roster.iter().flat_map(|p| &p.shifts).flat_map(|s| &s.assignments).collect();
        assert!(all.iter().filter(|a| a.checked_in_at.is_some()).count() > all.len() / 2, "most checked in");
        assert!(all.iter().any(|a| a.checked_in_at.is_none()), "and some did not come");
    }

    // 09:00 on 6 October: every site's morning shift and the exit's day shift run.
    let nine = day_bounds(day, local_offset()).0 + 9 * 3_600_000;
    let s = store.roster_summary(&scope, nine, RosterRules::DEFAULT).await.unwrap();
    assert_eq!(s.posts as usize, posts.len());
    assert_eq!(s.shifts_running as usize, posts.len());
    assert!(s.assigned > 0 && s.no_shows > 0 && s.checked_in + s.no_shows <= s.assigned, "{s:?}");
    // (The demo's check-outs come 5 minutes after the end, so those checked in are on post.)
    assert_eq!(s.checked_in + s.no_shows, s.assigned, "{s:?}");

    // Every village and community has a leader, a cadre, with the demo's title.
    let villages = store
        .areas_within(&scope, false)
        .await
        .unwrap()
        .into_iter()
        .filter(|a| {
            matches!(a.kind, bulwark_domain::areas::AreaKind::Village | bulwark_domain::areas::AreaKind::Community)
        })
        .count();
    let leaders = store.leaders(&scope).await.unwrap();
    assert_eq!(leaders.len(), villages, "a leader for each village");
    assert_eq!(villages, 12, "the demo town's 12 villages and communities");
    assert!(leaders.iter().all(|l| l.leader.title == bulwark_app::demo_leaders::TITLE));

    // A second load changes nothing.
    demo::load(store, demo::DEFAULT_SEED, day, Some("demo-password-2022".into()), 1_665_000_000_000)
        .await
        .expect("second load");
    assert_eq!(store.posts(&scope).await.unwrap().len(), posts.len());
}

#[tokio::test]
async fn demo_rosters_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let store = bulwark_sqlite::SqliteStore::open(&dir.path().join("demo.db")).unwrap();
    demo_rosters(&store).await;
}

#[tokio::test]
async fn demo_rosters_postgres() {
    let (store, _db) = bulwark_postgres::testing::fresh_store().await;
    demo_rosters(&store).await;
}
