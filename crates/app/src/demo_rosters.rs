//! The demo's posts and rosters, from the source story (定人定岗定责): a post at each village's
//! sampling site (swab, registration, temperature, queue order) with two shifts a day, a teacher
//! volunteer on temperature and registration and cadres of the village on queue order; and the
//! volunteer post at the highway exit, staffed 24 hours in three 8-hour shifts by cadres. Shifts
//! on 6 and 7 October 2022 (UTC+8), with check-ins and check-outs, and a few no-shows.

use crate::{AppError, AppResult, rosters::local_offset};
use bulwark_demo::DemoTown;
use bulwark_domain::{
    Millis,
    access::{Scope, UserId},
    areas::{Area, AreaCode},
    people::PersonId,
    workforce::{Duty, NewAssignment, NewPost, PostKind, RosterRules, ShiftPattern, ShiftTimes, Team},
};
use bulwark_store::{Store, rosters::Assigned};
use futures_util::future::join_all;
use std::collections::{HashMap, HashSet};

const MINUTE: Millis = 60_000;
const HOUR: Millis = 60 * MINUTE;

/// The highway exit's post (开阳高速圣堂出口).
pub const CHECKPOINT_POST: &str = "开阳高速圣堂出口防疫卡口";

/// What the demo rostered.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct DemoRosters {
    pub posts: usize,
    pub shifts: usize,
    pub assignments: usize,
    pub check_ins: usize,
}

/// Loads the posts and rosters (once: nothing happens when the town has posts already).
pub async fn load(
    store: &dyn Store,
    town: &DemoTown,
    areas: &HashMap<AreaCode, Area>,
    person_ids: &[PersonId],
    by: UserId,
) -> AppResult<DemoRosters> {
    let town_code = AreaCode::parse(bulwark_demo::TOWN.0).map_err(|e| AppError::Internal(e.to_string()))?;
    let town_area = areas.get(&town_code).ok_or_else(|| AppError::Internal("no demo town".into()))?;
    let scope = Scope::of(town_area);
    if !store.posts(&scope).await?.is_empty() || person_ids.is_empty() {
        return Ok(DemoRosters::default());
    }
    let at = crate::demo_testing::ROUND_START - 2 * HOUR;
    let mut out = DemoRosters::default();
    let days = [bulwark_demo::outbreak_day(), bulwark_demo::outbreak_day() + chrono::Days::new(1)];

    // Cadres by the village they serve, volunteers of the town.
    let id_of = |code: &AreaCode| areas.get(code).map(|a| a.id);
    let mut cadres: HashMap<i64, Vec<PersonId>> = HashMap::new();
    for s in town.staff_of_team(Team::Cadre) {
        if let Some(area) = id_of(&s.area) {
            cadres.entry(area).or_default().push(person_ids[s.resident_index]);
        }
    }
    let volunteers: Vec<PersonId> = town.staff_of_team(Team::Volunteer).map(|s| person_ids[s.resident_index]).collect();

    // (post, its shifts of both days, who serves, responsibility)
    let mut plan: Vec<(ShiftTimes, i64, PersonId, &'static str)> = Vec::new();
    let mut busy: HashMap<usize, HashSet<PersonId>> = HashMap::new();
    let mut sites = store.sites(&scope).await?;
    sites.sort_by_key(|s| s.id);
    let mut volunteer_turn = 0;
    for site in &sites {
        let post = NewPost::new(
            &format!("{} 工作岗", site.name),
            PostKind::SamplingSite,
            vec![Duty::Swab, Duty::Registration, Duty::Temperature, Duty::QueueOrder],
            site.area,
            Some(site.id),
            3,
        )
        .map_err(|e| AppError::Internal(e.to_string()))?;
        let post = store.create_post(post, at).await?;
        out.posts += 1;
        let mut times = Vec::new();
        for day in days {
            let start = day.and_hms_opt(7, 0, 0).and_then(|t| t.and_local_timezone(local_offset()).single());
            let start = start.map(|t| t.timestamp_millis()).ok_or_else(|| AppError::Internal("demo day".into()))?;
            times.push(ShiftTimes::new(start, start + 8 * HOUR).map_err(|e| AppError::Internal(e.to_string()))?);
            times.push(
                ShiftTimes::new(start + 8 * HOUR, start + 15 * HOUR).map_err(|e| AppError::Internal(e.to_string()))?,
            );
        }
        let shifts = store.create_shifts(post.id, times).await?;
        out.shifts += shifts.len();
        let village_cadres = cadres.get(&site.area).cloned().unwrap_or_default();
        for (n, shift) in shifts.iter().enumerate() {
            let day = n / 2;
            let used = busy.entry(day).or_default();
            // One teacher volunteer on temperature and registration, while there are volunteers
            // free that day (the town has 37 for all its sites: late shifts may go short).
            if let Some(v) = (0..volunteers.len())
                .map(|k| volunteers[(volunteer_turn + k) % volunteers.len()])
                .find(|v| !used.contains(v))
            {
                used.insert(v);
                volunteer_turn += 1;
                plan.push((shift.times(), shift.id, v, "测温、登记（教师志愿者）"));
            }
            // Two cadres of the village on queue order.
            for c in village_cadres.iter().filter(|c| !used.contains(c)).take(2).copied().collect::<Vec<_>>() {
                used.insert(c);
                plan.push((shift.times(), shift.id, c, "排队秩序、绿色通道引导（党员干部）"));
            }
        }
    }

    // The highway exit, staffed 24 hours: three 8-hour shifts a day, two cadres each.
    let post = NewPost::new(
        CHECKPOINT_POST,
        PostKind::Checkpoint,
        vec![Duty::Guard, Duty::Temperature],
        town_area.id,
        None,
        2,
    )
    .map_err(|e| AppError::Internal(e.to_string()))?;
    let post = store.create_post(post, at).await?;
    out.posts += 1;
    let mut times = Vec::new();
    for day in days {
        times.extend(
            ShiftPattern::ThreeByEight.day(day, 0, local_offset()).map_err(|e| AppError::Internal(e.to_string()))?,
        );
    }
    let shifts = store.create_shifts(post.id, times).await?;
    out.shifts += shifts.len();
    let mut all_cadres: Vec<PersonId> = cadres.values().flatten().copied().collect();
    all_cadres.sort_unstable();
    for (n, shift) in shifts.iter().enumerate() {
        let used = busy.entry(n / 3).or_default();
        let pair: Vec<PersonId> = all_cadres.iter().rev().filter(|c| !used.contains(c)).take(2).copied().collect();
        for (k, c) in pair.into_iter().enumerate() {
            used.insert(c);
            let what = if k == 0 { "查验健康码和行程卡" } else { "测温、免费核酸检测引导" };
            plan.push((shift.times(), shift.id, c, what));
        }
    }

    // Assign, then check in 10 minutes before the start and out 5 minutes after the end; every
    // seventh person does not come (a no-show on the roster). The plan has no clash, so each step
    // goes to storage all at once, and the engines fold the calls into few transactions.
    let rules = RosterRules::DEFAULT;
    let assigned = join_all(plan.iter().map(|(_, shift, person, what)| async move {
        let new = NewAssignment::new(*shift, *person, what, at, by).map_err(|e| AppError::Internal(e.to_string()))?;
        match store.assign(new).await? {
            Assigned::Stored(a) => Ok(a.id),
            Assigned::Clash(c) => Err(AppError::Internal(format!("demo roster clash: {c:?}"))),
        }
    }))
    .await
    .into_iter()
    .collect::<AppResult<Vec<_>>>()?;
    out.assignments = assigned.len();
    let came: Vec<(i64, ShiftTimes)> =
        assigned.iter().zip(&plan).enumerate().filter(|(i, _)| i % 7 != 6).map(|(_, (id, p))| (*id, p.0)).collect();
    for result in join_all(came.iter().map(|(id, t)| store.check_in(*id, t.starts - 10 * MINUTE, rules))).await {
        result?;
    }
    for result in join_all(came.iter().map(|(id, t)| store.check_out(*id, t.ends + 5 * MINUTE))).await {
        result?;
    }
    out.check_ins = came.len();
    Ok(out)
}
