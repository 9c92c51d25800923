//! Shifts, assignments and attendance: fixed person, post and responsibility (定人定岗定责).
//!
//! A shift is a stretch of time at a post (at most 24 hours: the highway exit's post runs three
//! 8-hour shifts a day, or one of 24). An assignment names the person, the post, the shift and
//! what the person answers for. The rules here are pure: whatever depends on "now" takes it.
//! - A person is never on two overlapping shifts ([`find_clash`], checked by storage inside the
//!   transaction that stores the assignment).
//! - Check-in opens [`RosterRules::early_check_in`] before the shift and closes when it ends; a
//!   second check-in answers the first ([`check_in`]). Check-out needs a check-in; a second one
//!   answers the first ([`check_out`]).
//! - A person not checked in [`RosterRules::no_show_after`] after the start is a no-show
//!   ([`Attendance`]).
//! - A shift running now or starting within [`RosterRules::unfilled_horizon`] with fewer people
//!   assigned than its post needs is unfilled ([`shortfall`]).

use super::post::PostId;
use crate::{Millis, access::UserId, people::PersonId};
use chrono::{DateTime, FixedOffset, NaiveDate, NaiveTime};
use serde::Serialize;

pub type ShiftId = i64;
pub type AssignmentId = i64;

const MINUTE: Millis = 60_000;
const HOUR: Millis = 60 * MINUTE;

/// The longest shift: a 24-hour post staffed by one person is one shift.
pub const MAX_SHIFT: Millis = 24 * HOUR;

/// The time limits of attendance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RosterRules {
    /// How long before the start check-in opens.
    pub early_check_in: Millis,
    /// How long after the start someone not checked in counts as a no-show.
    pub no_show_after: Millis,
    /// How far ahead a short-staffed shift counts as unfilled.
    pub unfilled_horizon: Millis,
}

impl RosterRules {
    pub const DEFAULT: RosterRules =
        RosterRules { early_check_in: 30 * MINUTE, no_show_after: 15 * MINUTE, unfilled_horizon: 2 * HOUR };
}

impl Default for RosterRules {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Formats an instant for a message, in China Standard Time (the product's local time).
fn local(at: Millis) -> String {
    let offset = FixedOffset::east_opt(8 * 3600).expect("valid offset");
    DateTime::from_timestamp_millis(at)
        .map(|t| t.with_timezone(&offset).format("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_else(|| at.to_string())
}

/// An assignment the person holds already, whose shift overlaps the one asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Clash {
    pub assignment: AssignmentId,
    pub shift: ShiftId,
    pub post_name: String,
    pub starts: Millis,
    pub ends: Millis,
}

/// Why a shift, an assignment, a check-in or a check-out is refused. Each names the field and
/// what is expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RosterError {
    #[error("ends: a shift must end after it starts")]
    EndsBeforeStart,
    #[error("ends: a shift lasts at most 24 hours")]
    TooLong,
    #[error("pattern: expected 3x8, 2x12 or 1x24")]
    Pattern,
    #[error("first_hour: expected an hour from 0 to 23")]
    FirstHour,
    #[error("responsibility: say what the person answers for, in 1 to {max} characters", max = NewAssignment::MAX_RESPONSIBILITY)]
    Responsibility,
    #[error(
        "person: already assigned to {post} from {starts} to {ends} (UTC+8, shift {shift}), which overlaps this shift",
        post = .0.post_name, starts = local(.0.starts), ends = local(.0.ends), shift = .0.shift
    )]
    Overlap(Clash),
    #[error("check-in opens {minutes} minutes before the shift, at {opens} (UTC+8)", opens = local(*.opens_at))]
    TooEarly { opens_at: Millis, minutes: i64 },
    #[error("the shift ended at {ends} (UTC+8): check-in is closed", ends = local(*.ends))]
    ShiftOver { ends: Millis },
    #[error("check in first: there is no check-in to end")]
    NotCheckedIn,
}

impl RosterError {
    /// The input field the error is about.
    pub fn field(&self) -> &'static str {
        match self {
            Self::EndsBeforeStart | Self::TooLong => "ends",
            Self::Pattern => "pattern",
            Self::FirstHour => "first_hour",
            Self::Responsibility => "responsibility",
            Self::Overlap(_) => "person",
            Self::TooEarly { .. } | Self::ShiftOver { .. } | Self::NotCheckedIn => "assignment",
        }
    }
}

/// When a shift runs: `[starts, ends)`, at most 24 hours.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ShiftTimes {
    pub starts: Millis,
    pub ends: Millis,
}

impl ShiftTimes {
    pub fn new(starts: Millis, ends: Millis) -> Result<ShiftTimes, RosterError> {
        if ends <= starts {
            Err(RosterError::EndsBeforeStart)
        } else if ends - starts > MAX_SHIFT {
            Err(RosterError::TooLong)
        } else {
            Ok(ShiftTimes { starts, ends })
        }
    }

    /// Whether the two share any instant (a shift ending at 14:00 and one starting at 14:00 do
    /// not).
    pub fn overlaps(&self, other: &ShiftTimes) -> bool {
        self.starts < other.ends && other.starts < self.ends
    }

    pub fn is_running(&self, now: Millis) -> bool {
        self.starts <= now && now < self.ends
    }
}

/// How a day is cut into shifts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum ShiftPattern {
    /// Three 8-hour shifts (the 24-hour checkpoint post).
    ThreeByEight,
    TwoByTwelve,
    OneByTwentyFour,
}

impl ShiftPattern {
    pub fn parse(s: &str) -> Result<ShiftPattern, RosterError> {
        match s.trim() {
            "3x8" => Ok(Self::ThreeByEight),
            "2x12" => Ok(Self::TwoByTwelve),
            "1x24" => Ok(Self::OneByTwentyFour),
            _ => Err(RosterError::Pattern),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::ThreeByEight => "3x8",
            Self::TwoByTwelve => "2x12",
            Self::OneByTwentyFour => "1x24",
        }
    }

    /// The day's shifts, back to back from `first_hour` o'clock local time on `day`, covering 24
    /// hours (the last ends at `first_hour` the next day).
    pub fn day(self, day: NaiveDate, first_hour: u32, offset: FixedOffset) -> Result<Vec<ShiftTimes>, RosterError> {
        let (count, hours) = match self {
            Self::ThreeByEight => (3, 8),
            Self::TwoByTwelve => (2, 12),
            Self::OneByTwentyFour => (1, 24),
        };
        let time = NaiveTime::from_hms_opt(first_hour, 0, 0).ok_or(RosterError::FirstHour)?;
        let start = day.and_time(time).and_local_timezone(offset).single().ok_or(RosterError::FirstHour)?;
        let start = start.timestamp_millis();
        (0..count).map(|i| ShiftTimes::new(start + i * hours * HOUR, start + (i + 1) * hours * HOUR)).collect()
    }
}

/// The instants bounding a local day: `[00:00, 24:00)` at `offset`.
pub fn day_bounds(day: NaiveDate, offset: FixedOffset) -> (Millis, Millis) {
    let start = day.and_time(NaiveTime::MIN).and_local_timezone(offset).single().map(|t| t.timestamp_millis());
    let start = start.unwrap_or_default();
    (start, start + 24 * HOUR)
}

/// A stored shift.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Shift {
    pub id: ShiftId,
    pub post: PostId,
    pub starts: Millis,
    pub ends: Millis,
}

impl Shift {
    pub fn times(&self) -> ShiftTimes {
        ShiftTimes { starts: self.starts, ends: self.ends }
    }
}

/// An assignment about to be stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAssignment {
    pub shift: ShiftId,
    pub person: PersonId,
    pub responsibility: String,
    pub at: Millis,
    pub by: UserId,
}

impl NewAssignment {
    pub const MAX_RESPONSIBILITY: usize = 200;

    pub fn new(
        shift: ShiftId,
        person: PersonId,
        responsibility: &str,
        at: Millis,
        by: UserId,
    ) -> Result<NewAssignment, RosterError> {
        let responsibility = responsibility.trim();
        if responsibility.is_empty() || responsibility.chars().count() > Self::MAX_RESPONSIBILITY {
            return Err(RosterError::Responsibility);
        }
        Ok(NewAssignment { shift, person, responsibility: responsibility.to_string(), at, by })
    }
}

/// A stored assignment with its attendance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Assignment {
    pub id: AssignmentId,
    pub shift: ShiftId,
    pub post: PostId,
    pub person: PersonId,
    pub responsibility: String,
    pub assigned_at: Millis,
    pub assigned_by: UserId,
    pub checked_in_at: Option<Millis>,
    pub checked_out_at: Option<Millis>,
}

/// The first assignment among `held` (the person's other assignments with their shifts' times)
/// whose shift overlaps `times`.
pub fn find_clash<'a>(times: &ShiftTimes, held: &'a [Clash]) -> Option<&'a Clash> {
    held.iter().find(|c| times.overlaps(&ShiftTimes { starts: c.starts, ends: c.ends }))
}

/// Where a person stands with a shift at `now`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Attendance {
    /// The shift has not started; not checked in.
    Upcoming,
    /// Started less than the no-show limit ago; not checked in yet.
    Due,
    /// Checked in, not out.
    OnPost,
    CheckedOut,
    /// Running, started more than the no-show limit ago, and no check-in.
    NoShow,
    /// Over, and never checked in.
    Missed,
}

impl Attendance {
    pub fn of(
        times: &ShiftTimes,
        checked_in: Option<Millis>,
        checked_out: Option<Millis>,
        now: Millis,
        rules: &RosterRules,
    ) -> Attendance {
        // What had happened by `now` (a roster of the past is read as it stood then).
        let checked_in = checked_in.filter(|t| *t <= now);
        let checked_out = checked_out.filter(|t| *t <= now);
        match (checked_in, checked_out) {
            (_, Some(_)) => Self::CheckedOut,
            (Some(_), None) => Self::OnPost,
            (None, None) if now < times.starts => Self::Upcoming,
            (None, None) if now < times.starts + rules.no_show_after => Self::Due,
            (None, None) if now < times.ends => Self::NoShow,
            (None, None) => Self::Missed,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Upcoming => "upcoming",
            Self::Due => "due",
            Self::OnPost => "on_post",
            Self::CheckedOut => "checked_out",
            Self::NoShow => "no_show",
            Self::Missed => "missed",
        }
    }

    /// A no-show now, or one whose shift ended without a check-in.
    pub fn is_no_show(self) -> bool {
        matches!(self, Self::NoShow | Self::Missed)
    }
}

/// What a check-in does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckIn {
    /// Record it at `now`.
    Record,
    /// Checked in already at this time: answer that, change nothing.
    Repeat(Millis),
}

/// Decides a check-in at `now` on what is stored.
pub fn check_in(
    times: &ShiftTimes,
    checked_in: Option<Millis>,
    now: Millis,
    rules: &RosterRules,
) -> Result<CheckIn, RosterError> {
    if let Some(at) = checked_in {
        return Ok(CheckIn::Repeat(at));
    }
    let opens_at = times.starts - rules.early_check_in;
    if now < opens_at {
        return Err(RosterError::TooEarly { opens_at, minutes: rules.early_check_in / MINUTE });
    }
    if now >= times.ends {
        return Err(RosterError::ShiftOver { ends: times.ends });
    }
    Ok(CheckIn::Record)
}

/// What a check-out does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckOut {
    Record,
    /// Checked out already at this time: answer that, change nothing.
    Repeat(Millis),
}

/// Decides a check-out on what is stored: it needs a check-in; leaving early or late is a fact
/// and is recorded.
pub fn check_out(checked_in: Option<Millis>, checked_out: Option<Millis>) -> Result<CheckOut, RosterError> {
    match (checked_in, checked_out) {
        (_, Some(at)) => Ok(CheckOut::Repeat(at)),
        (None, None) => Err(RosterError::NotCheckedIn),
        (Some(_), None) => Ok(CheckOut::Record),
    }
}

/// How many people a shift lacks, when it is running at `now` or starts within the horizon and
/// has fewer than `needed` assigned; `None` otherwise.
pub fn shortfall(times: &ShiftTimes, needed: u32, assigned: u32, now: Millis, rules: &RosterRules) -> Option<u32> {
    let soon = times.starts < now + rules.unfilled_horizon && now < times.ends;
    (soon && assigned < needed).then(|| needed - assigned)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn china() -> FixedOffset {
        FixedOffset::east_opt(8 * 3600).unwrap()
    }

    /// 2022-10-06 00:00 +08:00.
    const OCT6: Millis = 1_664_985_600_000;

    #[test]
    fn shifts_end_after_they_start_and_last_at_most_a_day() {
        assert_eq!(ShiftTimes::new(OCT6, OCT6).unwrap_err(), RosterError::EndsBeforeStart);
        assert_eq!(ShiftTimes::new(OCT6, OCT6 - 1).unwrap_err().field(), "ends");
        assert_eq!(ShiftTimes::new(OCT6, OCT6 + MAX_SHIFT + 1).unwrap_err(), RosterError::TooLong);
        assert!(ShiftTimes::new(OCT6, OCT6 + MAX_SHIFT).is_ok());
    }

    #[test]
    fn a_day_is_cut_into_three_eights_two_twelves_or_one_twenty_four() {
        let day = NaiveDate::from_ymd_opt(2022, 10, 6).unwrap();
        let three = ShiftPattern::parse("3x8").unwrap().day(day, 0, china()).unwrap();
        assert_eq!(three.len(), 3);
        assert_eq!(three[0].starts, OCT6);
        assert_eq!(three[1].starts, three[0].ends);
        assert_eq!(three[2].ends, OCT6 + 24 * HOUR);
        let two = ShiftPattern::TwoByTwelve.day(day, 8, china()).unwrap();
        assert_eq!(two[0].starts, OCT6 + 8 * HOUR);
        assert_eq!(two[1].ends, OCT6 + 32 * HOUR);
        let one = ShiftPattern::OneByTwentyFour.day(day, 6, china()).unwrap();
        assert_eq!(one, vec![ShiftTimes { starts: OCT6 + 6 * HOUR, ends: OCT6 + 30 * HOUR }]);
        assert_eq!(ShiftPattern::parse("4x6").unwrap_err().field(), "pattern");
        assert_eq!(ShiftPattern::ThreeByEight.day(day, 24, china()).unwrap_err(), RosterError::FirstHour);
        assert_eq!(day_bounds(day, china()), (OCT6, OCT6 + 24 * HOUR));
    }

    #[test]
    fn back_to_back_shifts_do_not_clash_overlapping_ones_do() {
        let morning = ShiftTimes::new(OCT6 + 6 * HOUR, OCT6 + 14 * HOUR).unwrap();
        let held = vec![Clash {
            assignment: 1,
            shift: 9,
            post_name: "高速出口卡口".into(),
            starts: OCT6 + 14 * HOUR,
            ends: OCT6 + 22 * HOUR,
        }];
        assert_eq!(find_clash(&morning, &held), None);
        let noon = ShiftTimes::new(OCT6 + 12 * HOUR, OCT6 + 20 * HOUR).unwrap();
        let clash = find_clash(&noon, &held).cloned().unwrap();
        let message = RosterError::Overlap(clash).to_string();
        assert!(
            message.starts_with("person: already assigned to 高速出口卡口 from 2022-10-06 14:00 to 2022-10-06 22:00")
        );
        assert!(message.contains("shift 9"), "{message}");
    }

    #[test]
    fn responsibility_is_required_and_bounded() {
        assert_eq!(NewAssignment::new(1, 2, "  ", 0, 1).unwrap_err().field(), "responsibility");
        assert_eq!(NewAssignment::new(1, 2, &"责".repeat(201), 0, 1).unwrap_err(), RosterError::Responsibility);
        assert_eq!(NewAssignment::new(1, 2, " 测温 ", 0, 1).unwrap().responsibility, "测温");
    }

    #[test]
    fn check_in_opens_thirty_minutes_early_and_closes_at_the_end() {
        let rules = RosterRules::DEFAULT;
        let shift = ShiftTimes::new(OCT6 + 8 * HOUR, OCT6 + 16 * HOUR).unwrap();
        let too_early = check_in(&shift, None, OCT6 + 8 * HOUR - 31 * MINUTE, &rules).unwrap_err();
        assert!(matches!(too_early, RosterError::TooEarly { minutes: 30, .. }));
        assert!(too_early.to_string().contains("2022-10-06 07:30"), "{too_early}");
        assert_eq!(check_in(&shift, None, OCT6 + 8 * HOUR - 30 * MINUTE, &rules), Ok(CheckIn::Record));
        assert_eq!(check_in(&shift, None, OCT6 + 16 * HOUR - 1, &rules), Ok(CheckIn::Record));
        assert!(matches!(check_in(&shift, None, OCT6 + 16 * HOUR, &rules), Err(RosterError::ShiftOver { .. })));
        // A second check-in answers the first, whenever it comes.
        assert_eq!(
            check_in(&shift, Some(OCT6 + 8 * HOUR), OCT6 + 20 * HOUR, &rules),
            Ok(CheckIn::Repeat(OCT6 + 8 * HOUR))
        );
    }

    #[test]
    fn check_out_needs_a_check_in_and_repeats_answer_the_first() {
        assert_eq!(check_out(None, None), Err(RosterError::NotCheckedIn));
        assert_eq!(check_out(Some(5), None), Ok(CheckOut::Record));
        assert_eq!(check_out(Some(5), Some(9)), Ok(CheckOut::Repeat(9)));
    }

    #[test]
    fn attendance_follows_the_clock() {
        let rules = RosterRules::DEFAULT;
        let s = ShiftTimes::new(OCT6 + 8 * HOUR, OCT6 + 16 * HOUR).unwrap();
        let at = |m: Millis| Attendance::of(&s, None, None, m, &rules);
        assert_eq!(at(OCT6 + 7 * HOUR), Attendance::Upcoming);
        assert_eq!(at(OCT6 + 8 * HOUR + 15 * MINUTE - 1), Attendance::Due);
        assert_eq!(at(OCT6 + 8 * HOUR + 15 * MINUTE), Attendance::NoShow);
        assert_eq!(at(OCT6 + 16 * HOUR), Attendance::Missed);
        assert!(at(OCT6 + 16 * HOUR).is_no_show());
        assert_eq!(Attendance::of(&s, Some(1), None, OCT6 + 9 * HOUR, &rules), Attendance::OnPost);
        assert_eq!(Attendance::of(&s, Some(1), Some(2), OCT6 + 9 * HOUR, &rules), Attendance::CheckedOut);
        // Read as it stood then: a check-out after `now` has not happened yet, nor a check-in.
        let (came, left) = (Some(OCT6 + 8 * HOUR), Some(OCT6 + 16 * HOUR));
        assert_eq!(Attendance::of(&s, came, left, OCT6 + 9 * HOUR, &rules), Attendance::OnPost);
        assert_eq!(Attendance::of(&s, came, left, OCT6 + 7 * HOUR, &rules), Attendance::Upcoming);
    }

    #[test]
    fn unfilled_means_short_and_running_or_starting_soon() {
        let rules = RosterRules::DEFAULT;
        let s = ShiftTimes::new(OCT6 + 8 * HOUR, OCT6 + 16 * HOUR).unwrap();
        assert_eq!(shortfall(&s, 3, 1, OCT6 + 5 * HOUR, &rules), None, "starts in 3 h");
        assert_eq!(shortfall(&s, 3, 1, OCT6 + 6 * HOUR + 1, &rules), Some(2), "starts within 2 h");
        assert_eq!(shortfall(&s, 3, 1, OCT6 + 12 * HOUR, &rules), Some(2), "running");
        assert_eq!(shortfall(&s, 3, 3, OCT6 + 12 * HOUR, &rules), None, "full");
        assert_eq!(shortfall(&s, 3, 0, OCT6 + 16 * HOUR, &rules), None, "over");
    }
}
