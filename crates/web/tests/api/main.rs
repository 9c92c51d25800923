//! The web server end to end over HTTP: a real server on a loopback port, a real database of each
//! engine, the fixture of `bulwark-testkit`.

mod smoke;
mod fail_closed;
