//! The 12 real village-level units of 圣堂镇 (from the NBS statistical codes, see
//! `data/shengtang_villages.csv`), the synthetic population assumed for each, and how the
//! town's 235 grids are shared out among them.

use bulwark_domain::areas::{AreaCode, AreaKind};

/// The NBS village-level units of Shengtang town, copied verbatim from
/// `/shared/data/shengtang_villages.csv` (NBS 2022 and 2023 editions agree).
const VILLAGES_CSV: &str = include_str!("../data/shengtang_villages.csv");

/// Code and name of the county, Enping city.
pub const COUNTY: (&str, &str) = ("440785", "恩平市");
/// Code and name of the town.
pub const TOWN: (&str, &str) = ("440785101", "圣堂镇");
/// How many grids the town has (235 grid workers in the source story).
pub const GRID_COUNT: usize = 235;
/// The smallest number of grids a village-level unit gets.
pub const MIN_GRIDS_PER_UNIT: usize = 8;

/// Population assumed for each unit, by code. Shengtang's own census figures were not found
/// (domain-rules §1.3), so these are **synthetic** but plausible: the town-centre community is the
/// largest, villages hold 2,800 to 4,200 people, and the town totals about 45,000. Grid targets are
/// derived from them, and households are added to a grid until its target is reached, so the
/// generated town ends up a few hundred people above the sum (44,700).
const UNIT_POPULATION: [(&str, u32); 12] = [
    ("440785101001", 7_100),
    ("440785101200", 3_300),
    ("440785101201", 2_900),
    ("440785101202", 4_200),
    ("440785101203", 3_300),
    ("440785101204", 3_000),
    ("440785101205", 3_500),
    ("440785101206", 3_800),
    ("440785101207", 2_800),
    ("440785101208", 3_500),
    ("440785101209", 3_600),
    ("440785101210", 3_700),
];

/// One village or community, as listed in the CSV file, with its assumed population.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unit {
    pub code: AreaCode,
    /// The official name, e.g. `湴朗村民委员会`.
    pub name: String,
    pub kind: AreaKind,
    /// The name used in grid names and addresses, e.g. `湴朗村` or `圩镇社区`.
    pub short_name: String,
    pub population: u32,
    /// Number of grids, filled in by [`allocate_grids`].
    pub grids: usize,
}

/// Parses the bundled CSV file, in file order. Panics if the bundled file is malformed, which a
/// test guards against.
pub fn units() -> Vec<Unit> {
    let mut lines = VILLAGES_CSV.lines();
    assert_eq!(lines.next().map(str::trim), Some("code,name,kind"), "unexpected CSV header");
    let mut units: Vec<Unit> = lines
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|line| {
            let fields: Vec<&str> = line.split(',').collect();
            let [code, name, kind] = fields[..] else { panic!("bad village row {line:?}") };
            let kind = AreaKind::parse(kind).expect("kind is community or village");
            let population = UNIT_POPULATION
                .iter()
                .find(|(c, _)| *c == code)
                .map(|(_, p)| *p)
                .unwrap_or_else(|| panic!("no assumed population for {code}"));
            Unit {
                code: AreaCode::parse(code).expect("valid NBS code"),
                name: name.to_string(),
                kind,
                short_name: short_name(name),
                population,
                grids: 0,
            }
        })
        .collect();
    allocate_grids(&mut units, GRID_COUNT, MIN_GRIDS_PER_UNIT);
    units
}

/// `湴朗村民委员会` → `湴朗村`; `圩镇社区居民委员会` → `圩镇社区`.
fn short_name(name: &str) -> String {
    if let Some(stem) = name.strip_suffix("村民委员会") {
        format!("{stem}村")
    } else if let Some(stem) = name.strip_suffix("居民委员会") {
        stem.to_string()
    } else {
        name.to_string()
    }
}

/// Shares `total` grids among the units in proportion to population, then moves grids from the
/// largest units to any unit below `min`.
fn allocate_grids(units: &mut [Unit], total: usize, min: usize) {
    let weights: Vec<u64> = units.iter().map(|u| u64::from(u.population)).collect();
    for (unit, grids) in units.iter_mut().zip(largest_remainder(&weights, total)) {
        unit.grids = grids;
    }
    while let Some(small) = units.iter().position(|u| u.grids < min) {
        let largest = (0..units.len())
            .max_by(|&a, &b| units[a].grids.cmp(&units[b].grids).then(b.cmp(&a)))
            .expect("at least one unit");
        assert!(units[largest].grids > min, "too few grids for {} units", units.len());
        units[largest].grids -= 1;
        units[small].grids += 1;
    }
}

/// Splits `total` in proportion to `weights` (largest-remainder method; ties go to the earlier
/// entry). The parts always sum to `total`.
pub fn largest_remainder(weights: &[u64], total: usize) -> Vec<usize> {
    let sum: u64 = weights.iter().sum();
    assert!(sum > 0, "weights must not all be zero");
    let mut parts = Vec::with_capacity(weights.len());
    let mut remainders = Vec::with_capacity(weights.len());
    for (i, &w) in weights.iter().enumerate() {
        let exact = w * total as u64;
        parts.push((exact / sum) as usize);
        remainders.push((exact % sum, i));
    }
    let assigned: usize = parts.iter().sum();
    remainders.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    for &(_, i) in remainders.iter().take(total - assigned) {
        parts[i] += 1;
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_names() {
        assert_eq!(short_name("湴朗村民委员会"), "湴朗村");
        assert_eq!(short_name("圩镇社区居民委员会"), "圩镇社区");
    }

    #[test]
    fn allocation_respects_minimum_and_total() {
        let mut us = units();
        assert_eq!(us.iter().map(|u| u.grids).sum::<usize>(), GRID_COUNT);
        assert!(us.iter().all(|u| u.grids >= MIN_GRIDS_PER_UNIT));
        // A skewed population still gives every unit the minimum.
        for (i, u) in us.iter_mut().enumerate() {
            u.population = if i == 0 { 100_000 } else { 10 };
        }
        allocate_grids(&mut us, GRID_COUNT, MIN_GRIDS_PER_UNIT);
        assert_eq!(us.iter().map(|u| u.grids).sum::<usize>(), GRID_COUNT);
        assert!(us.iter().all(|u| u.grids >= MIN_GRIDS_PER_UNIT));
    }
}
