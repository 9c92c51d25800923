//! The daily report: the document in the reader's language (built here, so its words are in the
//! locale files like every page's), the printable page `/incidents/{id}/report`, and the same
//! document as a standalone HTML page for `GET /api/v1/incidents/{id}/report?format=html`.

use super::{Chrome, OrPage, PageCaller, PageError, render, rounds::grouped};
use crate::{AppState, i18n::Tr};
use askama::Template;
use axum::{
    extract::{Path, Query, State},
    response::Response,
};
use bulwark_app::reports::{self, DailyReport};
use bulwark_domain::{Millis, command::IncidentId, reports::TaskOutcome};
use bulwark_reports::{Align, BarChart, Block, Column, Document, Table};
use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, Timelike};
use serde::Deserialize;

fn local(ms: Millis) -> DateTime<FixedOffset> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default().with_timezone(&bulwark_app::rosters::local_offset())
}

/// `10月8日` / `8 Oct`.
fn day(t: Tr, ms: Millis) -> String {
    let d = local(ms);
    if t.is_zh() { format!("{}月{}日", d.month(), d.day()) } else { d.format("%-d %b").to_string() }
}

/// `2022年10月8日` / `8 October 2022`.
fn full_date(t: Tr, date: NaiveDate) -> String {
    if t.is_zh() {
        format!("{}年{}月{}日", date.year(), date.month(), date.day())
    } else {
        date.format("%-d %B %Y").to_string()
    }
}

/// `15时` or `15时20分` (the source's way) / `15:00`.
fn clock(t: Tr, ms: Millis) -> String {
    let d = local(ms);
    match (t.is_zh(), d.minute()) {
        (true, 0) => format!("{}时", d.hour()),
        (true, m) => format!("{}时{:02}分", d.hour(), m),
        (false, _) => d.format("%H:%M").to_string(),
    }
}

fn count(t: Tr, n: u64) -> String {
    if t.is_zh() { n.to_string() } else { grouped(n) }
}

fn permille(p: u32) -> String {
    format!("{}.{}%", p / 10, p % 10)
}

fn columns(t: Tr, keys: &[(&str, Align)]) -> Vec<Column> {
    keys.iter().map(|(k, align)| Column { title: t.get(k), align: *align }).collect()
}

/// The daily report as a document in `t`'s language.
pub(crate) fn daily_document(r: &DailyReport, t: Tr) -> Document {
    let f = &r.figures;
    let w = f.window;
    let i = &r.incident;
    let mut blocks = Vec::new();
    let at = |key: &'static str, v: String| (key, v);

    let headline = match &f.testing {
        Some(s) => t.args(
            "report-headline",
            &[
                at("date", day(t, w.as_of)),
                at("time", clock(t, w.as_of)),
                at("area", r.area_name.clone()),
                at("sampled", count(t, s.people_by_as_of)),
            ],
        ),
        None => t.args(
            "report-headline-no-round",
            &[at("date", day(t, w.as_of)), at("time", clock(t, w.as_of)), at("area", r.area_name.clone())],
        ),
    };
    blocks.push(Block::Lead { text: headline });
    blocks.push(Block::Paragraph {
        text: t.args(
            "report-incident",
            &[
                at("title", i.title.clone()),
                at("level", t.n("incident-level", i.level.roman())),
                at("activated", format!("{} {}", day(t, i.activated_at), clock(t, i.activated_at))),
                at("trigger", i.trigger.clone()),
                at("hours", f.hours_since_activation.to_string()),
            ],
        ),
    });

    // 1. Assembly.
    let a = &f.assembly;
    blocks.push(Block::Heading { text: t.get("report-section-assembly") });
    blocks.push(Block::Paragraph {
        text: t.args(
            "report-assembly",
            &[
                at("notified", a.notified.to_string()),
                at("answered", a.answered.to_string()),
                at("arrived", a.arrived.to_string()),
                at("deadline", clock(t, a.deadline)),
                at("in_time", a.arrived_in_time.to_string()),
                at("percent", a.in_time_percent.to_string()),
            ],
        ),
    });
    let mut table = Table {
        columns: columns(
            t,
            &[
                ("report-col-group", Align::Left),
                ("report-col-notified", Align::Right),
                ("report-col-answered", Align::Right),
                ("report-col-arrived", Align::Right),
                ("report-col-in-time", Align::Right),
            ],
        ),
        rows: Vec::new(),
        total: None,
    };
    for g in &a.groups {
        let name = if t.is_zh() { &g.name } else { &g.name_en };
        table.rows.push(vec![
            name.clone(),
            g.notified.to_string(),
            g.answered.to_string(),
            g.arrived.to_string(),
            g.arrived_in_time.to_string(),
        ]);
    }
    table.total = Some(vec![
        t.get("report-total"),
        a.notified.to_string(),
        a.answered.to_string(),
        a.arrived.to_string(),
        a.arrived_in_time.to_string(),
    ]);
    blocks.push(Block::Table(table));

    // 2. Tasks.
    let k = &f.tasks;
    blocks.push(Block::Heading { text: t.get("report-section-tasks") });
    blocks.push(Block::Paragraph {
        text: t.args(
            "report-tasks",
            &[
                at("total", k.total.to_string()),
                at("in_time", k.done_in_time.to_string()),
                at("late", k.done_late.to_string()),
                at("overdue", k.overdue.to_string()),
                at("open", k.open.to_string()),
            ],
        ),
    });
    if !k.lines.is_empty() {
        let mut table = Table {
            columns: columns(
                t,
                &[
                    ("report-col-group", Align::Left),
                    ("report-col-task", Align::Left),
                    ("report-col-deadline", Align::Left),
                    ("report-col-status", Align::Left),
                    ("report-col-done-at", Align::Left),
                ],
            ),
            rows: Vec::new(),
            total: None,
        };
        for l in &k.lines {
            let (group, title) = if t.is_zh() { (&l.group, &l.title) } else { (&l.group_en, &l.title_en) };
            let status = match l.outcome {
                TaskOutcome::DoneInTime => "report-task-in-time",
                TaskOutcome::DoneLate => "report-task-late",
                TaskOutcome::Overdue => "report-task-overdue",
                TaskOutcome::Open => "report-task-open",
                TaskOutcome::Cancelled => "report-task-cancelled",
            };
            let when = |ms: Millis| format!("{} {}", day(t, ms), clock(t, ms));
            table.rows.push(vec![
                group.clone(),
                title.clone(),
                when(l.deadline),
                t.get(status),
                l.closed_at.map(when).unwrap_or_default(),
            ]);
        }
        blocks.push(Block::Table(table));
    }

    // 3. Mass testing.
    blocks.push(Block::Heading { text: t.get("report-section-testing") });
    match &f.testing {
        None => blocks.push(Block::Paragraph { text: t.get("report-no-round") }),
        Some(s) => {
            blocks.push(Block::Paragraph {
                text: t.args(
                    "report-testing",
                    &[
                        at("round", s.round.clone()),
                        at("today", count(t, s.samples_on_day)),
                        at("total", count(t, s.people_by_as_of)),
                        at("tubes", count(t, s.tubes)),
                        at("resulted", count(t, s.tubes_resulted)),
                        at("abnormal", s.abnormal_pools.to_string()),
                        at("open", s.abnormal_pools_open.to_string()),
                    ],
                ),
            });
            // The day's hours from the first with samples to the hour of `as_of`.
            let last = if w.is_today { local(w.as_of).hour() as usize } else { 23 };
            let first = s.hours.iter().position(|&n| n > 0).unwrap_or(last).min(last);
            if s.samples_on_day > 0 {
                blocks.push(Block::Chart(BarChart {
                    title: t.get("report-chart-hourly"),
                    labels: (first..=last)
                        .map(|h| if t.is_zh() { format!("{h}时") } else { format!("{h}h") })
                        .collect(),
                    values: s.hours[first..=last].to_vec(),
                }));
            }
            if let Some((whole, parts)) = s.coverage.split_first() {
                if !w.is_today {
                    blocks.push(Block::Paragraph {
                        text: t.args(
                            "report-coverage-now",
                            &[at("time", format!("{} {}", day(t, r.generated_at), clock(t, r.generated_at)))],
                        ),
                    });
                }
                let mut table = Table {
                    columns: columns(
                        t,
                        &[
                            ("report-col-area", Align::Left),
                            ("report-col-target", Align::Right),
                            ("report-col-sampled", Align::Right),
                            ("report-col-coverage", Align::Right),
                        ],
                    ),
                    rows: Vec::new(),
                    total: None,
                };
                let line = |c: &bulwark_domain::reports::CoverageLine, name: String| {
                    vec![name, count(t, c.target), count(t, c.sampled), permille(c.permille)]
                };
                table.rows = parts.iter().map(|c| line(c, c.area.clone())).collect();
                table.total = Some(line(whole, format!("{} {}", t.get("report-total"), whole.area)));
                blocks.push(Block::Table(table));
            }
            if !s.sites.is_empty() {
                let mut table = Table {
                    columns: columns(t, &[("report-col-site", Align::Left), ("report-col-samples", Align::Right)]),
                    rows: s.sites.iter().map(|(name, n)| vec![name.clone(), count(t, *n)]).collect(),
                    total: None,
                };
                table.total = Some(vec![t.get("report-total"), count(t, s.sites.iter().map(|(_, n)| n).sum())]);
                blocks.push(Block::Table(table));
            }
        }
    }

    // 4. Staff on post.
    let p = f.posts;
    blocks.push(Block::Heading { text: t.get("report-section-posts") });
    blocks.push(Block::Paragraph {
        text: t.args(
            "report-posts",
            &[
                at("posts", p.posts.to_string()),
                at("shifts", p.shifts_running.to_string()),
                at("assigned", p.assigned.to_string()),
                at("checked_in", p.checked_in.to_string()),
                at("unfilled", p.unfilled_places.to_string()),
            ],
        ),
    });

    // 5. The day's events.
    blocks.push(Block::Heading { text: t.get("report-section-events") });
    if f.events.is_empty() {
        blocks.push(Block::Paragraph { text: t.get("report-no-events") });
    } else {
        let table = Table {
            columns: columns(t, &[("report-col-time", Align::Left), ("report-col-event", Align::Left)]),
            rows: f.events.iter().map(|e| vec![local(e.at).format("%H:%M").to_string(), e.text.clone()]).collect(),
            total: None,
        };
        blocks.push(Block::Table(table));
    }

    Document {
        lang: t.lang().to_owned(),
        title: t.n("report-title", &r.area_name),
        subtitle: t.args(
            "report-subtitle",
            &[at("date", full_date(t, w.date)), at("time", format!("{} {}", day(t, w.as_of), clock(t, w.as_of)))],
        ),
        blocks,
        footer: t.args(
            "report-footer",
            &[at(
                "at",
                format!("{} {}", local(r.generated_at).format("%Y-%m-%d"), local(r.generated_at).format("%H:%M")),
            )],
        ),
    }
}

#[derive(Deserialize)]
pub(crate) struct ReportQuery {
    date: Option<String>,
}

/// `2022-10-08`, or today when absent.
pub(crate) fn report_date(raw: Option<&str>, today: NaiveDate) -> Result<NaiveDate, bulwark_app::AppError> {
    match raw.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(today),
        Some(s) => NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .map_err(|_| bulwark_app::AppError::invalid("date", "a date such as 2022-10-08")),
    }
}

#[derive(Template)]
#[template(path = "report.html")]
struct ReportPage {
    chrome: Chrome,
    incident: IncidentId,
    date: String,
    doc: Document,
}

/// The report as printed: no navigation, no script; the same body as the page.
#[derive(Template)]
#[template(path = "report_print.html")]
pub(crate) struct ReportPrint {
    pub doc: Document,
    pub css: &'static str,
}

impl ReportPrint {
    pub(crate) fn new(doc: Document) -> ReportPrint {
        ReportPrint { doc, css: include_str!("../../assets/report.css") }
    }
}

/// `GET /incidents/{id}/report?date=`: the report with a date picker, print and downloads.
pub(crate) async fn page(
    State(state): State<AppState>,
    caller: PageCaller,
    Path(id): Path<IncidentId>,
    Query(q): Query<ReportQuery>,
) -> Result<Response, PageError> {
    let date = report_date(q.date.as_deref(), state.clock.today()).or_page(caller.lang)?;
    let report =
        reports::daily(state.store.as_ref(), &caller.actor, id, date, state.clock.now()).await.or_page(caller.lang)?;
    let doc = daily_document(&report, Tr(caller.lang));
    Ok(render(&ReportPage { chrome: caller.chrome(), incident: id, date: date.to_string(), doc }))
}
