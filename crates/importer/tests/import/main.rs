//! Integration tests of the importer. Every file is written at test time by a real tool
//! (rust_xlsxwriter for workbooks, encoding_rs for the encodings Chinese Excel saves CSV in) and
//! goes through `read_table` and `parse_residents` the way an upload does.
//!
//! Names are obviously synthetic (测试…); ID numbers are built with `IdNumber::from_body`.

mod csv_encodings;
mod lab_results;
mod limits;
mod never_panics;
mod rows;
mod support;
mod xlsx;
