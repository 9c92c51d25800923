//! Accounts and roles. Every account has exactly one role and one area scope: what the role allows,
//! it allows inside that subtree only.

use crate::areas::AreaId;
use serde::{Deserialize, Serialize};
use std::fmt;

pub type UserId = i64;

/// The roles of a headquarters and its field staff.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Manages accounts and the area tree; does not read residents' records.
    Admin,
    /// The commander and deputy commanders at headquarters.
    Commander,
    /// A member of one of the working groups.
    WorkingGroup,
    /// 网格员: answers for the residents of one grid.
    GridWorker,
    /// Medical sampler or registrar at a sampling site.
    Sampler,
    /// Staff of a road checkpoint.
    Checkpoint,
    /// Laboratory staff: tubes and results, no addresses or phones.
    Lab,
    /// Dispatcher of transfers to isolation.
    TransferDispatcher,
    /// Reads the audit log; cannot read or change data.
    Auditor,
}

impl Role {
    pub const ALL: [Role; 9] = [
        Self::Admin,
        Self::Commander,
        Self::WorkingGroup,
        Self::GridWorker,
        Self::Sampler,
        Self::Checkpoint,
        Self::Lab,
        Self::TransferDispatcher,
        Self::Auditor,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::Commander => "commander",
            Self::WorkingGroup => "working_group",
            Self::GridWorker => "grid_worker",
            Self::Sampler => "sampler",
            Self::Checkpoint => "checkpoint",
            Self::Lab => "lab",
            Self::TransferDispatcher => "transfer_dispatcher",
            Self::Auditor => "auditor",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Self::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccountError {
    #[error("a username has 3 to 32 characters: lower-case letters, digits, '.', '_' or '-'")]
    Username,
    #[error("a password has at least 10 characters")]
    WeakPassword,
}

/// A login name: lower-case ASCII, so look-ups never depend on case folding rules.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Username(String);

impl Username {
    pub fn parse(s: &str) -> Result<Username, AccountError> {
        let s = s.trim().to_ascii_lowercase();
        let ok = (3..=32).contains(&s.len())
            && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b));
        ok.then_some(Username(s)).ok_or(AccountError::Username)
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// NIST 800-63B: length matters, composition rules do not.
pub fn check_password_strength(password: &str) -> Result<(), AccountError> {
    if password.chars().count() >= 10 { Ok(()) } else { Err(AccountError::WeakPassword) }
}

/// An account about to be created. The password is already hashed by the caller.
#[derive(Debug, Clone)]
pub struct NewAccount {
    pub username: Username,
    pub display_name: String,
    pub role: Role,
    /// The subtree the role applies to.
    pub scope: AreaId,
    pub password_hash: String,
}

/// A stored account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub id: UserId,
    pub username: Username,
    pub display_name: String,
    pub role: Role,
    pub scope: AreaId,
    pub disabled: bool,
}
