//! The incident's lists as sheets: tasks, timeline, the roll-call board, who has not answered.

use super::{Cell, Export, col, text_col};
use bulwark_app::{
    AppResult,
    command::{
        rollcall::{Board, Missing},
        tasks::TaskList,
    },
};
use bulwark_domain::{
    Millis,
    command::{Task, TimelineEntry},
};
use bulwark_store::command::Group;

/// A name in the sheet's language (the Chinese one when there is no English one).
fn in_language<'a>(x: &Export, zh: &'a str, en: &'a str) -> &'a str {
    if x.tr().is_zh() || en.is_empty() { zh } else { en }
}

fn group_name(x: &Export, g: &Group) -> String {
    in_language(x, &g.name, &g.name_en).to_string()
}

/// Overdue now, or done after its deadline; empty otherwise.
fn lateness(x: &Export, t: &Task, now: Millis) -> Cell {
    if t.is_overdue(now) {
        Cell::text(x.tr().get("export-overdue-now"))
    } else if t.was_late() {
        Cell::text(x.tr().get("export-done-late"))
    } else {
        Cell::Empty
    }
}

/// One row per task, in the list's order (by deadline): group, task, deadline, status, when it
/// was closed, overdue or late, owner, notes.
pub(crate) fn tasks(x: &mut Export, list: &TaskList, now: Millis) -> AppResult<()> {
    let columns = [
        col("group", 22.0),
        col("export-task", 40.0),
        col("export-deadline", 17.0),
        col("export-status", 10.0),
        col("export-closed-at", 17.0),
        col("export-overdue", 10.0),
        col("export-owner", 12.0),
        col("export-notes", 40.0),
    ];
    let mut rows = Vec::with_capacity(list.tasks.len());
    for t in &list.tasks {
        let group = list.groups.iter().find(|g| g.id == t.group).map(|g| group_name(x, g)).unwrap_or_default();
        let owner = t.owner.map(|id| match list.owners.iter().find(|p| p.id == id) {
            Some(p) => p.name.clone(),
            None => format!("#{id}"),
        });
        rows.push(vec![
            Cell::text(group),
            Cell::text(in_language(x, &t.title, &t.title_en)),
            Cell::Time(t.deadline),
            Cell::text(x.tr().get(&format!("task-status-{}", t.status.as_str()))),
            Cell::time(t.closed_at),
            lateness(x, t, now),
            Cell::maybe_text(owner),
            Cell::text(t.notes.clone()),
        ]);
    }
    let mut sheet = x.book.sheet("export-sheet-tasks", "", &columns)?;
    for row in rows {
        sheet.row(row)?;
    }
    sheet.finish()
}

/// One row per entry, oldest first: time, kind, text.
pub(crate) fn timeline(x: &mut Export, entries: &[TimelineEntry]) -> AppResult<()> {
    let columns = [col("export-time", 17.0), col("export-kind", 12.0), col("export-text", 80.0)];
    let tr = x.tr();
    let mut sheet = x.book.sheet("export-sheet-timeline", "", &columns)?;
    for e in entries {
        sheet.row(vec![
            Cell::Time(e.at),
            Cell::text(tr.get(&format!("timeline-kind-{}", e.kind.as_str()))),
            Cell::text(e.text.clone()),
        ])?;
    }
    sheet.finish()
}

/// One row per group (notified, answered, on the way, arrived, arrived within the assembly
/// deadline, not answered), then the total.
pub(crate) fn rollcall(x: &mut Export, board: &Board) -> AppResult<()> {
    let columns = [
        col("group", 22.0),
        col("export-lead", 16.0),
        col("rollcall-notified", 9.0),
        col("rollcall-answered", 9.0),
        col("export-on-the-way", 9.0),
        col("rollcall-arrived", 9.0),
        col("rollcall-within", 9.0),
        col("rollcall-missing", 9.0),
    ];
    let names: Vec<String> = board.groups.iter().map(|g| group_name(x, g)).collect();
    let total = x.tr().get("export-total");
    let mut sheet = x.book.sheet("export-sheet-rollcall", "", &columns)?;
    let t = &board.tally;
    for ((g, name), line) in board.groups.iter().zip(names).zip(&t.groups) {
        sheet.row(vec![
            Cell::text(name),
            Cell::text(g.lead.clone()),
            Cell::count(line.notified),
            Cell::count(line.answered),
            Cell::count(line.on_the_way),
            Cell::count(line.arrived),
            Cell::count(line.arrived_within_deadline),
            Cell::count(line.not_answered.len() as u64),
        ])?;
    }
    sheet.row(vec![
        Cell::text(total),
        Cell::Empty,
        Cell::count(t.notified),
        Cell::count(t.answered),
        Cell::count(t.groups.iter().map(|g| u64::from(g.on_the_way)).sum::<u64>()),
        Cell::count(t.arrived),
        Cell::count(t.arrived_within_deadline),
        Cell::count(t.groups.iter().map(|g| g.not_answered.len() as u64).sum::<u64>()),
    ])?;
    sheet.finish()
}

/// Who has not answered, one row per person: group, name, phone (masked unless the role may
/// reveal).
pub(crate) fn missing(x: &mut Export, list: &[Missing]) -> AppResult<()> {
    let columns = [col("group", 22.0), col("name", 12.0), text_col("phone", 14.0)];
    let mut rows = Vec::new();
    for m in list {
        let group = group_name(x, &m.group);
        for p in &m.people {
            rows.push(vec![Cell::text(group.clone()), Cell::text(p.name.clone()), x.numbers.phone(p)]);
        }
    }
    let mut sheet = x.book.sheet("export-sheet-missing", "", &columns)?;
    for row in rows {
        sheet.row(row)?;
    }
    sheet.finish()
}
