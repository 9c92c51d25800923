//! Importing resident registers.
