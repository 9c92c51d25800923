//! The PostgreSQL engine of Bulwark's storage contracts.
