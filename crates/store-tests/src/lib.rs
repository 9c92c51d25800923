//! Contract tests that every storage engine of Bulwark passes unchanged.
