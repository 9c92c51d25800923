//! Mass testing use cases: rounds and sites, scan-to-register, tubes, lab results, coverage, the
//! door-knock list, home visits and abnormal pools.
//!
//! A registration is not audited separately: its row names who scanned whom, when and where, and
//! is append-only, so it is its own audit record (one more audit row per scan would halve the
//! hot path's throughput for no extra information).

pub mod coverage;
pub mod registrations;
pub mod results;
pub mod rounds;

use crate::{AppError, AppResult};
use bulwark_domain::Millis;
use chrono::{DateTime, FixedOffset};

/// An RFC 3339 time as milliseconds.
pub(crate) fn millis_of(field: &str, t: Option<&str>) -> AppResult<Option<Millis>> {
    t.map(|t| {
        DateTime::<FixedOffset>::parse_from_rfc3339(t.trim())
            .map(|d| d.timestamp_millis())
            .map_err(|_| AppError::invalid(field, "a time such as 2022-10-06T07:00:00+08:00"))
    })
    .transpose()
}
