//! Loading the demo town.
