//! The Shengtang demo town: deterministic synthetic areas, residents and staff.
