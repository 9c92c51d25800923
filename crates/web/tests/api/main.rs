//! The web server end to end over HTTP: a real server on a loopback port, a real database of each
//! engine, the fixture of `bulwark-testkit`.

mod fail_closed;
mod imports;
mod pages;
mod smoke;
