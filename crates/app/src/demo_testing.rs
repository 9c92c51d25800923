//! The demo's first round of mass testing, replayed from the source story: a round over the whole
//! town from 07:00 on 6 October, a sampling site in each village with two lanes and a green
//! channel, 28,369 people sampled by 15:00 on 8 October in pools of ten, the lab's results, one
//! abnormal pool in 湴朗村 whose members are held and being re-sampled at home, and door-knocks
//! in the demo grid.

use crate::{AppError, AppResult};
use bulwark_demo::DemoTown;
use bulwark_domain::{
    Millis,
    access::UserId,
    areas::{Area, AreaCode, AreaKind},
    people::{ELDERLY_AGE, PersonId, age_on},
    testing::{
        DoorKnock, DoorKnockOutcome, LabOutcome, LabResult, LaneKind, NewLane, NewRegistration, NewRound, NewSite,
        OpeningHours, PoolSize, TubeCode, TubeFormat,
    },
};
use bulwark_store::Store;
use std::collections::HashMap;

/// People sampled in the story's report ("截至10月8日15时，已采样28369人").
pub const SAMPLED: usize = 28_369;
/// 07:00 on 6 October 2022, China Standard Time.
pub const ROUND_START: Millis = 1_665_010_800_000;
const MINUTE: Millis = 60_000;
/// 07:00 to 15:00 on each of three days.
const SAMPLING_MINUTES: Millis = 8 * 60;

fn tube(n: usize) -> AppResult<TubeCode> {
    TubeCode::parse(&format!("EP22{n:08}"), &TubeFormat::default()).map_err(|e| AppError::Internal(e.to_string()))
}

/// When the `i`-th of `SAMPLED` people was sampled: spread over three mornings and afternoons.
fn sampled_at(i: usize) -> Millis {
    let day_share = SAMPLED.div_ceil(3);
    let day = (i / day_share) as Millis;
    let within = (i % day_share) as Millis * SAMPLING_MINUTES * MINUTE / day_share as Millis;
    ROUND_START + day * 24 * 60 * MINUTE + within
}

/// Loads the round (once: nothing happens when the town already has a round).
pub async fn load(
    store: &dyn Store,
    town: &DemoTown,
    areas: &HashMap<AreaCode, Area>,
    person_ids: &[PersonId],
    sampler: UserId,
    lab: UserId,
    grid_worker: UserId,
) -> AppResult<()> {
    if !store.rounds().await?.is_empty() || person_ids.is_empty() {
        return Ok(());
    }
    let town_area = &areas[&AreaCode::parse(bulwark_demo::TOWN.0).map_err(|e| AppError::Internal(e.to_string()))?];
    let round = store
        .create_round(
            NewRound {
                name: "10月6日起第一轮全员核酸检测".into(),
                areas: vec![town_area.id],
                pool_size: PoolSize::TEN,
                overrides: vec![],
                starts_at: ROUND_START,
                ends_at: None,
            },
            ROUND_START - 30 * MINUTE,
        )
        .await?;
    // A site in each village or community, with two lanes and a green channel.
    let mut sites: HashMap<AreaCode, (i64, i64, i64)> = HashMap::new();
    for unit in town.areas.iter().filter(|a| matches!(a.kind, AreaKind::Village | AreaKind::Community)) {
        let area = &areas[&unit.code];
        let short = unit.name.trim_end_matches("民委员会").trim_end_matches("委会").to_string();
        let site = store
            .create_site(
                NewSite {
                    name: format!("{short}采样点"),
                    area: area.id,
                    serves: vec![area.id],
                    hours: OpeningHours::parse("07:00-22:00").expect("hours"),
                    lanes: vec![
                        NewLane { name: "1号通道".into(), kind: LaneKind::Normal },
                        NewLane { name: "2号通道".into(), kind: LaneKind::Normal },
                        NewLane { name: "绿色通道".into(), kind: LaneKind::GreenChannel },
                    ],
                },
                ROUND_START - 20 * MINUTE,
            )
            .await?;
        sites.insert(unit.code.clone(), (site.id, site.lanes[0].id, site.lanes[2].id));
    }
    let village_of = |household: &AreaCode| -> AreaCode {
        let code = household.as_str();
        AreaCode::parse(code.split('-').next().unwrap_or(code)).expect("a village code")
    };
    let path_of: HashMap<i64, &str> = areas.values().map(|a| (a.id, a.path.as_str())).collect();
    // Sample the first people of every household in turn, village by village, ten to a tube;
    // the elderly and those who cannot walk far go through the green channel.
    let day = bulwark_demo::outbreak_day();
    let chosen: Vec<usize> = (0..town.residents.len()).filter(|i| i % 100 < 63).take(SAMPLED).collect();
    let mut by_site: HashMap<AreaCode, Vec<usize>> = HashMap::new();
    for &i in &chosen {
        by_site.entry(village_of(&town.residents[i].household)).or_default().push(i);
    }
    let mut villages: Vec<_> = by_site.into_iter().collect();
    villages.sort_by(|a, b| a.0.cmp(&b.0));
    let mut registrations = Vec::with_capacity(SAMPLED);
    let mut tube_no = 0;
    for (village, people) in &villages {
        let (site, lane, green) = sites[village];
        for chunk in people.chunks(10) {
            tube_no += 1;
            for &i in chunk {
                let r = &town.residents[i];
                let elderly = age_on(r.birth_date, day) >= ELDERLY_AGE || r.needs.needs_home_visit();
                let area_path = path_of[&areas[&r.household].id].to_string();
                registrations.push(NewRegistration {
                    key: uuid::Uuid::now_v7().to_string(),
                    body_hash: i as i64,
                    round: round.id,
                    site,
                    lane: Some(if elderly { green } else { lane }),
                    tube: tube(tube_no)?,
                    pool_size: PoolSize::TEN,
                    person: person_ids[i],
                    person_area_path: area_path,
                    flags: vec![],
                    at: 0,
                    device_time: None,
                    by: sampler,
                    home: false,
                    audit: None,
                });
            }
        }
    }
    // Times follow the order people queued in.
    for (n, reg) in registrations.iter_mut().enumerate() {
        reg.at = sampled_at(n);
        reg.device_time = Some(reg.at - 2_000);
    }
    for chunk in registrations.chunks(2_000) {
        for answer in store.register_many(chunk.to_vec()).await? {
            answer?;
        }
    }
    // Results for the tubes of the first two days; one pool in the first village is abnormal.
    let tubes_done = registrations.iter().filter(|r| r.at < ROUND_START + 24 * 60 * MINUTE).count() / 10;
    let abnormal_tube = 37;
    let results: Vec<LabResult> = (1..=tubes_done)
        .map(|n| {
            let abnormal = n == abnormal_tube;
            Ok(LabResult {
                tube: tube(n)?,
                outcome: if abnormal { LabOutcome::Abnormal } else { LabOutcome::Negative },
                ct_orf1ab: abnormal.then_some(34.2),
                ct_n: abnormal.then_some(35.1),
                sampled_at: None,
                tested_at: None,
                reported_at: Some(ROUND_START + 30 * 60 * MINUTE),
                lab: Some("恩平市人民医院检验科".into()),
            })
        })
        .collect::<AppResult<_>>()?;
    store.record_results(results, lab, ROUND_START + 30 * 60 * MINUTE).await?;
    // Two members of the abnormal pool already re-sampled at home, singly.
    let members: Vec<&NewRegistration> =
        registrations.iter().filter(|r| r.tube == tube(abnormal_tube).expect("code")).take(2).collect();
    for (k, m) in members.iter().enumerate() {
        let mut retest = (*m).clone();
        retest.key = uuid::Uuid::now_v7().to_string();
        retest.tube = TubeCode::parse(&format!("EP22R{k:07}"), &TubeFormat::default())
            .map_err(|e| AppError::Internal(e.to_string()))?;
        retest.pool_size = PoolSize::SINGLE;
        retest.home = true;
        retest.flags = vec![];
        retest.at = ROUND_START + 31 * 60 * MINUTE + k as Millis * 10 * MINUTE;
        store.register(retest).await?;
    }
    // Door-knocks in the demo grid: who is away, who cannot come.
    let grid_code = bulwark_demo::demo_grid_code();
    let grid = match areas.get(&grid_code) {
        Some(g) => g.clone(),
        None => store.area_by_code(&grid_code).await?.ok_or_else(|| AppError::Internal("no demo grid".into()))?,
    };
    let untested = store.untested(round.id, &bulwark_domain::access::Scope::of(&grid), None, 40).await?;
    let outcomes = [
        (DoorKnockOutcome::AwayFromTown, Some("在广州务工")),
        (DoorKnockOutcome::CannotWalk, Some("卧床，需上门采样")),
        (DoorKnockOutcome::WillGo, Some("下午去村委采样点")),
        (DoorKnockOutcome::SampledElsewhere, Some("在江门单位已采")),
        (DoorKnockOutcome::Refuses, None),
    ];
    for (u, (outcome, note)) in untested.iter().zip(outcomes) {
        let knock = DoorKnock {
            person: u.person.id,
            outcome,
            note: note.map(String::from),
            at: ROUND_START + 53 * 60 * MINUTE,
        };
        store.record_door_knock(round.id, knock, grid_worker).await?;
    }
    Ok(())
}
