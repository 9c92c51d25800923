//! The audit log: who did what to which person, when, in which role, and how it ended.
//!
//! One entry per person per read (a list of 50 people is 50 entries) and one per write. People are
//! named by their internal id only, never by ID number or phone, so the log can outlive the purge
//! of personal data at the end of an emergency.

use crate::{
    Millis,
    access::{Operation, Role, UserId},
    people::PersonId,
};
use serde::{Deserialize, Serialize};

/// How an audited request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Success,
    /// Refused by the policy or the scope.
    Denied,
    /// Refused for bad input.
    Rejected,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Denied => "denied",
            Self::Rejected => "rejected",
        }
    }
    pub fn parse(s: &str) -> Option<Outcome> {
        [Self::Success, Self::Denied, Self::Rejected].into_iter().find(|o| o.as_str() == s)
    }
}

/// An audit entry about to be appended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAuditEntry {
    pub at: Millis,
    pub user: Option<UserId>,
    pub username: String,
    pub role: Option<Role>,
    pub operation: Operation,
    pub person: Option<PersonId>,
    pub outcome: Outcome,
    /// Free text without personal data: a reveal's reason, an import's counts.
    pub detail: Option<String>,
    /// The request this entry belongs to, to group a list's entries.
    pub request_id: String,
}

impl NewAuditEntry {
    /// Whether `other` belongs to the same request with the same outcome and detail: storage keeps
    /// those fields once for a run of such entries (a list of 50,000 people is one request's row
    /// and 50,000 narrow rows naming a person each).
    pub fn shares_request_with(&self, other: &NewAuditEntry) -> bool {
        self.request_id == other.request_id
            && self.at == other.at
            && self.user == other.user
            && self.username == other.username
            && self.role == other.role
            && self.operation == other.operation
            && self.outcome == other.outcome
            && self.detail == other.detail
    }
}

/// A stored audit entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditEntry {
    pub seq: i64,
    pub at: Millis,
    pub user: Option<UserId>,
    pub username: String,
    pub role: Option<String>,
    pub operation: String,
    pub person: Option<PersonId>,
    pub outcome: String,
    pub detail: Option<String>,
    pub request_id: String,
}

/// Who is acting, in which request: what every write carries so that storage can append the
/// audit entry in the same transaction as the change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditStamp {
    pub at: Millis,
    pub user: Option<UserId>,
    pub username: String,
    pub role: Option<Role>,
    pub operation: Operation,
    pub request_id: String,
}

impl AuditStamp {
    /// The entry for `person` (or for no person) with the given outcome.
    pub fn entry(&self, person: Option<PersonId>, outcome: Outcome, detail: Option<String>) -> NewAuditEntry {
        NewAuditEntry {
            at: self.at,
            user: self.user,
            username: self.username.clone(),
            role: self.role,
            operation: self.operation,
            person,
            outcome,
            detail,
            request_id: self.request_id.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stamp() -> AuditStamp {
        AuditStamp {
            at: 1,
            user: Some(7),
            username: "li".into(),
            role: Some(Role::Commander),
            operation: Operation::AbnormalPoolsRead,
            request_id: "r1".into(),
        }
    }

    #[test]
    fn entries_of_one_request_share_it_whoever_they_name() {
        let s = stamp();
        assert!(s.entry(Some(1), Outcome::Success, None).shares_request_with(&s.entry(
            Some(2),
            Outcome::Success,
            None
        )));
        assert!(s.entry(None, Outcome::Success, None).shares_request_with(&s.entry(Some(2), Outcome::Success, None)));
    }

    #[test]
    fn another_outcome_detail_or_request_is_another_row() {
        let s = stamp();
        let first = s.entry(Some(1), Outcome::Success, None);
        assert!(!first.shares_request_with(&s.entry(Some(1), Outcome::Denied, None)));
        assert!(!first.shares_request_with(&s.entry(Some(1), Outcome::Success, Some("why".into()))));
        let other = AuditStamp { request_id: "r2".into(), ..stamp() };
        assert!(!first.shares_request_with(&other.entry(Some(1), Outcome::Success, None)));
        let later = AuditStamp { at: 2, ..stamp() };
        assert!(!first.shares_request_with(&later.entry(Some(1), Outcome::Success, None)));
    }
}
