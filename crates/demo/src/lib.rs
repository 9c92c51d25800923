//! The Shengtang demo town: deterministic synthetic areas, residents and staff.
//!
//! [`generate`] builds a synthetic 圣堂镇 (Shengtang town, Enping, Guangdong) as it might have
//! looked on the morning of 6 October 2022, as plain data: no SQL, no HTTP, no clock. The caller
//! loads it into storage, parents before children, in the order of the vectors.
//!
//! What is real and what is not:
//! * **Real**: the county (440785 恩平市), the town (440785101 圣堂镇) and its 12 village-level
//!   units with their NBS codes, names and kinds (`data/shengtang_villages.csv`); the town's 235
//!   grids, 176 cadres and 37 teacher volunteers as counts from the source story; Enping's
//!   7th-census age structure.
//! * **Synthetic**: everything else. The population of each unit, the grids' hamlet and street
//!   names, every household, and **every resident** (name, ID number, phone, address, needs) is
//!   made up. The ID numbers are well-formed (valid check character) and may coincide with a real
//!   person's only by chance. Callers must store every generated resident with the `synthetic` flag set
//!   ([`bulwark_domain::people::NewPerson::synthetic`]) so that they can be told apart from, and
//!   purged independently of, real registrations.
//!
//! Output depends only on `seed` and `today`: the same pair gives identical data on every run and
//! platform (ChaCha8 random numbers, integer arithmetic, no hash-map iteration).

mod dice;
mod family;
mod names;
mod people;
mod units;

use bulwark_domain::{
    access::Role,
    areas::{AreaCode, AreaKind},
    notify::Email,
    people::{Document, Phone, Sex, SpecialNeeds, age_on},
    workforce::Team,
};
use chrono::{Datelike, NaiveDate};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

pub use family::CENSUS_BANDS_BP;
pub use people::ADDRESS_CODE;
pub use units::{COUNTY, GRID_COUNT, MIN_GRIDS_PER_UNIT, TOWN};

/// The seed of the standard demo data set (the date of the outbreak).
pub const DEFAULT_SEED: u64 = 20221006;
/// Party cadres of the vanguard team (党员干部先锋队).
pub const CADRE_COUNT: usize = 176;
/// Teacher volunteers (教师志愿者).
pub const VOLUNTEER_COUNT: usize = 37;
/// Youngest and oldest age of a staff member on `today`.
pub const STAFF_AGES: (u32, u32) = (22, 60);

/// 6 October 2022, the day the outbreak was found: the default `today` of the demo.
pub fn outbreak_day() -> NaiveDate {
    NaiveDate::from_ymd_opt(2022, 10, 6).expect("valid date")
}

/// One area of the tree: the county, the town, a village or community, a grid or a household.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoArea {
    /// `440785`, `440785101`, `440785101210`, `440785101210-G07`, `440785101210-G07-H0123`.
    pub code: AreaCode,
    /// `恩平市`, `圣堂镇`, `湴朗村民委员会`, `湴朗村第7网格`, `新塘里123号`.
    pub name: String,
    pub kind: AreaKind,
    /// The parent's code; `None` for the county only. Always listed before its children.
    pub parent: Option<AreaCode>,
}

/// A synthetic resident. Not a real person: store with `synthetic = true`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoResident {
    pub name: String,
    /// Always a resident ID number with address code 440785, unique in the town.
    pub document: Document,
    /// Agrees with the ID number.
    pub sex: Sex,
    /// Agrees with the ID number.
    pub birth_date: NaiveDate,
    /// A unique mobile number, for most people aged 12 and over.
    pub phone: Option<Phone>,
    /// The full postal address of the household.
    pub address: String,
    /// Code of the household the person lives in.
    pub household: AreaCode,
    pub needs: SpecialNeeds,
}

/// A staff assignment of one resident.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoStaff {
    /// Index into [`DemoTown::residents`].
    pub resident_index: usize,
    pub team: Team,
    /// The village or community for a cadre, the grid for a grid worker, the town for a volunteer.
    pub area: AreaCode,
    /// The first cadre of each village or community (its group lead) has an e-mail address
    /// (`cadre01@shengtang.example.org`, a reserved domain), so that notifications use all
    /// three channels.
    pub email: Option<Email>,
}

/// A demo login account: one per role. Passwords are the caller's business.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoAccount {
    pub username: String,
    pub display_name: String,
    /// As in [`Role::as_str`].
    pub role_name: &'static str,
    /// Code of the area the role applies to.
    pub scope: AreaCode,
}

/// The whole demo data set, each vector in creation order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoTown {
    /// County, town, the 12 units, the grids, then the households; parents before children.
    pub areas: Vec<DemoArea>,
    /// Grouped by household, households in the order of `areas`.
    pub residents: Vec<DemoResident>,
    /// Cadres, then grid workers (in grid order), then volunteers. No resident appears twice; all
    /// are aged 22–60, have a phone and can walk.
    pub staff: Vec<DemoStaff>,
    pub accounts: Vec<DemoAccount>,
}

impl DemoTown {
    /// The areas of one kind, in creation order.
    pub fn areas_of_kind(&self, kind: AreaKind) -> impl Iterator<Item = &DemoArea> {
        self.areas.iter().filter(move |a| a.kind == kind)
    }

    /// The staff of one team, in creation order.
    pub fn staff_of_team(&self, team: Team) -> impl Iterator<Item = &DemoStaff> {
        self.staff.iter().filter(move |s| s.team == team)
    }
}

fn code(s: &str) -> AreaCode {
    AreaCode::parse(s).expect("generated codes are valid")
}

/// Where the residents of one grid are in the residents vector.
struct GridSpan {
    code: AreaCode,
    unit: usize,
    residents: std::ops::Range<usize>,
}

/// Generates the demo town. Deterministic in `seed` and `today`; ages are as of `today`.
pub fn generate(seed: u64, today: NaiveDate) -> DemoTown {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let units = units::units();
    let county = code(COUNTY.0);
    let town = code(TOWN.0);

    let mut areas = vec![
        DemoArea { code: county.clone(), name: COUNTY.1.to_string(), kind: AreaKind::County, parent: None },
        DemoArea { code: town.clone(), name: TOWN.1.to_string(), kind: AreaKind::Town, parent: Some(county.clone()) },
    ];
    areas.extend(units.iter().map(|u| DemoArea {
        code: u.code.clone(),
        name: u.name.clone(),
        kind: u.kind,
        parent: Some(town.clone()),
    }));

    let mut households = Vec::new();
    let mut residents = Vec::new();
    let mut grids = Vec::with_capacity(GRID_COUNT);
    let mut balancer = family::AgeBalancer::default();
    let mut registry = people::Registry::default();

    for (unit_index, unit) in units.iter().enumerate() {
        let surnames = names::unit_surname_weights(&mut rng, unit.kind);
        let labels = names::grid_labels(&mut rng, unit.kind, unit.grids);
        // Grids differ in size by up to ±20 %.
        let weights: Vec<u64> = (0..unit.grids).map(|_| u64::from(dice::range(&mut rng, 80, 120))).collect();
        let targets = units::largest_remainder(&weights, unit.population as usize);
        // Villages write the village and hamlet, the town centre just the street.
        let place = match unit.kind {
            AreaKind::Community => String::new(),
            _ => unit.short_name.clone(),
        };

        for (g, (label, target)) in labels.iter().zip(targets).enumerate() {
            let grid_code = code(&format!("{}-G{:02}", unit.code, g + 1));
            areas.push(DemoArea {
                code: grid_code.clone(),
                name: format!("{}第{}网格", unit.short_name, g + 1),
                kind: AreaKind::Grid,
                parent: Some(unit.code.clone()),
            });
            let first = residents.len();
            let mut house = 0;
            while residents.len() - first < target {
                house += 1;
                let household = code(&format!("{grid_code}-H{house:04}"));
                let house_name = format!("{label}{house}号");
                let address = format!("广东省江门市恩平市圣堂镇{place}{house_name}");
                for member in balancer.household(&mut rng, &surnames) {
                    let birth_date = people::birth_date(&mut rng, member.age, today);
                    let id = registry.id_number(&mut rng, birth_date, member.sex);
                    let surname = names::SURNAMES[member.surname].0;
                    residents.push(DemoResident {
                        name: names::full_name(&mut rng, surname, member.sex, birth_date.year()),
                        document: Document::ResidentId(id),
                        sex: member.sex,
                        birth_date,
                        phone: registry.phone(&mut rng, member.age),
                        address: address.clone(),
                        household: household.clone(),
                        needs: people::special_needs(&mut rng, member.age, member.sex),
                    });
                }
                households.push(DemoArea {
                    code: household,
                    name: house_name,
                    kind: AreaKind::Household,
                    parent: Some(grid_code.clone()),
                });
            }
            grids.push(GridSpan { code: grid_code, unit: unit_index, residents: first..residents.len() });
        }
    }
    areas.extend(households);

    let staff = staff(&mut rng, today, &units, &grids, &residents, &town);
    let accounts = accounts(&county, &town, &staff, &residents);
    DemoTown { areas, residents, staff, accounts }
}

/// Draws `count` distinct residents from `candidates` (emptied as they are drawn).
fn draw(rng: &mut ChaCha8Rng, candidates: &mut Vec<usize>, count: usize) -> Vec<usize> {
    assert!(candidates.len() >= count, "not enough eligible residents for staff");
    (0..count).map(|_| candidates.swap_remove(dice::below(rng, candidates.len() as u32) as usize)).collect()
}

/// Cadres per unit in proportion to population, one grid worker living in each grid, and the
/// teacher volunteers from anywhere in the town. All aged 22–60, reachable by phone (roll-calls
/// go out by phone), able to walk, and nobody in two teams.
fn staff(
    rng: &mut ChaCha8Rng,
    today: NaiveDate,
    units: &[units::Unit],
    grids: &[GridSpan],
    residents: &[DemoResident],
    town: &AreaCode,
) -> Vec<DemoStaff> {
    let mut taken = vec![false; residents.len()];
    let fit: Vec<bool> = residents
        .iter()
        .map(|r| {
            (STAFF_AGES.0..=STAFF_AGES.1).contains(&age_on(r.birth_date, today))
                && r.phone.is_some()
                && !r.needs.needs_home_visit()
        })
        .collect();
    let eligible = |i: usize, taken: &[bool]| fit[i] && !taken[i];

    // Grid workers first: they must come from their own grid, which is the tightest constraint.
    let mut grid_workers = Vec::with_capacity(grids.len());
    for grid in grids {
        let mut candidates: Vec<usize> = grid.residents.clone().filter(|&i| eligible(i, &taken)).collect();
        let chosen = draw(rng, &mut candidates, 1)[0];
        taken[chosen] = true;
        grid_workers.push(DemoStaff {
            resident_index: chosen,
            team: Team::GridWorker,
            area: grid.code.clone(),
            email: None,
        });
    }

    let weights: Vec<u64> = units.iter().map(|u| u64::from(u.population)).collect();
    let mut cadres = Vec::with_capacity(CADRE_COUNT);
    for (unit_index, count) in units::largest_remainder(&weights, CADRE_COUNT).into_iter().enumerate() {
        let mut candidates: Vec<usize> = grids
            .iter()
            .filter(|g| g.unit == unit_index)
            .flat_map(|g| g.residents.clone())
            .filter(|&i| eligible(i, &taken))
            .collect();
        for (k, chosen) in draw(rng, &mut candidates, count).into_iter().enumerate() {
            taken[chosen] = true;
            let email = (k == 0).then(|| {
                Email::parse(&format!("cadre{:02}@shengtang.example.org", unit_index + 1)).expect("a valid address")
            });
            cadres.push(DemoStaff {
                resident_index: chosen,
                team: Team::Cadre,
                area: units[unit_index].code.clone(),
                email,
            });
        }
    }

    let mut candidates: Vec<usize> = (0..residents.len()).filter(|&i| eligible(i, &taken)).collect();
    let volunteers = draw(rng, &mut candidates, VOLUNTEER_COUNT).into_iter().map(|i| DemoStaff {
        resident_index: i,
        team: Team::Volunteer,
        area: town.clone(),
        email: None,
    });

    cadres.into_iter().chain(grid_workers).chain(volunteers).collect()
}

/// The code of the grid whose grid worker holds the `gridworker` demo account: the first grid of
/// 湴朗村.
pub fn demo_grid_code() -> AreaCode {
    code("440785101210-G01")
}

/// One account per role.
fn accounts(county: &AreaCode, town: &AreaCode, staff: &[DemoStaff], residents: &[DemoResident]) -> Vec<DemoAccount> {
    let grid = demo_grid_code();
    let grid_worker = staff
        .iter()
        .find(|s| s.team == Team::GridWorker && s.area == grid)
        .map(|s| residents[s.resident_index].name.clone())
        .expect("the demo grid has a grid worker");
    let account = |username: &str, display_name: &str, role: Role, scope: &AreaCode| DemoAccount {
        username: username.to_string(),
        display_name: display_name.to_string(),
        role_name: role.as_str(),
        scope: scope.clone(),
    };
    vec![
        account("admin", "系统管理员", Role::Admin, county),
        account("commander", "镇总指挥部指挥长", Role::Commander, town),
        account("working_group", "应急处置工作组", Role::WorkingGroup, town),
        account("gridworker", &grid_worker, Role::GridWorker, &grid),
        account("sampler", "核酸采样员", Role::Sampler, town),
        account("checkpoint", "高速路口防疫卡口", Role::Checkpoint, town),
        account("lab", "核酸检测实验室", Role::Lab, town),
        account("dispatcher", "转运调度员", Role::TransferDispatcher, town),
        account("auditor", "审计员", Role::Auditor, county),
    ]
}
