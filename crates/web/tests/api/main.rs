//! The web server end to end over HTTP: a real server on a loopback port, a real database of each
//! engine, the fixture of `bulwark-testkit`.

mod support;

mod audit_completeness;
mod authorization_matrix;
mod command;
mod command_matrix;
mod csrf;
mod exports;
mod fail_closed;
mod imports;
mod json_bodies;
mod leaders;
mod list_scoping;
mod login_throttle;
mod masking;
mod mass_assignment;
mod notify;
mod pages;
mod plan_editor;
mod policy_completeness;
mod reports;
mod rosters;
mod rosters_pages;
mod sessions;
mod smoke;
mod testing;
mod testing_matrix;
mod testing_pages;
mod transport;
mod two_servers;
