//! Bulwark's web server: pages, JSON API, sessions, authorization and audit.
