//! The city's shape: how many of each area, their codes and names, and how many residents and
//! sampled people each grid has. Everything is a pure function of indexes, so a rebuild, the
//! checks and the measurements agree on the same city without storing the plan anywhere.
//!
//! The domain's tree is county → town → village/community → grid → household. A real city has one
//! level more (city → district → street/town → community/village → grid), and a bulwark account
//! has one scope area, so the city is the root (kind `county`: the domain's top level) and its
//! 250 streets and towns are its children; the 20 districts live on in the codes (digits 5–6) and
//! in the towns' names. People live in grids (a household is optional in the register).

use bulwark_domain::areas::AreaKind;

pub const CITY_CODE: &str = "449000000000";
pub const CITY_NAME: &str = "示范市";
/// Streets/towns of the full city, 12–13 per district.
pub const FULL_TOWNS: usize = 250;
pub const UNITS_PER_TOWN: usize = 16;
pub const GRIDS_PER_UNIT: usize = 10;
pub const PER_TOWN: usize = 80_000;
/// People sampled per community/village (its site's queue): 250 tubes of ten.
pub const SAMPLED_PER_UNIT: usize = 2_500;
pub const POOL: usize = 10;

const DISTRICTS: [&str; 20] = [
    "东城区",
    "西城区",
    "南湖区",
    "北塘区",
    "江岸区",
    "新城区",
    "高新区",
    "滨江区",
    "锦华区",
    "青松区",
    "龙泉区",
    "金沙区",
    "双河县",
    "白鹭县",
    "云溪县",
    "桃源县",
    "石门县",
    "清水县",
    "凤岭县",
    "梅林县",
];
/// Districts before this one are urban: streets (街道) of communities; the rest are counties of
/// towns (镇) with two communities and fourteen villages each.
const URBAN_DISTRICTS: usize = 12;
const STREETS: [&str; 20] = [
    "新华", "建设", "人民", "中山", "兴华", "文明", "幸福", "和平", "安居", "富民", "朝阳", "民安", "惠民", "振兴",
    "康乐", "育才", "锦江", "长青", "光明", "解放",
];
const PLACES: [&str; 20] = [
    "龙塘", "石岗", "沙湖", "莲塘", "松岭", "竹溪", "大田", "横陂", "牛江", "君堂", "东成", "良西", "那吉", "大槐",
    "圣堂", "恩城", "金山", "银湖", "青石", "白沙",
];

/// The splitmix64 finaliser: a well-mixed hash of an index.
pub fn mix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The order in which a town's register was imported, which decides how far apart the ids of one
/// grid's residents are (and so how many pages a grid's list touches).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    /// Each community's register, grid by grid: a grid's people have consecutive ids.
    Grid,
    /// Each community's register sorted by ID number: a grid's people spread over the ~5,000 ids
    /// of their community.
    Community,
    /// The whole town's register sorted by ID number: spread over the town's 80,000 ids.
    Town,
}

impl Order {
    pub fn parse(s: &str) -> Option<Order> {
        [Order::Grid, Order::Community, Order::Town].into_iter().find(|o| o.as_str() == s)
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Order::Grid => "grid",
            Order::Community => "community",
            Order::Town => "town",
        }
    }
}

/// A city of `towns` streets/towns (250 for the full city; fewer for a quick trial).
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    pub towns: usize,
    pub order: Order,
}

impl Plan {
    pub fn units(&self) -> usize {
        self.towns * UNITS_PER_TOWN
    }
    pub fn grids(&self) -> usize {
        self.units() * GRIDS_PER_UNIT
    }
    pub fn residents(&self) -> usize {
        self.towns * PER_TOWN
    }
    pub fn registrations(&self) -> usize {
        self.units() * SAMPLED_PER_UNIT
    }
    pub fn tubes(&self) -> usize {
        self.registrations() / POOL
    }

    pub fn district_of(town: usize) -> usize {
        town * DISTRICTS.len() / FULL_TOWNS
    }
    /// The first town of `town`'s district.
    pub fn district_start(town: usize) -> usize {
        let d = Self::district_of(town);
        (0..=town).find(|&t| Self::district_of(t) == d).unwrap_or(town)
    }
    fn urban(town: usize) -> bool {
        Self::district_of(town) < URBAN_DISTRICTS
    }
    /// The district's 6-digit code: the address code of its residents' ID numbers.
    pub fn district_code(town: usize) -> String {
        format!("4490{:02}", Self::district_of(town) + 1)
    }

    pub fn town_code(town: usize) -> String {
        let n = town - Self::district_start(town);
        // NBS: streets 001–099, towns 100–199.
        let n = if Self::urban(town) { n + 1 } else { n + 100 };
        format!("{}{n:03}", Self::district_code(town))
    }
    pub fn town_name(town: usize) -> String {
        let n = town - Self::district_start(town);
        let d = DISTRICTS[Self::district_of(town)];
        if Self::urban(town) { format!("{d}{}街道", STREETS[n % 20]) } else { format!("{d}{}镇", PLACES[n % 20]) }
    }

    /// Unit `u` (0..16) of a town: a community, or a village in a rural town after its first two.
    pub fn unit_kind(unit: usize) -> AreaKind {
        let (town, u) = (unit / UNITS_PER_TOWN, unit % UNITS_PER_TOWN);
        if Self::urban(town) || u < 2 { AreaKind::Community } else { AreaKind::Village }
    }
    pub fn unit_code(unit: usize) -> String {
        let (town, u) = (unit / UNITS_PER_TOWN, unit % UNITS_PER_TOWN);
        // NBS: residents' committees 001–199, villagers' committees 200–399.
        let n = if Self::unit_kind(unit) == AreaKind::Community { u + 1 } else { u + 200 };
        format!("{}{n:03}", Self::town_code(town))
    }
    pub fn unit_name(unit: usize) -> String {
        let u = unit % UNITS_PER_TOWN;
        match Self::unit_kind(unit) {
            AreaKind::Community => format!("{}社区", STREETS[(u + unit / UNITS_PER_TOWN) % 20]),
            _ => format!("{}村", PLACES[(u * 7 + unit / UNITS_PER_TOWN) % 20]),
        }
    }

    pub fn grid_code(grid: usize) -> String {
        format!("{}-G{:02}", Self::unit_code(grid / GRIDS_PER_UNIT), grid % GRIDS_PER_UNIT + 1)
    }
    pub fn grid_name(grid: usize) -> String {
        format!("第{}网格", grid % GRIDS_PER_UNIT + 1)
    }

    /// Residents of a grid: 400–600, paired so that every two neighbouring grids hold 1,000.
    pub fn grid_residents(grid: usize) -> usize {
        let d = (mix(0x5e51_0000 ^ (grid / 2) as u64) % 101) as usize;
        if grid.is_multiple_of(2) { 500 + d } else { 500 - d }
    }
    /// People of a grid sampled in the round: 150–350, paired to 500 (a unit: 2,500).
    pub fn grid_sampled(grid: usize) -> usize {
        let e = (mix(0x5a3b_0000 ^ (grid / 2) as u64) % 101) as usize;
        if grid.is_multiple_of(2) { 250 + e } else { 250 - e }
    }

    /// Where each grid's residents start in a slot numbering of all residents, grid by grid.
    pub fn grid_offsets(&self) -> Vec<usize> {
        let mut offsets = Vec::with_capacity(self.grids() + 1);
        let mut at = 0;
        for g in 0..self.grids() {
            offsets.push(at);
            at += Self::grid_residents(g);
        }
        offsets.push(at);
        offsets
    }

    /// A town's residents as (grid, slot in grid) in the order they were imported (see [`Order`]).
    pub fn town_order(&self, town: usize) -> Vec<(u32, u16)> {
        let first = town * UNITS_PER_TOWN * GRIDS_PER_UNIT;
        let mut slots: Vec<(u32, u16)> = (first..first + UNITS_PER_TOWN * GRIDS_PER_UNIT)
            .flat_map(|g| (0..Self::grid_residents(g)).map(move |k| (g as u32, k as u16)))
            .collect();
        let shuffle = |&(g, k): &(u32, u16)| mix(0x70_0000_0000 ^ (u64::from(g) << 16 | u64::from(k)));
        match self.order {
            Order::Grid => {}
            Order::Community => slots.sort_by_key(|s| (s.0 as usize / GRIDS_PER_UNIT, shuffle(s))),
            Order::Town => slots.sort_by_key(shuffle),
        }
        slots
    }
    /// The id the person in `slot` of `town_order(town)` gets.
    pub fn person_id(town: usize, slot: usize) -> i64 {
        (town * PER_TOWN + slot + 1) as i64
    }
}
