//! The daily report of an incident: the day's window and the figures as of its end (or now).

use crate::{
    Millis,
    command::{Task, TaskStatus, TimelineEntry, TimelineKind},
};
use chrono::{FixedOffset, NaiveDate, TimeZone};
use serde::Serialize;

const HOUR: Millis = 3_600_000;

/// One local day, and the moment its figures are taken at: the end of the day, or now when the
/// day is today (a report never shows the future).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct DayWindow {
    pub date: NaiveDate,
    pub start: Millis,
    pub end: Millis,
    pub as_of: Millis,
    /// The day is still running: `as_of` is now, and figures kept only as "now" (coverage,
    /// people sampled) are the day's own.
    pub is_today: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReportError {
    #[error("date {date}: the report of a day after today ({today}) has no figures yet")]
    Future { date: NaiveDate, today: NaiveDate },
    #[error("date {date}: the incident was activated on {activated}, there is no report before it")]
    BeforeIncident { date: NaiveDate, activated: NaiveDate },
}

/// The window of `date` in the users' time zone, as of `now`; refused for a day that has not
/// begun or one before the incident.
pub fn day_window(
    date: NaiveDate,
    offset: FixedOffset,
    activated_at: Millis,
    now: Millis,
) -> Result<DayWindow, ReportError> {
    let local_date = |ms: Millis| {
        chrono::DateTime::from_timestamp_millis(ms).unwrap_or_default().with_timezone(&offset).date_naive()
    };
    let today = local_date(now);
    if date > today {
        return Err(ReportError::Future { date, today });
    }
    let activated = local_date(activated_at);
    if date < activated {
        return Err(ReportError::BeforeIncident { date, activated });
    }
    let start = offset
        .from_local_datetime(&date.and_hms_opt(0, 0, 0).expect("midnight exists"))
        .single()
        .expect("a fixed offset has no gaps")
        .timestamp_millis();
    let end = start + 24 * HOUR;
    Ok(DayWindow { date, start, end, as_of: now.min(end), is_today: now < end })
}

/// What the report is computed from. Names and counts only: the report is circulated, so no
/// person appears in it.
#[derive(Debug, Clone)]
pub struct DailyInput<'a> {
    pub window: DayWindow,
    pub activated_at: Millis,
    pub assembly_deadline: Millis,
    /// Per working group, in the plan's order: name, notified, answered, arrived, arrived in time.
    pub groups: Vec<GroupAssembly>,
    /// Each task with its group's name in Chinese and English.
    pub tasks: Vec<(&'a Task, &'a str, &'a str)>,
    pub timeline: &'a [TimelineEntry],
    pub testing: Option<TestingInput>,
    pub posts: PostFigures,
}

/// The mass-testing round's figures, as the store keeps them.
#[derive(Debug, Clone)]
pub struct TestingInput {
    pub round: String,
    /// Samples per hour (the hour's start), any order.
    pub by_hour: Vec<(Millis, u64)>,
    /// Distinct people sampled in the round so far (now).
    pub sampled_now: u64,
    pub tubes: u64,
    pub tubes_resulted: u64,
    /// Per site: name, samples so far.
    pub sites: Vec<(String, u64)>,
    /// Per area: name, target, sampled (now). The incident's area first.
    pub coverage: Vec<(String, u64, u64)>,
    pub abnormal_pools: u64,
    pub abnormal_pools_open: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GroupAssembly {
    pub name: String,
    pub name_en: String,
    pub notified: u32,
    pub answered: u32,
    pub arrived: u32,
    pub arrived_in_time: u32,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct PostFigures {
    pub posts: u64,
    pub shifts_running: u64,
    pub assigned: u64,
    pub checked_in: u64,
    pub unfilled_places: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AssemblyFigures {
    pub deadline: Millis,
    pub notified: u32,
    pub answered: u32,
    pub arrived: u32,
    pub arrived_in_time: u32,
    /// Whole percent of the notified who arrived in time.
    pub in_time_percent: u32,
    pub groups: Vec<GroupAssembly>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskOutcome {
    DoneInTime,
    DoneLate,
    /// Open, its deadline passed (as of the report).
    Overdue,
    Open,
    /// Not needed in this incident.
    Cancelled,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TaskLine {
    pub group: String,
    pub group_en: String,
    pub title: String,
    pub title_en: String,
    pub deadline: Millis,
    pub closed_at: Option<Millis>,
    pub outcome: TaskOutcome,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TaskFigures {
    pub total: u32,
    pub done_in_time: u32,
    pub done_late: u32,
    pub overdue: u32,
    pub open: u32,
    /// Tasks the day concerns: due or closed that day, or still overdue at its end; overdue
    /// first, then by deadline.
    pub lines: Vec<TaskLine>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CoverageLine {
    pub area: String,
    pub target: u64,
    pub sampled: u64,
    /// Tenths of a percent (0..=1000), so 98.7 % is 987.
    pub permille: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TestingFigures {
    pub round: String,
    /// People sampled by `as_of`: the round's distinct people when the day is today, else the
    /// samples of the hours begun by then (the store keeps distinct people only as "now").
    pub people_by_as_of: u64,
    /// Samples taken during the day, up to `as_of`.
    pub samples_on_day: u64,
    /// The day's 24 hours, samples in each (0 after `as_of`).
    pub hours: [u64; 24],
    pub sampled_people_now: u64,
    pub tubes: u64,
    pub tubes_resulted: u64,
    pub sites: Vec<(String, u64)>,
    pub coverage: Vec<CoverageLine>,
    pub abnormal_pools: u64,
    pub abnormal_pools_open: u64,
}

/// Everything the daily report shows, as of `window.as_of`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DailyFigures {
    pub window: DayWindow,
    /// Whole hours since activation at `as_of`.
    pub hours_since_activation: i64,
    pub assembly: AssemblyFigures,
    pub tasks: TaskFigures,
    pub testing: Option<TestingFigures>,
    pub posts: PostFigures,
    /// The day's significant events up to `as_of`, oldest first (arrivals are summed up in
    /// the assembly figures, not listed one by one).
    pub events: Vec<TimelineEntry>,
}

pub fn daily_figures(input: &DailyInput<'_>) -> DailyFigures {
    let w = input.window;
    DailyFigures {
        window: w,
        hours_since_activation: (w.as_of - input.activated_at).max(0) / HOUR,
        assembly: assembly(&input.groups, input.assembly_deadline),
        tasks: tasks(&input.tasks, w),
        testing: input.testing.as_ref().map(|t| testing(t, w)),
        posts: input.posts,
        events: input
            .timeline
            .iter()
            .filter(|e| e.at >= w.start && e.at <= w.as_of && e.kind != TimelineKind::Arrival)
            .cloned()
            .collect(),
    }
}

fn assembly(groups: &[GroupAssembly], deadline: Millis) -> AssemblyFigures {
    let sum = |f: fn(&GroupAssembly) -> u32| groups.iter().map(f).sum::<u32>();
    let notified = sum(|g| g.notified);
    let arrived_in_time = sum(|g| g.arrived_in_time);
    AssemblyFigures {
        deadline,
        notified,
        answered: sum(|g| g.answered),
        arrived: sum(|g| g.arrived),
        arrived_in_time,
        in_time_percent: (u64::from(arrived_in_time) * 100).checked_div(u64::from(notified)).unwrap_or(0) as u32,
        groups: groups.to_vec(),
    }
}

fn outcome(task: &Task, as_of: Millis) -> TaskOutcome {
    match task.closed_at.filter(|&c| c <= as_of) {
        Some(_) if task.status == TaskStatus::Cancelled => TaskOutcome::Cancelled,
        Some(closed) if closed <= task.deadline => TaskOutcome::DoneInTime,
        Some(_) => TaskOutcome::DoneLate,
        None if task.deadline < as_of => TaskOutcome::Overdue,
        None => TaskOutcome::Open,
    }
}

fn tasks(tasks: &[(&Task, &str, &str)], w: DayWindow) -> TaskFigures {
    let in_day = |t: Millis| t >= w.start && t < w.end;
    let mut figures = TaskFigures { total: 0, done_in_time: 0, done_late: 0, overdue: 0, open: 0, lines: Vec::new() };
    for (task, group, group_en) in tasks {
        let outcome = outcome(task, w.as_of);
        figures.total += 1;
        match outcome {
            TaskOutcome::DoneInTime => figures.done_in_time += 1,
            TaskOutcome::DoneLate => figures.done_late += 1,
            TaskOutcome::Overdue => figures.overdue += 1,
            TaskOutcome::Open => figures.open += 1,
            TaskOutcome::Cancelled => {}
        }
        let closed_that_day = task.closed_at.is_some_and(|c| in_day(c) && c <= w.as_of);
        if in_day(task.deadline) || closed_that_day || outcome == TaskOutcome::Overdue {
            figures.lines.push(TaskLine {
                group: (*group).to_owned(),
                group_en: (*group_en).to_owned(),
                title: task.title.clone(),
                title_en: task.title_en.clone(),
                deadline: task.deadline,
                closed_at: task.closed_at.filter(|&c| c <= w.as_of),
                outcome,
            });
        }
    }
    figures.lines.sort_by_key(|l| (l.outcome != TaskOutcome::Overdue, l.deadline));
    figures
}

fn testing(t: &TestingInput, w: DayWindow) -> TestingFigures {
    let mut hours = [0u64; 24];
    let mut by_as_of = 0;
    for &(hour, samples) in &t.by_hour {
        // An hour counts once it has begun by `as_of`: the store buckets by the hour's start.
        if hour > w.as_of {
            continue;
        }
        by_as_of += samples;
        if hour >= w.start && hour < w.end {
            hours[((hour - w.start) / HOUR) as usize] += samples;
        }
    }
    TestingFigures {
        round: t.round.clone(),
        people_by_as_of: if w.is_today { t.sampled_now } else { by_as_of },
        samples_on_day: hours.iter().sum(),
        hours,
        sampled_people_now: t.sampled_now,
        tubes: t.tubes,
        tubes_resulted: t.tubes_resulted,
        sites: t.sites.clone(),
        coverage: t
            .coverage
            .iter()
            .map(|(area, target, sampled)| CoverageLine {
                area: area.clone(),
                target: *target,
                sampled: *sampled,
                permille: (sampled * 1000).checked_div(*target).unwrap_or(0).min(1000) as u32,
            })
            .collect(),
        abnormal_pools: t.abnormal_pools,
        abnormal_pools_open: t.abnormal_pools_open,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn china() -> FixedOffset {
        FixedOffset::east_opt(8 * 3600).unwrap()
    }

    fn at(d: u32, h: u32, m: u32) -> Millis {
        china().with_ymd_and_hms(2022, 10, d, h, m, 0).unwrap().timestamp_millis()
    }

    fn oct(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2022, 10, d).unwrap()
    }

    fn task(id: i64, deadline: Millis, closed_at: Option<Millis>) -> Task {
        Task {
            id,
            incident: 1,
            group: 1,
            key: format!("t{id}"),
            title: format!("任务{id}"),
            title_en: format!("task {id}"),
            deadline,
            status: if closed_at.is_some() { TaskStatus::Done } else { TaskStatus::Open },
            owner: None,
            notes: String::new(),
            closed_at,
            overdue_alerted_at: None,
            updated_at: deadline,
        }
    }

    #[test]
    fn today_stops_at_now_and_a_past_day_at_its_end() {
        let w = day_window(oct(8), china(), at(6, 7, 0), at(8, 15, 0)).unwrap();
        assert_eq!((w.start, w.as_of, w.is_today), (at(8, 0, 0), at(8, 15, 0), true));
        let w = day_window(oct(7), china(), at(6, 7, 0), at(8, 15, 0)).unwrap();
        assert_eq!((w.as_of, w.end, w.is_today), (at(8, 0, 0), at(8, 0, 0), false));
        assert!(matches!(day_window(oct(9), china(), at(6, 7, 0), at(8, 15, 0)), Err(ReportError::Future { .. })));
        assert!(matches!(
            day_window(oct(5), china(), at(6, 7, 0), at(8, 15, 0)),
            Err(ReportError::BeforeIncident { .. })
        ));
    }

    #[test]
    fn the_source_day_in_figures() {
        let w = day_window(oct(8), china(), at(6, 7, 0), at(8, 15, 0)).unwrap();
        let tasks = [
            task(1, at(6, 9, 0), Some(at(6, 8, 40))),  // done in time on the 6th: not a line
            task(2, at(7, 7, 0), Some(at(7, 13, 0))),  // done late on the 7th: not a line
            task(3, at(7, 19, 0), None),               // still overdue: a line, first
            task(4, at(8, 12, 0), Some(at(8, 11, 0))), // due today, done in time
            task(5, at(8, 20, 0), None),               // due today, open
            task(6, at(8, 13, 0), Some(at(8, 16, 0))), // closed after as_of: overdue as of 15:00
        ];
        let named: Vec<_> = tasks.iter().map(|t| (t, "核酸检测组", "Testing")).collect();
        let timeline = [
            TimelineEntry {
                id: 1,
                incident: 1,
                at: at(6, 7, 0),
                kind: TimelineKind::Activated,
                text: "启动".into(),
                by: None,
            },
            TimelineEntry {
                id: 2,
                incident: 1,
                at: at(8, 9, 0),
                kind: TimelineKind::Arrival,
                text: "到达".into(),
                by: None,
            },
            TimelineEntry {
                id: 3,
                incident: 1,
                at: at(8, 10, 0),
                kind: TimelineKind::Figure,
                text: "采样".into(),
                by: None,
            },
            TimelineEntry {
                id: 4,
                incident: 1,
                at: at(8, 16, 0),
                kind: TimelineKind::Manual,
                text: "后来".into(),
                by: None,
            },
        ];
        let groups = vec![
            GroupAssembly {
                name: "综合协调组".into(),
                name_en: "Coordination".into(),
                notified: 10,
                answered: 10,
                arrived: 9,
                arrived_in_time: 8,
            },
            GroupAssembly {
                name: "核酸检测组".into(),
                name_en: "Testing".into(),
                notified: 30,
                answered: 28,
                arrived: 27,
                arrived_in_time: 26,
            },
        ];
        let testing = TestingInput {
            round: "第一轮".into(),
            by_hour: vec![(at(6, 8, 0), 9000), (at(7, 9, 0), 12000), (at(8, 9, 0), 5000), (at(8, 14, 0), 2369)],
            sampled_now: 28_369,
            tubes: 2900,
            tubes_resulted: 2000,
            sites: vec![("圣堂墟".into(), 28_369)],
            coverage: vec![("圣堂镇".into(), 30_000, 28_369), ("空村".into(), 0, 0)],
            abnormal_pools: 2,
            abnormal_pools_open: 1,
        };
        let input = DailyInput {
            window: w,
            activated_at: at(6, 7, 0),
            assembly_deadline: at(6, 7, 30),
            groups,
            tasks: named,
            timeline: &timeline,
            testing: Some(testing),
            posts: PostFigures::default(),
        };
        let f = daily_figures(&input);
        assert_eq!(f.hours_since_activation, 56);
        assert_eq!((f.assembly.notified, f.assembly.arrived_in_time, f.assembly.in_time_percent), (40, 34, 85));
        let t = &f.tasks;
        assert_eq!((t.total, t.done_in_time, t.done_late, t.overdue, t.open), (6, 2, 1, 2, 1));
        let titles: Vec<_> = t.lines.iter().map(|l| l.title.as_str()).collect();
        assert_eq!(titles, ["任务3", "任务6", "任务4", "任务5"]);
        assert_eq!(t.lines[1].closed_at, None, "closed after as_of: not shown as closed");
        let s = f.testing.unwrap();
        assert_eq!((s.people_by_as_of, s.samples_on_day), (28_369, 7_369));
        assert_eq!((s.hours[9], s.hours[14], s.hours[15]), (5000, 2369, 0));
        assert_eq!(s.coverage[0].permille, 945);
        assert_eq!(s.coverage[1].permille, 0, "no target: 0, not a division by zero");
        assert_eq!(f.events.iter().map(|e| e.id).collect::<Vec<_>>(), [3], "the day's events up to as_of, no arrivals");
    }

    #[test]
    fn a_past_day_counts_the_samples_taken_by_its_end() {
        let w = day_window(oct(7), china(), at(6, 7, 0), at(8, 15, 0)).unwrap();
        let testing = TestingInput {
            round: "r".into(),
            by_hour: vec![(at(6, 8, 0), 9000), (at(7, 9, 0), 12000), (at(8, 9, 0), 5000)],
            sampled_now: 26_000,
            tubes: 0,
            tubes_resulted: 0,
            sites: vec![],
            coverage: vec![],
            abnormal_pools: 0,
            abnormal_pools_open: 0,
        };
        let input = DailyInput {
            window: w,
            activated_at: at(6, 7, 0),
            assembly_deadline: at(6, 7, 30),
            groups: vec![],
            tasks: vec![],
            timeline: &[],
            testing: Some(testing),
            posts: PostFigures::default(),
        };
        let s = daily_figures(&input).testing.unwrap();
        assert_eq!((s.people_by_as_of, s.samples_on_day), (21_000, 12_000));
    }
}
