//! Contract tests of [`bulwark_store::LeaderStore`].

use super::T0;
use crate::{insert, new_area, resident, world};
use bulwark_domain::{access::Scope, areas::AreaKind, workforce::AreaLeader};
use bulwark_store::{Store, StoreError};

/// Set, replace, list by scope (with the area), remove; one person may lead several areas.
pub async fn leaders_set_replace_list_and_remove(store: &dyn Store) {
    let w = world(store).await;
    let other = new_area(store, "440785101211", "南坑村民委员会", AreaKind::Village, Some(&w.town)).await;
    let deputy = insert(store, resident("周副镇长", 4100, &w.house_a)).await;
    let secretary = insert(store, resident("陈书记", 4101, &w.house_b)).await;
    assert!(store.leaders(&Scope::of(&w.town)).await.unwrap().is_empty());

    let lead = |area: &bulwark_domain::areas::Area, person: &bulwark_domain::people::Person, title: &str| {
        AreaLeader::new(area.id, area.kind, person.id, title).unwrap()
    };
    store.set_leader(lead(&w.village, &deputy, "分管副镇长"), 1, T0).await.unwrap();
    store.set_leader(lead(&other, &deputy, "分管副镇长"), 1, T0).await.unwrap();
    store.set_leader(lead(&w.town, &secretary, "镇党委书记"), 1, T0).await.unwrap();

    let all = store.leaders(&Scope::of(&w.town)).await.unwrap();
    let codes: Vec<_> = all.iter().map(|l| l.area.code.as_str().to_string()).collect();
    assert_eq!(codes, ["440785101", "440785101210", "440785101211"], "by path: the town before its villages");
    assert_eq!(all[1].area, w.village);
    assert_eq!(all[1].leader, lead(&w.village, &deputy, "分管副镇长"));
    assert_eq!(all[2].leader.person, deputy.id, "one person leads two villages");

    // One leader per area: setting again replaces.
    store.set_leader(lead(&w.village, &secretary, "镇领导（包村）"), 2, T0 + 1).await.unwrap();
    let in_village = store.leaders(&Scope::of(&w.village)).await.unwrap();
    assert_eq!(in_village.len(), 1, "only the village's own leader inside its scope");
    assert_eq!(in_village[0].leader, lead(&w.village, &secretary, "镇领导（包村）"));

    // Scope is part of the query: a grid's scope sees none of them.
    assert!(store.leaders(&Scope::of(&w.grid_a)).await.unwrap().is_empty());

    let removed = store.remove_leader(w.village.id).await.unwrap();
    assert_eq!(removed, Some(lead(&w.village, &secretary, "镇领导（包村）")));
    assert_eq!(store.remove_leader(w.village.id).await.unwrap(), None, "removing twice finds nothing");
    let left: Vec<_> = store.leaders(&Scope::of(&w.town)).await.unwrap().into_iter().map(|l| l.area.id).collect();
    assert_eq!(left, [w.town.id, other.id]);
}

/// An unknown area or person is refused as invalid, and nothing is stored.
pub async fn leaders_unknown_area_or_person_is_invalid(store: &dyn Store) {
    let w = world(store).await;
    let deputy = insert(store, resident("周副镇长", 4200, &w.house_a)).await;
    let no_person = AreaLeader::new(w.village.id, AreaKind::Village, deputy.id + 1000, "分管副镇长").unwrap();
    assert!(matches!(store.set_leader(no_person, 1, T0).await, Err(StoreError::Invalid(_))));
    let no_area = AreaLeader::new(w.village.id + 1000, AreaKind::Village, deputy.id, "分管副镇长").unwrap();
    assert!(matches!(store.set_leader(no_area, 1, T0).await, Err(StoreError::Invalid(_))));
    assert!(store.leaders(&Scope::of(&w.town)).await.unwrap().is_empty());
}
