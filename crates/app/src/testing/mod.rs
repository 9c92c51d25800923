//! Mass testing use cases: rounds and sites, scan-to-register, tubes, lab results, coverage, the
//! door-knock list, home visits and abnormal pools.
//!
//! The answer to a scan shows who was scanned (name, masked document, green-channel reasons), so
//! it is an audited read like any other: the entry is committed before the answer is sent.

pub mod coverage;
pub mod lab_import;
pub mod pool_counts;
pub mod printables;
pub mod registrations;
pub mod results;
pub mod rounds;
pub mod transport;

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
