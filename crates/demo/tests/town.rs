//! Properties of the generated demo town with the default seed: the real units, the grid and staff
//! counts of the source story, a census-like population, valid and unique identifiers, and
//! determinism.

use bulwark_demo::{DEFAULT_SEED, DemoTown, generate, outbreak_day};
use bulwark_domain::{
    access::{Role, Username},
    areas::{AreaCode, AreaKind},
    people::{Document, IdNumber, Sex, age_on},
    workforce::Team,
};
use std::{
    collections::{BTreeMap, BTreeSet},
    sync::OnceLock,
    time::Instant,
};

fn town() -> &'static DemoTown {
    static TOWN: OnceLock<DemoTown> = OnceLock::new();
    TOWN.get_or_init(|| {
        let started = Instant::now();
        let town = generate(DEFAULT_SEED, outbreak_day());
        println!("generated the demo town in {:?}", started.elapsed());
        town
    })
}

fn count(kind: AreaKind) -> usize {
    town().areas_of_kind(kind).count()
}

const UNITS: [(&str, &str, AreaKind); 12] = [
    ("440785101001", "圩镇社区居民委员会", AreaKind::Community),
    ("440785101200", "长安村民委员会", AreaKind::Village),
    ("440785101201", "进职村民委员会", AreaKind::Village),
    ("440785101202", "龙塘村民委员会", AreaKind::Village),
    ("440785101203", "水塘村民委员会", AreaKind::Village),
    ("440785101204", "区村村民委员会", AreaKind::Village),
    ("440785101205", "三山村民委员会", AreaKind::Village),
    ("440785101206", "塘龙村民委员会", AreaKind::Village),
    ("440785101207", "根竹头村民委员会", AreaKind::Village),
    ("440785101208", "三联村民委员会", AreaKind::Village),
    ("440785101209", "歇马村民委员会", AreaKind::Village),
    ("440785101210", "湴朗村民委员会", AreaKind::Village),
];

#[test]
fn prints_a_summary() {
    let t = town();
    let needs =
        |f: fn(&bulwark_domain::people::SpecialNeeds) -> bool| t.residents.iter().filter(|r| f(&r.needs)).count();
    println!(
        "areas {} (units {}, grids {}, households {}), residents {}, with phone {}, cannot walk {}, bedridden {}, other needs {}, staff {}, accounts {}",
        t.areas.len(),
        count(AreaKind::Community) + count(AreaKind::Village),
        count(AreaKind::Grid),
        count(AreaKind::Household),
        t.residents.len(),
        t.residents.iter().filter(|r| r.phone.is_some()).count(),
        needs(|n| n.cannot_walk),
        needs(|n| n.bedridden),
        needs(|n| n.other.is_some()),
        t.staff.len(),
        t.accounts.len(),
    );
}

#[test]
fn county_town_and_the_twelve_real_units() {
    let t = town();
    assert_eq!(
        (t.areas[0].code.as_str(), t.areas[0].name.as_str(), t.areas[0].kind),
        ("440785", "恩平市", AreaKind::County)
    );
    assert_eq!(t.areas[0].parent, None);
    assert_eq!(
        (t.areas[1].code.as_str(), t.areas[1].name.as_str(), t.areas[1].kind),
        ("440785101", "圣堂镇", AreaKind::Town)
    );
    let units: Vec<_> = t.areas[2..14].iter().map(|a| (a.code.as_str(), a.name.as_str(), a.kind)).collect();
    assert_eq!(units, UNITS);
    assert!(t.areas[2..14].iter().all(|a| a.parent.as_ref().map(AreaCode::as_str) == Some("440785101")));
    assert_eq!(count(AreaKind::Community) + count(AreaKind::Village), 12);
}

#[test]
fn parents_come_first_and_nesting_is_valid() {
    let t = town();
    let mut seen: BTreeMap<&AreaCode, AreaKind> = BTreeMap::new();
    for area in &t.areas {
        if let Some(parent) = &area.parent {
            let parent_kind = seen.get(parent).unwrap_or_else(|| panic!("{} before its parent", area.code));
            assert!(parent_kind.can_contain(area.kind), "{} in {}", area.code, parent);
        }
        assert!(seen.insert(&area.code, area.kind).is_none(), "duplicate code {}", area.code);
        assert!(!area.name.trim().is_empty() && area.name.chars().count() <= 64);
    }
}

#[test]
fn grids_are_shared_out_with_at_least_eight_per_unit() {
    let t = town();
    assert_eq!(count(AreaKind::Grid), 235);
    let mut per_unit: BTreeMap<&str, usize> = BTreeMap::new();
    for grid in t.areas_of_kind(AreaKind::Grid) {
        *per_unit.entry(grid.parent.as_ref().unwrap().as_str()).or_default() += 1;
    }
    assert_eq!(per_unit.len(), 12);
    assert!(per_unit.values().all(|&n| n >= 8), "{per_unit:?}");
    let first = t.areas.iter().find(|a| a.code.as_str() == "440785101210-G01").unwrap();
    assert_eq!(first.name, "湴朗村第1网格");
}

#[test]
fn population_is_about_45000() {
    let n = town().residents.len();
    assert!((44_000..=46_000).contains(&n), "{n} residents");
}

#[test]
fn age_structure_matches_the_census() {
    let t = town();
    let today = outbreak_day();
    let n = t.residents.len() as f64;
    let share = |lo: u32, hi: u32| {
        let c = t.residents.iter().filter(|r| (lo..=hi).contains(&age_on(r.birth_date, today))).count();
        100.0 * c as f64 / n
    };
    let bands = [(0, 14, 16.73), (15, 59, 63.69), (60, 200, 19.58), (65, 200, 13.85)];
    for (lo, hi, census) in bands {
        let got = share(lo, hi);
        println!("ages {lo}-{hi}: {got:.2} % (census {census} %)");
        assert!((got - census).abs() <= 1.5, "ages {lo}–{hi}: {got:.2} % vs {census} %");
    }
    let men = t.residents.iter().filter(|r| r.sex == Sex::Male).count() as f64;
    let ratio = 100.0 * men / (n - men);
    println!("sex ratio {ratio:.1} men per 100 women");
    assert!((95.0..=106.0).contains(&ratio), "sex ratio {ratio}");
}

#[test]
fn id_numbers_are_valid_unique_and_agree_with_the_record() {
    let t = town();
    let today = outbreak_day();
    let mut seen = BTreeSet::new();
    for r in &t.residents {
        let Document::ResidentId(id) = &r.document else { panic!("{} has no ID number", r.name) };
        let parsed = IdNumber::parse(id.as_str(), today).unwrap();
        assert_eq!(parsed.address_code(), "440785");
        assert_eq!(parsed.birth_date(), r.birth_date);
        assert_eq!(parsed.sex(), r.sex);
        assert!(seen.insert(id.as_str()), "duplicate ID number");
    }
}

#[test]
fn phones_are_unique_mobiles_for_most_adults_and_no_young_children() {
    let t = town();
    let today = outbreak_day();
    let mut seen = BTreeSet::new();
    let (mut adults, mut adults_with_phone) = (0, 0);
    for r in &t.residents {
        let age = age_on(r.birth_date, today);
        if let Some(p) = &r.phone {
            let b = p.as_str().as_bytes();
            assert!(b.len() == 11 && b[0] == b'1' && (b'3'..=b'9').contains(&b[1]), "{}", p.as_str());
            assert!(seen.insert(p.as_str()), "duplicate phone");
            assert!(age >= 12, "a child of {age} has a phone");
        }
        if age >= 18 {
            adults += 1;
            adults_with_phone += usize::from(r.phone.is_some());
        }
    }
    assert!(adults_with_phone * 100 >= adults * 80, "{adults_with_phone} of {adults} adults have a phone");
}

#[test]
fn households_have_one_to_six_people_and_one_address() {
    let t = town();
    let mut members: BTreeMap<&AreaCode, Vec<&str>> =
        t.areas_of_kind(AreaKind::Household).map(|h| (&h.code, Vec::new())).collect();
    for r in &t.residents {
        members.get_mut(&r.household).expect("household exists").push(r.address.as_str());
    }
    for (code, addresses) in &members {
        assert!((1..=6).contains(&addresses.len()), "{code} has {} people", addresses.len());
        assert!(addresses.iter().all(|a| a == &addresses[0]), "{code} has several addresses");
    }
}

#[test]
fn special_needs_rise_with_age() {
    let t = town();
    let today = outbreak_day();
    let rate = |min_age: u32, f: fn(&bulwark_domain::people::SpecialNeeds) -> bool| {
        let group: Vec<_> = t.residents.iter().filter(|r| age_on(r.birth_date, today) >= min_age).collect();
        100.0 * group.iter().filter(|r| f(&r.needs)).count() as f64 / group.len() as f64
    };
    let (walk60, walk80, bed60) = (rate(60, |n| n.cannot_walk), rate(80, |n| n.cannot_walk), rate(60, |n| n.bedridden));
    println!("cannot walk: {walk60:.2} % of 60+, {walk80:.2} % of 80+; bedridden {bed60:.2} % of 60+");
    assert!((2.0..=4.5).contains(&walk60), "{walk60}");
    assert!((7.0..=14.0).contains(&walk80), "{walk80}");
    assert!((0.5..=1.8).contains(&bed60), "{bed60}");
    let others: BTreeSet<&str> = t.residents.iter().filter_map(|r| r.needs.other.as_deref()).collect();
    assert!(others.contains("视力障碍") && others.contains("孕妇"), "{others:?}");
}

#[test]
fn staff_teams_of_the_source_story() {
    let t = town();
    let today = outbreak_day();
    assert_eq!(t.staff_of_team(Team::Cadre).count(), 176);
    assert_eq!(t.staff_of_team(Team::GridWorker).count(), 235);
    assert_eq!(t.staff_of_team(Team::Volunteer).count(), 37);
    assert_eq!(t.staff.len(), 176 + 235 + 37);

    let kinds: BTreeMap<&AreaCode, AreaKind> = t.areas.iter().map(|a| (&a.code, a.kind)).collect();
    let people: BTreeSet<usize> = t.staff.iter().map(|s| s.resident_index).collect();
    assert_eq!(people.len(), t.staff.len(), "a resident is in two teams");
    let mut grids_served = BTreeSet::new();
    for s in &t.staff {
        let r = &t.residents[s.resident_index];
        let age = age_on(r.birth_date, today);
        assert!((22..=60).contains(&age), "staff aged {age}");
        assert!(
            r.phone.is_some() && !r.needs.needs_home_visit(),
            "staff member {} cannot be called or cannot walk",
            r.name
        );
        match s.team {
            Team::Cadre => {
                assert!(matches!(kinds[&s.area], AreaKind::Village | AreaKind::Community));
                assert!(r.household.as_str().starts_with(s.area.as_str()), "cadre lives outside their unit");
            }
            Team::GridWorker => {
                assert_eq!(kinds[&s.area], AreaKind::Grid);
                assert!(
                    r.household.as_str().starts_with(&s.area.as_str()[..12]),
                    "grid worker lives outside the village"
                );
                assert!(grids_served.insert(&s.area), "two grid workers for {}", s.area);
            }
            Team::Volunteer => assert_eq!(s.area.as_str(), "440785101"),
            Team::Sampler => panic!("no samplers in the demo"),
        }
    }
    assert_eq!(grids_served.len(), 235);
}

#[test]
fn one_account_per_role() {
    let t = town();
    let got: Vec<(&str, &str, &str)> =
        t.accounts.iter().map(|a| (a.username.as_str(), a.role_name, a.scope.as_str())).collect();
    let town = "440785101";
    let expected = vec![
        ("admin", "admin", "440785"),
        ("commander", "commander", town),
        ("working_group", "working_group", town),
        ("gridworker", "grid_worker", "440785101210-G01"),
        ("sampler", "sampler", town),
        ("checkpoint", "checkpoint", town),
        ("lab", "lab", town),
        ("dispatcher", "transfer_dispatcher", town),
        ("auditor", "auditor", "440785"),
    ];
    assert_eq!(got, expected);
    for a in &t.accounts {
        assert!(Role::parse(a.role_name).is_some());
        assert_eq!(Username::parse(&a.username).unwrap().as_str(), a.username);
        assert!(!a.display_name.is_empty());
    }
    let worker = t.staff_of_team(Team::GridWorker).find(|s| s.area.as_str() == "440785101210-G01").unwrap();
    assert_eq!(t.accounts[3].display_name, t.residents[worker.resident_index].name);
}

#[test]
fn deterministic_in_seed_and_day() {
    let again = generate(DEFAULT_SEED, outbreak_day());
    assert!(&again == town(), "two runs with the same seed differ");
    assert_eq!(format!("{again:?}"), format!("{:?}", town()));
    let other = generate(DEFAULT_SEED + 1, outbreak_day());
    assert!(&other != town(), "a different seed gives the same town");
    assert_ne!(other.residents[0], town().residents[0]);
    // The real areas do not depend on the seed.
    assert_eq!(other.areas[..14], town().areas[..14]);
}

#[test]
fn the_first_cadre_of_each_unit_has_an_email_address() {
    let t = town();
    let with_email: Vec<_> = t.staff.iter().filter(|s| s.email.is_some()).collect();
    assert!(with_email.iter().all(|s| s.team == Team::Cadre));
    let units: BTreeSet<&AreaCode> = with_email.iter().map(|s| &s.area).collect();
    let all_units = t.areas.iter().filter(|a| matches!(a.kind, AreaKind::Village | AreaKind::Community)).count();
    assert_eq!((with_email.len(), units.len()), (all_units, all_units), "one address per village or community");
    let addresses: BTreeSet<&str> = with_email.iter().filter_map(|s| s.email.as_ref()).map(|e| e.as_str()).collect();
    assert_eq!(addresses.len(), all_units);
    assert!(addresses.iter().all(|a| a.ends_with("@shengtang.example.org")), "{addresses:?}");
}
