//! Bulwark's domain core.
//!
//! Everything here is plain data and rules: no HTTP, no SQL, and no clock. Whatever depends on
//! "now" takes it as a parameter, so tests can stand at 07:31 on the day of an outbreak.
//! Types parse instead of validate: an [`people::IdNumber`] that exists is a valid one.

pub mod access;
pub mod areas;
pub mod audit;
pub mod command;
pub mod notify;
pub mod people;
pub mod reports;
pub mod testing;
pub mod workforce;

/// Milliseconds since the Unix epoch, UTC: how every instant is stored and passed around.
pub type Millis = i64;
