//! Bulwark's application services: each use case as a function that checks the policy, applies
//! the domain rules, talks to storage and writes the audit trail. The web server and the CLI are
//! thin shells over these; nothing here knows about HTTP.
//!
//! Every service takes an [`Actor`] (who is asking, in which role and scope) and the current
//! time, which the caller reads from its clock: services never read the clock themselves.

pub mod accounts;
pub mod actor;
pub mod areas;
pub mod audit;
pub mod command;
pub mod demo;
pub mod demo_command;
pub mod demo_leaders;
pub mod demo_rosters;
pub mod demo_testing;
pub mod error;
pub mod imports;
pub mod leaders;
pub mod notify;
pub mod people;
pub mod reports;
pub mod rosters;
pub mod testing;

pub use actor::Actor;
pub use error::{AppError, AppResult};
