//! Test databases: see `bulwark_postgres::testing`.

pub use bulwark_postgres::testing::*;
