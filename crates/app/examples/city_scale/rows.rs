//! Every bulk row of the city, generated from the plan and the ids the product's own calls gave
//! (areas, round, sites, accounts), and handed to an engine's [`Sink`]. The counters the product
//! keeps in its write path are added up here from the same rows, the way its write path would.

use crate::plan::{GRIDS_PER_UNIT, PER_TOWN, POOL, Plan, SAMPLED_PER_UNIT, UNITS_PER_TOWN, mix};
use bulwark_domain::{Millis, people::IdNumber};
use chrono::Datelike;
use std::collections::HashMap;

pub type Res<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// 07:00 on 6 October 2022 (UTC+8): the round opens.
pub const T0: Millis = 1_665_010_800_000;
/// The registers were imported the day before.
pub const T_IMPORT: Millis = T0 - 20 * 3_600_000;
/// Each site's queue: 2,500 people over twelve hours.
const INTERVAL: Millis = 12 * 3_600_000 / SAMPLED_PER_UNIT as Millis;
/// Counter shards on PostgreSQL (a registration batch of the product writes one shard).
const SHARDS: usize = 16;
const KNOCK_OUTCOMES: [&str; 5] = ["will_go", "away_from_town", "sampled_elsewhere", "refuses", "cannot_walk"];

const SURNAMES: [&str; 40] = [
    "王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱", "胡", "郭", "何", "高", "林",
    "罗", "郑", "梁", "谢", "宋", "唐", "许", "韩", "冯", "邓", "曹", "彭", "曾", "肖", "田", "董", "袁", "潘", "蒋",
    "蔡", "余",
];
const GIVEN: [&str; 40] = [
    "伟", "芳", "娜", "秀", "英", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明", "超",
    "兰", "霞", "平", "刚", "桂", "华", "建", "国", "文", "辉", "玲", "红", "梅", "志", "鹏", "宇", "浩", "然", "轩",
    "涵", "欣",
];

/// What the product's own calls created, by plan index.
pub struct Ids {
    pub city: (i64, String),
    /// (id, path) of each town, unit and grid.
    pub towns: Vec<(i64, String)>,
    pub units: Vec<(i64, String)>,
    pub grids: Vec<(i64, String)>,
    pub round: i64,
    /// Per unit: its site and lanes (two normal lanes, then the green channel).
    pub sites: Vec<(i64, [i64; 3])>,
    pub commander: (i64, String),
    pub sampler: (i64, String),
}

pub struct PersonRow<'a> {
    pub id: i64,
    pub name: String,
    pub doc_number: String,
    pub sex: &'static str,
    pub birth_date: String,
    pub phone: Option<String>,
    pub address: String,
    pub grid: i64,
    pub path: &'a str,
    pub cannot_walk: bool,
    pub bedridden: bool,
    pub created_at: Millis,
}
pub struct AuditRow<'a> {
    pub at: Millis,
    pub account: i64,
    pub username: &'a str,
    pub role: &'static str,
    pub operation: &'static str,
    pub person: i64,
    pub detail: Option<&'static str>,
    pub request_id: String,
}
pub struct TubeRow {
    pub id: i64,
    pub code: String,
    pub round: i64,
    pub site: i64,
    pub lane: i64,
    pub opened_at: Millis,
    pub sealed_at: Millis,
}
pub struct RegRow {
    pub id: i64,
    pub key: String,
    pub body_hash: i64,
    pub round: i64,
    pub site: i64,
    pub lane: i64,
    pub tube: i64,
    pub person: i64,
    pub at: Millis,
    pub account: i64,
    pub tube_state: &'static str,
    pub members: i64,
}
pub struct KnockRow {
    pub id: i64,
    pub round: i64,
    pub person: i64,
    pub outcome: &'static str,
    pub at: Millis,
    pub account: i64,
}

/// Where the rows go. `sharded`: whether the engine spreads its counters over shards.
pub trait Sink {
    fn sharded(&self) -> bool;
    fn person(&mut self, r: &PersonRow) -> Res<()>;
    fn audit(&mut self, r: &AuditRow) -> Res<()>;
    fn tube(&mut self, r: &TubeRow) -> Res<()>;
    fn registration(&mut self, r: &RegRow) -> Res<()>;
    /// (round, site, lane, minute, shard, n)
    fn minute(&mut self, m: (i64, i64, i64, i64, i16, i64)) -> Res<()>;
    fn knock(&mut self, r: &KnockRow) -> Res<()>;
    /// (round, area, shard, sampled, excluded)
    fn count(&mut self, c: (i64, i64, i16, i64, i64)) -> Res<()>;
    fn residents(&mut self, area: i64, n: i64) -> Res<()>;
    /// The end of a phase: what was sent is stored once this returns.
    fn flush(&mut self, phase: &str) -> Res<()>;
}

fn uuid_v7(at: Millis, salt: u64) -> String {
    let r = mix(salt).to_le_bytes();
    let s = mix(salt ^ 0xffff).to_le_bytes();
    let bytes = [r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], s[0], s[1]];
    uuid::Builder::from_unix_timestamp_millis(at as u64, &bytes).into_uuid().to_string()
}

/// Generates every bulk row into `sink`; `phase` is told when each phase is stored.
pub fn generate(plan: Plan, ids: &Ids, sink: &mut dyn Sink, phase: &mut dyn FnMut(&str)) -> Res<()> {
    let offsets = plan.grid_offsets();
    let person_ids = people(plan, ids, &offsets, sink)?;
    sink.flush("people")?;
    phase("people");
    let mut counts: HashMap<(i64, i16), (i64, i64)> = HashMap::new();
    testing(plan, ids, &offsets, &person_ids, sink, &mut counts)?;
    sink.flush("testing")?;
    phase("testing");
    knocks(plan, ids, &offsets, &person_ids, sink, &mut counts)?;
    sink.flush("knocks")?;
    phase("knocks");
    for ((area, shard), (sampled, excluded)) in counts {
        sink.count((ids.round, area, shard, sampled, excluded))?;
    }
    for (g, (id, _)) in ids.grids.iter().enumerate() {
        sink.residents(*id, Plan::grid_residents(g) as i64)?;
    }
    for (u, (id, _)) in ids.units.iter().enumerate() {
        let n: usize = (u * GRIDS_PER_UNIT..(u + 1) * GRIDS_PER_UNIT).map(Plan::grid_residents).sum();
        sink.residents(*id, n as i64)?;
    }
    for (id, _) in &ids.towns {
        sink.residents(*id, PER_TOWN as i64)?;
    }
    sink.residents(ids.city.0, plan.residents() as i64)?;
    sink.flush("counters")?;
    phase("counters");
    Ok(())
}

/// The register, town by town, each imported in one request (rows in `plan.order`); returns
/// person ids by slot.
fn people(plan: Plan, ids: &Ids, offsets: &[usize], sink: &mut dyn Sink) -> Res<Vec<u32>> {
    let mut by_slot = vec![0u32; plan.residents()];
    let first_day = chrono::NaiveDate::from_ymd_opt(1932, 1, 1).expect("a date");
    for town in 0..plan.towns {
        let created_at = T_IMPORT + town as Millis * 1_000;
        let request_id = uuid_v7(created_at, town as u64);
        let town_name = Plan::town_name(town);
        let district_code = Plan::district_code(town);
        let district_first = (Plan::district_start(town) * PER_TOWN) as i64;
        let unit_names: Vec<String> = (0..UNITS_PER_TOWN).map(|u| Plan::unit_name(town * UNITS_PER_TOWN + u)).collect();
        for (slot, (g, k)) in plan.town_order(town).into_iter().enumerate() {
            let (g, k) = (g as usize, usize::from(k));
            let id = Plan::person_id(town, slot);
            by_slot[offsets[g] + k] = id as u32;
            // ID numbers: every (birth day, sex) of 90 years in turn, then the next sequence
            // number, so 1.04 M people of a district never share one.
            let n = id - 1 - district_first;
            let bucket = n % 65_700;
            let male = bucket % 2 == 0;
            let birth = first_day + chrono::Days::new((bucket / 2) as u64);
            let seq = 2 * (n / 65_700) + if male { 1 } else { 2 };
            let doc = IdNumber::from_body(&format!("{district_code}{}{seq:03}", birth.format("%Y%m%d")));
            let h = mix(id as u64);
            let given = (h >> 16) as usize;
            let name = if (h >> 8).is_multiple_of(8) {
                format!("{}{}", SURNAMES[h as usize % 40], GIVEN[given % 40])
            } else {
                format!("{}{}{}", SURNAMES[h as usize % 40], GIVEN[given % 40], GIVEN[(given / 40) % 40])
            };
            let unit = g / GRIDS_PER_UNIT;
            let row = PersonRow {
                id,
                name,
                doc_number: doc.as_str().to_string(),
                sex: if male { "male" } else { "female" },
                birth_date: birth.format("%Y-%m-%d").to_string(),
                // Children under twelve have no phone of their own.
                phone: (birth.year() < 2010).then(|| format!("13{id:09}")),
                address: format!("{town_name}{}{}{}号", unit_names[unit % UNITS_PER_TOWN], Plan::grid_name(g), k + 1),
                grid: ids.grids[g].0,
                path: &ids.grids[g].1,
                cannot_walk: (h >> 32).is_multiple_of(200),
                bedridden: (h >> 40).is_multiple_of(500),
                created_at,
            };
            sink.person(&row)?;
            sink.audit(&AuditRow {
                at: created_at,
                account: ids.commander.0,
                username: &ids.commander.1,
                role: "commander",
                operation: "residents_import",
                person: id,
                detail: None,
                request_id: request_id.clone(),
            })?;
        }
    }
    Ok(by_slot)
}

/// The areas whose counters a person of grid `g` moves: the whole round (0) and the path.
fn counted(ids: &Ids, g: usize) -> [i64; 5] {
    let unit = g / GRIDS_PER_UNIT;
    [0, ids.city.0, ids.towns[unit / UNITS_PER_TOWN].0, ids.units[unit].0, ids.grids[g].0]
}

/// The round: each unit's site takes its 2,500 people in a shuffled order over twelve hours, ten
/// to a tube; the registrations of all sites interleave in time as they would arrive.
fn testing(
    plan: Plan,
    ids: &Ids,
    offsets: &[usize],
    by_slot: &[u32],
    sink: &mut dyn Sink,
    counts: &mut HashMap<(i64, i16), (i64, i64)>,
) -> Res<()> {
    let units = plan.units();
    let arrivals: Vec<Vec<(u32, u32)>> = (0..units)
        .map(|u| {
            let mut queue: Vec<(u32, u32)> = (u * GRIDS_PER_UNIT..(u + 1) * GRIDS_PER_UNIT)
                .flat_map(|g| (0..Plan::grid_sampled(g)).map(move |k| (by_slot[offsets[g] + k], g as u32)))
                .collect();
            queue.sort_by_key(|&(id, _)| mix(0xa77 ^ u64::from(id)));
            queue
        })
        .collect();
    let at = |u: usize, j: usize| T0 + j as Millis * INTERVAL + u as Millis * 4;
    let sharded = sink.sharded();
    let mut minute_of = i64::MIN;
    let mut minutes: HashMap<(i64, i64, i16), i64> = HashMap::new();
    for j in 0..SAMPLED_PER_UNIT {
        for (u, queue) in arrivals.iter().enumerate() {
            let n = j * units + u;
            let (site, lanes) = ids.sites[u];
            let tube_no = j / POOL;
            let tube = (tube_no * units + u + 1) as i64;
            let lane = if tube_no % 20 == 19 { lanes[2] } else { lanes[tube_no % 2] };
            let now = at(u, j);
            if j % POOL == 0 {
                let code = format!("SF{u:04}{tube_no:03}");
                let sealed_at = at(u, j + POOL - 1);
                sink.tube(&TubeRow { id: tube, code, round: ids.round, site, lane, opened_at: now, sealed_at })?;
            }
            let members = (j % POOL + 1) as i64;
            let (person, g) = queue[j];
            sink.registration(&RegRow {
                id: n as i64 + 1,
                key: uuid_v7(now, n as u64),
                body_hash: mix(0xb0d1 ^ n as u64) as i64,
                round: ids.round,
                site,
                lane,
                tube,
                person: i64::from(person),
                at: now,
                account: ids.sampler.0,
                tube_state: if members == POOL as i64 { "sealed" } else { "open" },
                members,
            })?;
            // The scan's answer names the person: an audited read.
            sink.audit(&AuditRow {
                at: now,
                account: ids.sampler.0,
                username: &ids.sampler.1,
                role: "sampler",
                operation: "registrations_create",
                person: i64::from(person),
                detail: None,
                request_id: uuid_v7(now, 0x5eed_0000_0000 ^ n as u64),
            })?;
            let shard = if sharded { ((n / 500) % SHARDS) as i16 } else { 0 };
            for area in counted(ids, g as usize) {
                counts.entry((area, shard)).or_default().0 += 1;
            }
            let minute = now.div_euclid(60_000);
            if minute != minute_of {
                for ((site, lane, shard), n) in minutes.drain() {
                    sink.minute((ids.round, site, lane, minute_of, shard, n))?;
                }
                minute_of = minute;
            }
            *minutes.entry((site, lane, shard)).or_default() += 1;
        }
    }
    for ((site, lane, shard), n) in minutes.drain() {
        sink.minute((ids.round, site, lane, minute_of, shard, n))?;
    }
    Ok(())
}

/// Door-knocks at one in twenty of the people not sampled; "away" and "sampled elsewhere" leave
/// the target population (the excluded counters).
fn knocks(
    plan: Plan,
    ids: &Ids,
    offsets: &[usize],
    by_slot: &[u32],
    sink: &mut dyn Sink,
    counts: &mut HashMap<(i64, i16), (i64, i64)>,
) -> Res<()> {
    let mut n = 0i64;
    for g in 0..plan.grids() {
        for k in Plan::grid_sampled(g)..Plan::grid_residents(g) {
            let h = mix(0x6b0c ^ (offsets[g] + k) as u64);
            if !h.is_multiple_of(20) {
                continue;
            }
            n += 1;
            let outcome = KNOCK_OUTCOMES[((h >> 8) % 5) as usize];
            let person = i64::from(by_slot[offsets[g] + k]);
            let at = T0 + 10 * 3_600_000 + n * 10;
            let account = ids.commander.0;
            sink.knock(&KnockRow { id: n, round: ids.round, person, outcome, at, account })?;
            sink.audit(&AuditRow {
                at,
                account,
                username: &ids.commander.1,
                role: "commander",
                operation: "door_knock_record",
                person,
                detail: Some(outcome),
                request_id: uuid_v7(at, 0x6b0c_0000_0000 ^ n as u64),
            })?;
            if matches!(outcome, "away_from_town" | "sampled_elsewhere") {
                let shard = if sink.sharded() { (n % SHARDS as i64) as i16 } else { 0 };
                for area in counted(ids, g) {
                    counts.entry((area, shard)).or_default().1 += 1;
                }
            }
        }
    }
    Ok(())
}
