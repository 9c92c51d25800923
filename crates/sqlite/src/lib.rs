//! The embedded SQLite engine of Bulwark's storage contracts.
