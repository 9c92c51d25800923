//! Command (指挥): plan templates, activation into an incident, working groups and their timed
//! tasks, the 30-minute roll-call and the incident timeline.
//!
//! A [`Plan`] says what a headquarters does when an outbreak is found: its working groups (each
//! with a lead and the teams that staff it), tasks with deadlines relative to activation, the
//! assembly deadline and the places to set up. Activating it ([`Plan::instantiate`]) gives the
//! groups, the members of each (from the staff list) and the tasks with absolute deadlines.
//! Nothing here reads the clock: every "is it overdue?" takes `now`.

mod golden24;
mod incident;
mod plan;
mod rollcall;
mod task;
mod timeline;

pub use golden24::golden_24_hours;
pub use incident::{Activation, GroupId, IncidentId, IncidentLevel, NewGroup, NewTask};
pub use plan::{GroupTemplate, Place, PlaceKind, Plan, PlanError, PlanKey, TaskTemplate};
pub use rollcall::{GroupRollCall, MemberState, RollCallPlace, RollCallStatus, RollCallTally, tally};
pub use task::{Task, TaskChange, TaskError, TaskId, TaskStatus};
pub use timeline::{TimelineEntry, TimelineKind};
