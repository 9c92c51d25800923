//! The demo's command story, replayed: at 07:00 on 6 October the town activates the
//! golden-24-hours plan ("有两名核酸检测异常人员到过我镇太子农庄吃饭"), every staff member (176
//! cadres, 235 grid workers, 37 teacher volunteers) is dealt into the 10 groups and answers the
//! roll-call over the next minutes — most within 30 minutes, some late, a few never; tasks are
//! done on time, some late, some still open (overdue); the timeline carries the sampling figures
//! of each afternoon. Deterministic: the same town gives the same story.

use crate::{AppResult, accounts::token_hash, demo_testing::ROUND_START};
use bulwark_domain::{
    Millis,
    access::{Scope, UserId},
    areas::Area,
    command::{IncidentLevel, RollCallPlace, RollCallStatus, TaskChange, TaskStatus, TimelineKind, golden_24_hours},
    people::PersonId,
};
use bulwark_store::{
    Store,
    command::{NewAnswer, NewIncident, NewTaskChange},
};

const MINUTE: Millis = 60_000;
const HOUR: Millis = 60 * MINUTE;

/// The trigger as the town announced it.
pub const TRIGGER: &str =
    "有两名核酸检测异常人员到过我镇太子农庄吃饭，现立即激活应急预案，请所有工作人员30分钟之内集合完毕";

/// A number in 0..1000 fixed for a person: the demo's dice without a generator.
fn dice(person: PersonId, salt: u64) -> u64 {
    let mut x = (person as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ salt.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x ^= x >> 31;
    x = x.wrapping_mul(0x94D0_49BB_1331_11EB);
    (x ^ (x >> 29)) % 1000
}

/// When a member answered: `None` (never, 3 in 100), received only (3 in 100), or arrived after
/// some minutes (4–28 for most, 31–50 for one in ten).
fn arrival(person: PersonId) -> (Option<Millis>, Option<Millis>) {
    let r = dice(person, 1);
    let received = ROUND_START + (1 + r % 4) as Millis * MINUTE;
    match r {
        0..30 => (None, None),
        30..60 => (Some(received), None),
        60..160 => (Some(received), Some(ROUND_START + (31 + r % 20) as Millis * MINUTE)),
        _ => (Some(received), Some(ROUND_START + (4 + r % 25) as Millis * MINUTE + (r % 60) as Millis * 1000)),
    }
}

/// When a task of the plan was done in the story: `None` while it is still open.
fn done_at(key: &str, deadline: Millis) -> Option<Millis> {
    match key {
        // Late: the risk areas were published at 12:20, the area tested by 13:00 on 7 October.
        "risk-areas" => Some(ROUND_START + 5 * HOUR + 20 * MINUTE),
        "area-tested" => Some(ROUND_START + 30 * HOUR),
        "assemble" => Some(ROUND_START + 29 * MINUTE),
        // Still under way on 8 October.
        "returnees" | "opinion" | "full-investigation" => None,
        _ => Some(deadline - 20 * MINUTE),
    }
}

/// Loads the story once (nothing happens when the town has an incident already).
pub async fn load(store: &dyn Store, town: &Area, commander: UserId) -> AppResult<()> {
    let scope = Scope::of(town);
    if !store.incidents(&scope).await?.is_empty() {
        return Ok(());
    }
    let plan = golden_24_hours();
    let stored = store.save_plan(&plan, ROUND_START - HOUR, commander).await?;
    let staff: Vec<_> = store.staff(&scope, None).await?.into_iter().map(|s| (s.person, s.team)).collect();
    let activation = plan.instantiate(ROUND_START, &staff);
    let groups: Vec<(String, Vec<PersonId>)> =
        activation.groups.iter().map(|g| (g.key.clone(), g.members.clone())).collect();
    let tokens = groups
        .iter()
        .flat_map(|(_, members)| members.iter().map(|p| (*p, token_hash(&crate::accounts::new_token()))))
        .collect();
    let id = store
        .open_incident(NewIncident {
            plan: plan.key.clone(),
            plan_version: stored.version,
            title: plan.title.clone(),
            trigger: TRIGGER.into(),
            level: IncidentLevel::parse("III").expect("a level"),
            area: town.id,
            headquarters: "镇应急指挥中心（总指挥部）".into(),
            forward_post: "太子农庄（前线指挥部）".into(),
            by: commander,
            activation,
            tokens,
            timeline_text: format!("启动{}（III级响应）：{TRIGGER}", plan.title),
        })
        .await?;

    // The roll-call: members of the field groups assemble at the forward post.
    for (key, members) in &groups {
        let at_front = matches!(key.as_str(), "tracing" | "isolation-transfer" | "security" | "disinfection");
        let (place, where_) = if at_front {
            (RollCallPlace::ForwardPost, "太子农庄（前线指挥部）")
        } else {
            (RollCallPlace::Headquarters, "镇应急指挥中心")
        };
        for person in members {
            let (received, arrived) = arrival(*person);
            let answer = |status, at, place: Option<RollCallPlace>| NewAnswer {
                incident: id,
                person: *person,
                status,
                place,
                at,
                by: None,
                arrival_text: format!("工作人员到达{where_}"),
                audit: NewAnswer::link_audit(id, *person, status, at),
            };
            if let Some(at) = received {
                store.record_answer(answer(RollCallStatus::Received, at, None)).await?;
            }
            if let Some(at) = arrived {
                store.record_answer(answer(RollCallStatus::Arrived, at, Some(place.clone()))).await?;
            }
        }
    }

    // Tasks and overdue sweeps, in the order they happened.
    enum Step {
        Done(i64, String),
        Sweep,
    }
    let mut steps: Vec<(Millis, Step)> = Vec::new();
    for task in store.tasks(id).await? {
        if let Some(at) = done_at(&task.key, task.deadline) {
            steps.push((at, Step::Done(task.id, task.title.clone())));
        }
        steps.push((task.deadline + 5_000, Step::Sweep));
    }
    steps.sort_by_key(|(at, step)| (*at, matches!(step, Step::Sweep)));
    for (at, step) in steps {
        match step {
            Step::Done(task, title) => {
                let change = TaskChange { status: Some(TaskStatus::Done), ..Default::default() };
                let timeline_text = format!("镇总指挥部指挥长完成：{title}");
                store.update_task(NewTaskChange { task, change, at, by: commander, timeline_text }).await?;
            }
            Step::Sweep => {
                store.mark_overdue(at).await?;
            }
        }
    }

    // The afternoon figures, as the town reported them.
    for (day, sampled) in [(0, 9_457), (1, 18_913), (2, crate::demo_testing::SAMPLED)] {
        let at = ROUND_START + day * 24 * HOUR + 8 * HOUR;
        let text = format!("截至10月{}日15时，全镇已采样{}人", 6 + day, sampled);
        store.append_timeline(id, at, TimelineKind::Figure, &text, None).await?;
    }
    Ok(())
}
