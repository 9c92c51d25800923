//! The day's roster as a sheet: one row per assignment and one per empty place of a shift.

use super::{Cell, Export, col, text_col};
use bulwark_app::{
    AppResult,
    rosters::{DayRoster, RULES},
};
use bulwark_domain::{Millis, workforce::Attendance};

/// Post, kind, duties, the shift's start and end, the person (name, ID number always masked: a
/// roster is for calling people, not for identifying them; phone), responsibility, check-in,
/// check-out and attendance now. People outside the caller's scope appear by id only.
pub(crate) fn roster(x: &mut Export, r: &DayRoster, now: Millis) -> AppResult<()> {
    let columns = [
        col("export-post", 18.0),
        col("export-post-kind", 10.0),
        col("export-duties", 18.0),
        col("export-shift-starts", 17.0),
        col("export-shift-ends", 17.0),
        col("name", 12.0),
        text_col("id-number", 21.0),
        text_col("phone", 14.0),
        col("export-responsibility", 20.0),
        col("export-checked-in", 17.0),
        col("export-checked-out", 17.0),
        col("export-status", 10.0),
    ];
    let tr = x.tr();
    let mut rows = Vec::new();
    for p in &r.posts {
        let kind = tr.get(&format!("post-kind-{}", p.post.kind.as_str()));
        let duties = p.post.duties.iter().map(|d| tr.get(&format!("duty-{}", d.as_str()))).collect::<Vec<_>>();
        let duties = duties.join(if tr.is_zh() { "、" } else { ", " });
        for s in &p.shifts {
            let lead = || {
                vec![
                    Cell::text(p.post.name.clone()),
                    Cell::text(kind.clone()),
                    Cell::text(duties.clone()),
                    Cell::Time(s.shift.starts),
                    Cell::Time(s.shift.ends),
                ]
            };
            for a in &s.assignments {
                let mut row = lead();
                match r.people.get(&a.person) {
                    Some(person) => {
                        row.push(Cell::text(person.name.clone()));
                        row.push(Cell::code(person.masked_document()));
                        row.push(x.numbers.phone(person));
                    }
                    None => {
                        row.push(Cell::text(tr.n("export-outside-scope", a.person)));
                        row.push(Cell::Empty);
                        row.push(Cell::Empty);
                    }
                }
                let attendance = Attendance::of(&s.shift.times(), a.checked_in_at, a.checked_out_at, now, &RULES);
                row.extend([
                    Cell::text(a.responsibility.clone()),
                    Cell::time(a.checked_in_at),
                    Cell::time(a.checked_out_at),
                    Cell::text(tr.get(&format!("attendance-{}", attendance.as_str()))),
                ]);
                rows.push(row);
            }
            let vacant = p.post.needed.saturating_sub(s.assignments.len() as u32);
            for _ in 0..vacant {
                let mut row = lead();
                row.extend([Cell::text(tr.get("export-vacant-person")), Cell::Empty, Cell::Empty, Cell::Empty]);
                row.extend([Cell::Empty, Cell::Empty, Cell::text(tr.get("export-vacant"))]);
                rows.push(row);
            }
        }
    }
    let mut sheet = x.book.sheet("export-sheet-roster", &format!(" {}", r.day), &columns)?;
    for row in rows {
        sheet.row(row)?;
    }
    sheet.finish()
}
