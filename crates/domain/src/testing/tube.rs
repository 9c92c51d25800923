//! Tubes (采样管) and their barcodes.
//!
//! No national barcode standard exists: tubes come with pre-printed Code 128 labels from the lab
//! or the provincial platform, so a tube code is an opaque string checked against a configurable
//! pattern (domain-rules §3.4; default `^[A-Za-z0-9-]{6,24}$`).

use serde::{Deserialize, Serialize};
use std::fmt;

pub type TubeId = i64;

/// What a tube code must look like: its length, and which characters it may hold. A prefix can be
/// required when a town's labels all start the same way (e.g. `EP`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TubeFormat {
    pub min_len: usize,
    pub max_len: usize,
    /// Required prefix, upper case; empty for none.
    pub prefix: String,
}

impl Default for TubeFormat {
    fn default() -> Self {
        TubeFormat { min_len: 6, max_len: 24, prefix: String::new() }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TubeCodeError {
    #[error("a tube code has {min} to {max} characters; this one has {len}")]
    Length { len: usize, min: usize, max: usize },
    #[error("a tube code holds only letters A–Z, digits and '-'")]
    Characters,
    #[error("tube codes here start with {0}")]
    Prefix(String),
}

/// A tube's barcode, upper-cased, checked against a [`TubeFormat`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TubeCode(String);

impl TubeCode {
    pub fn parse(raw: &str, format: &TubeFormat) -> Result<TubeCode, TubeCodeError> {
        // Keyboard-wedge scanners may add spaces or a trailing newline; labels mix case.
        let code: String = raw.trim().to_ascii_uppercase();
        let len = code.chars().count();
        if len < format.min_len || len > format.max_len {
            return Err(TubeCodeError::Length { len, min: format.min_len, max: format.max_len });
        }
        if !code.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            return Err(TubeCodeError::Characters);
        }
        if !code.starts_with(&format.prefix) {
            return Err(TubeCodeError::Prefix(format.prefix.clone()));
        }
        Ok(TubeCode(code))
    }

    /// A code read back from storage, where it was checked on the way in.
    pub fn from_stored(code: String) -> TubeCode {
        TubeCode(code)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TubeCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where a tube is in its life: collecting swabs, sealed (封管) for transport, or tested.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TubeState {
    Open,
    Sealed,
    Resulted,
}

impl TubeState {
    pub fn as_str(self) -> &'static str {
        match self {
            TubeState::Open => "open",
            TubeState::Sealed => "sealed",
            TubeState::Resulted => "resulted",
        }
    }

    pub fn parse(s: &str) -> Option<TubeState> {
        [TubeState::Open, TubeState::Sealed, TubeState::Resulted].into_iter().find(|t| t.as_str() == s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_normalised_and_checked() {
        let f = TubeFormat::default();
        assert_eq!(TubeCode::parse(" ep2022-000123\n", &f).unwrap().as_str(), "EP2022-000123");
        assert!(matches!(TubeCode::parse("12345", &f), Err(TubeCodeError::Length { len: 5, .. })));
        assert_eq!(TubeCode::parse("1234 567", &f), Err(TubeCodeError::Characters));
        assert_eq!(TubeCode::parse("管12345678", &f), Err(TubeCodeError::Characters));
        let ep = TubeFormat { prefix: "EP".into(), ..TubeFormat::default() };
        assert_eq!(TubeCode::parse("XX123456", &ep), Err(TubeCodeError::Prefix("EP".into())));
    }
}
