//! Storage of workforce posts and rosters: posts, their shifts, the assignments of people to
//! shifts (定人定岗定责) with their check-ins and check-outs.
//!
//! Rules every engine keeps, on top of the crate's:
//! - A person is never on two overlapping shifts: the clash is looked for with
//!   [`bulwark_domain::workforce::find_clash`] inside the transaction that stores the assignment,
//!   with the person's assignments serialised (the SQLite writer; a per-person advisory lock on
//!   PostgreSQL), so two concurrent overlapping assignments cannot both win.
//! - A check-in or check-out is decided by [`bulwark_domain::workforce::check_in`] /
//!   [`check_out`](bulwark_domain::workforce::check_out) inside the transaction that records it,
//!   on the assignment as stored then; a repeat answers the stored time and changes nothing.
//! - Posts are scoped by the path of their area, in the query.

use crate::StoreResult;
use async_trait::async_trait;
use bulwark_domain::{
    Millis,
    access::Scope,
    workforce::{
        Assignment, AssignmentId, Clash, NewAssignment, NewPost, Post, PostId, RosterError, RosterRules, Shift,
        ShiftId, ShiftTimes,
    },
};

/// A shift with its assignments (oldest first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShiftRoster {
    pub shift: Shift,
    pub assignments: Vec<Assignment>,
}

/// A post with its shifts of a stretch of time (by start).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostRoster {
    pub post: Post,
    pub shifts: Vec<ShiftRoster>,
}

/// An assignment with its shift and post (what scope checks and attendance rules need).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssignmentDetail {
    pub assignment: Assignment,
    pub shift: Shift,
    pub post: Post,
}

/// The answer to an assignment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Assigned {
    Stored(Assignment),
    /// The person holds this overlapping assignment already: nothing was stored.
    Clash(Clash),
}

/// The answer to a check-in or check-out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attended {
    /// Recorded now.
    Recorded(Assignment),
    /// Recorded before: the assignment as stored, unchanged.
    Repeated(Assignment),
    /// Refused by the rules (too early, shift over, not checked in): nothing changed.
    Refused(RosterError),
}

/// The staffing picture at one instant, for the commander's dashboard.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RosterSummary {
    /// Posts inside the scope.
    pub posts: u64,
    /// Shifts running now.
    pub shifts_running: u64,
    /// People assigned to the shifts running now.
    pub assigned: u64,
    /// People checked in and not out (as of `now`), on shifts running now.
    pub checked_in: u64,
    /// Shifts running now or starting within the horizon with fewer people than their post needs.
    pub unfilled_shifts: u64,
    /// The people those shifts lack, in all.
    pub unfilled_places: u64,
    /// People on running shifts, started more than the no-show limit ago, who have not checked in.
    pub no_shows: u64,
}

/// Storage of posts and rosters.
#[async_trait]
pub trait RosterStore: Send + Sync {
    /// Creates a post. An unknown area or site is [`crate::StoreError::Invalid`].
    async fn create_post(&self, post: NewPost, at: Millis) -> StoreResult<Post>;
    async fn post(&self, id: PostId) -> StoreResult<Option<Post>>;
    /// Posts whose area lies inside `scope`, by name then id.
    async fn posts(&self, scope: &Scope) -> StoreResult<Vec<Post>>;
    /// Adds shifts to a post, all or nothing, in input order. An unknown post is
    /// [`crate::StoreError::Invalid`]; a shift with the same start and end as one the post has is
    /// [`crate::StoreError::Conflict`].
    async fn create_shifts(&self, post: PostId, shifts: Vec<ShiftTimes>) -> StoreResult<Vec<Shift>>;
    /// A shift with its post.
    async fn shift(&self, id: ShiftId) -> StoreResult<Option<(Shift, Post)>>;
    /// The post's shifts that overlap `[from, to)`, by start.
    async fn shifts(&self, post: PostId, from: Millis, to: Millis) -> StoreResult<Vec<Shift>>;
    /// Assigns a person to a shift, unless the person holds an overlapping assignment. An unknown
    /// shift or person is [`crate::StoreError::Invalid`].
    async fn assign(&self, new: NewAssignment) -> StoreResult<Assigned>;
    async fn assignment(&self, id: AssignmentId) -> StoreResult<Option<AssignmentDetail>>;
    /// Removes an assignment. An unknown one is [`crate::StoreError::NotFound`]; one with a
    /// check-in is [`crate::StoreError::Conflict`] (attendance is never erased).
    async fn remove_assignment(&self, id: AssignmentId) -> StoreResult<Assignment>;
    /// Checks in at `now`. An unknown assignment is [`crate::StoreError::NotFound`].
    async fn check_in(&self, id: AssignmentId, now: Millis, rules: RosterRules) -> StoreResult<Attended>;
    /// Checks out at `now`. An unknown assignment is [`crate::StoreError::NotFound`].
    async fn check_out(&self, id: AssignmentId, now: Millis) -> StoreResult<Attended>;
    /// The posts inside `scope` with their shifts overlapping `[from, to)` and those shifts'
    /// assignments. Posts without such shifts are included (with none).
    async fn roster(&self, scope: &Scope, from: Millis, to: Millis) -> StoreResult<Vec<PostRoster>>;
    /// The staffing picture inside `scope` at `now`, as it stood then (check-ins and check-outs
    /// after `now` do not count yet): a few index range scans over the shifts near `now`, never
    /// over the whole roster.
    async fn roster_summary(&self, scope: &Scope, now: Millis, rules: RosterRules) -> StoreResult<RosterSummary>;
}

/// One shift near `now` as the summary reads it: its times, its post's need, the people assigned,
/// checked in (and not out), and not checked in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShiftCounts {
    pub times: ShiftTimes,
    pub needed: u32,
    pub assigned: u32,
    pub on_post: u32,
    pub not_checked_in: u32,
}

impl RosterSummary {
    /// Folds the shifts that run at `now` or start within the horizon (what the engines read)
    /// into the summary, with the domain's rules.
    pub fn fold(posts: u64, shifts: &[ShiftCounts], now: Millis, rules: &RosterRules) -> RosterSummary {
        let mut s = RosterSummary { posts, ..Default::default() };
        for c in shifts {
            if let Some(short) = bulwark_domain::workforce::shortfall(&c.times, c.needed, c.assigned, now, rules) {
                s.unfilled_shifts += 1;
                s.unfilled_places += u64::from(short);
            }
            if c.times.is_running(now) {
                s.shifts_running += 1;
                s.assigned += u64::from(c.assigned);
                s.checked_in += u64::from(c.on_post);
                if now >= c.times.starts + rules.no_show_after {
                    s.no_shows += u64::from(c.not_checked_in);
                }
            }
        }
        s
    }
}

/// The earliest start a shift overlapping `now` can have (shifts last at most 24 hours): the
/// lower bound of the summary's range scan.
pub fn earliest_running_start(now: Millis) -> Millis {
    now - bulwark_domain::workforce::roster::MAX_SHIFT
}
