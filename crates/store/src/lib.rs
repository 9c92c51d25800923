//! Storage contracts of Bulwark.
//!
//! One trait per capability ([`AreaStore`], [`PersonStore`], [`AccountStore`], [`SessionStore`],
//! [`AuditStore`], [`StaffStore`], [`RosterStore`], [`SettingsStore`], [`LeaderStore`] and the others); [`Store`] is all of them, as the server holds it. Two engines implement them:
//! `bulwark-sqlite` (embedded, the default) and `bulwark-postgres`. The contract tests in
//! `bulwark-store-tests` run unchanged against both.
//!
//! Rules every implementation keeps:
//! - Reads of people take a [`Scope`] and never return a row outside it: scope is part of the
//!   query, not a filter applied afterwards.
//! - Every write that changes a person appends its audit entries in the same transaction.
//! - A call returns only after its transaction is durably committed.
//! - The audit table is append-only: the engine itself refuses UPDATE and DELETE on it.

pub mod broadcast;
pub mod command;
mod error;
pub mod leaders;
pub mod notify;
pub mod rosters;
pub mod settings;
pub mod testing;
pub mod transport;

use async_trait::async_trait;
use bulwark_domain::{
    Millis,
    access::{Account, NewAccount, Scope, SessionTimes, UserId, Username},
    areas::{Area, AreaCode, AreaId, AreaKind, NewArea},
    audit::{AuditEntry, AuditStamp, NewAuditEntry},
    people::{Document, NewPerson, Person, PersonId, Phone, SpecialNeeds},
    workforce::{StaffMember, Team},
};

pub use bulwark_domain::access::SessionKind;
pub use command::CommandStore;
pub use error::{StoreError, StoreResult};
pub use leaders::LeaderStore;
pub use notify::NotificationStore;
pub use rosters::RosterStore;
pub use settings::SettingsStore;
pub use testing::TestingStore;
pub use transport::TransportStore;

/// The area tree.
#[async_trait]
pub trait AreaStore: Send + Sync {
    /// Creates areas under parents that exist already, all or nothing, in input order. The caller
    /// has checked the nesting rules. A duplicate code is [`StoreError::Conflict`]; an unknown
    /// parent is [`StoreError::Invalid`].
    async fn create_areas(&self, areas: Vec<NewArea>) -> StoreResult<Vec<Area>>;
    /// Creates one area; see [`AreaStore::create_areas`].
    async fn create_area(&self, area: NewArea) -> StoreResult<Area> {
        self.create_areas(vec![area]).await?.pop().ok_or_else(|| StoreError::Internal("no area created".into()))
    }
    async fn area(&self, id: AreaId) -> StoreResult<Option<Area>>;
    async fn area_by_code(&self, code: &AreaCode) -> StoreResult<Option<Area>>;
    /// Areas inside `scope`, shallowest first then by code; households only when `households`.
    async fn areas_within(&self, scope: &Scope, households: bool) -> StoreResult<Vec<Area>>;
    /// Direct children of an area, by code.
    async fn children(&self, parent: AreaId) -> StoreResult<Vec<Area>>;
    /// The areas on the path from the root down to `id`, root first.
    async fn ancestors(&self, id: AreaId) -> StoreResult<Vec<Area>>;
    async fn rename_area(&self, id: AreaId, name: &str) -> StoreResult<Area>;
    /// Moves everything inside grid `from` (households, people, account scopes) into grid `into`
    /// and removes `from`, in one transaction. The caller has checked that both are grids of the
    /// same village. Returns how many people moved.
    async fn merge_grid(&self, from: AreaId, into: AreaId) -> StoreResult<u64>;
    /// Number of areas of each kind inside `scope`.
    async fn count_areas(&self, scope: &Scope, kind: AreaKind) -> StoreResult<u64>;
}

/// Which people to list.
#[derive(Debug, Clone)]
pub struct PersonQuery {
    /// Only people inside this subtree (already narrowed to the caller's scope).
    pub within: Scope,
    /// A name prefix, or a document number's last characters.
    pub search: Option<String>,
    /// Keyset pagination: only ids greater than this.
    pub after: Option<PersonId>,
    pub limit: u32,
}

/// A change to a person's record. `None` leaves a field alone.
#[derive(Debug, Clone, Default)]
pub struct PersonChange {
    pub name: Option<String>,
    pub phone: Option<Option<Phone>>,
    pub address: Option<Option<String>>,
    pub area: Option<AreaId>,
    pub needs: Option<SpecialNeeds>,
}

impl PersonChange {
    /// Applies the field changes (all but `area`, which the engine places) to `person`, and names
    /// the fields that really changed, for the audit entry's detail.
    pub fn apply_fields(self, person: &mut Person) -> Vec<&'static str> {
        let mut changed = Vec::new();
        if let Some(name) = self.name.filter(|n| *n != person.name) {
            person.name = name;
            changed.push("name");
        }
        if let Some(phone) = self.phone.filter(|p| *p != person.phone) {
            person.phone = phone;
            changed.push("phone");
        }
        if let Some(address) = self.address.filter(|a| *a != person.address) {
            person.address = address;
            changed.push("address");
        }
        if let Some(needs) = self.needs.filter(|n| *n != person.needs) {
            person.needs = needs;
            changed.push("needs");
        }
        changed
    }

    /// The audit detail for the fields that changed: their names, never their values.
    pub fn detail(changed: &[&str]) -> Option<String> {
        (!changed.is_empty()).then(|| format!("changed: {}", changed.join(", ")))
    }
}

/// The resident register.
#[async_trait]
pub trait PersonStore: Send + Sync {
    /// Registers one person and appends the stamp's audit entry in the same transaction.
    /// The same document registered twice is [`StoreError::Conflict`]; an unknown area is
    /// [`StoreError::Invalid`].
    async fn insert_person(&self, person: NewPerson, stamp: &AuditStamp) -> StoreResult<Person>;
    /// Registers many people all-or-nothing (imports, the demo), with one audit entry each.
    /// Returns their ids in input order.
    async fn insert_people(&self, people: Vec<NewPerson>, stamp: &AuditStamp) -> StoreResult<Vec<PersonId>>;
    /// One person, if they exist and are inside `scope`.
    async fn person(&self, scope: &Scope, id: PersonId) -> StoreResult<Option<Person>>;
    /// People matching `query`, by id.
    async fn people(&self, query: &PersonQuery) -> StoreResult<Vec<Person>>;
    /// These people, those inside `scope` only, by id (ids not found or outside are left out).
    async fn people_by_ids(&self, scope: &Scope, ids: &[PersonId]) -> StoreResult<Vec<Person>>;
    async fn count_people(&self, scope: &Scope) -> StoreResult<u64>;
    /// Which of these documents are already registered, anywhere (imports reject duplicates).
    async fn registered_documents(&self, documents: &[Document]) -> StoreResult<Vec<Document>>;
    /// Changes a person inside `scope` and appends the audit entry in the same transaction.
    async fn update_person(
        &self,
        scope: &Scope,
        id: PersonId,
        change: PersonChange,
        stamp: &AuditStamp,
    ) -> StoreResult<Person>;
}

/// Accounts.
#[async_trait]
pub trait AccountStore: Send + Sync {
    /// A duplicate username is [`StoreError::Conflict`].
    async fn create_account(&self, account: NewAccount, now: Millis) -> StoreResult<Account>;
    async fn account(&self, id: UserId) -> StoreResult<Option<Account>>;
    /// The account and its password hash.
    async fn account_by_username(&self, username: &Username) -> StoreResult<Option<(Account, String)>>;
    /// Accounts whose scope lies inside `scope`, by username.
    async fn accounts(&self, scope: &Scope) -> StoreResult<Vec<Account>>;
    /// Disabling an account also ends all its sessions.
    async fn set_disabled(&self, id: UserId, disabled: bool) -> StoreResult<()>;
    async fn set_password_hash(&self, id: UserId, hash: &str) -> StoreResult<()>;
}

/// Login sessions and API tokens, stored by the SHA-256 of their secret.
#[async_trait]
pub trait SessionStore: Send + Sync {
    async fn create_session(&self, token_hash: &str, user: UserId, kind: SessionKind, now: Millis) -> StoreResult<()>;
    /// The session's times and its (enabled) account.
    async fn session(&self, token_hash: &str) -> StoreResult<Option<(SessionTimes, Account)>>;
    async fn touch_session(&self, token_hash: &str, now: Millis) -> StoreResult<()>;
    async fn delete_session(&self, token_hash: &str) -> StoreResult<()>;
}

/// Which audit entries to read, newest first.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    pub person: Option<PersonId>,
    pub user: Option<UserId>,
    /// Keyset pagination: only entries older than this sequence number.
    pub before: Option<i64>,
    pub limit: u32,
}

/// The append-only audit log.
#[async_trait]
pub trait AuditStore: Send + Sync {
    /// Appends entries durably; callers send no person data before this returns.
    async fn append_audit(&self, entries: Vec<NewAuditEntry>) -> StoreResult<()>;
    /// Entries newest first. A person's entries are found whether or not
    /// [`index_audit`](AuditStore::index_audit) has indexed them yet.
    async fn audit_entries(&self, query: &AuditQuery) -> StoreResult<Vec<AuditEntry>>;
    /// Adds entries appended but not yet indexed to the index of entries by person, about
    /// `limit` of them; `true` when more may be waiting. An engine may keep that index behind the
    /// log: SQLite appends a list read's 50,000 entries as rows in the order they come, and the
    /// random inserts into the person index happen here, off the reader's request, in key order;
    /// PostgreSQL appends a list's entries as one row with their numbers and writes them out as
    /// rows here, a list at a time. The server calls it in the background; queries read waiting
    /// entries as well, so the answer is the same before and after.
    async fn index_audit(&self, limit: u32) -> StoreResult<bool>;
}

/// Staff assignments.
#[async_trait]
pub trait StaffStore: Send + Sync {
    /// Adds assignments; a person may serve in one team per area once (duplicates are ignored,
    /// except that an e-mail address given sets the assignment's).
    async fn add_staff(&self, staff: Vec<StaffMember>) -> StoreResult<()>;
    /// Assignments whose area lies inside `scope`.
    async fn staff(&self, scope: &Scope, team: Option<Team>) -> StoreResult<Vec<StaffMember>>;
}

/// Everything the server needs from storage.
#[async_trait]
pub trait Store:
    AreaStore
    + PersonStore
    + AccountStore
    + SessionStore
    + AuditStore
    + StaffStore
    + TestingStore
    + TransportStore
    + CommandStore
    + NotificationStore
    + RosterStore
    + SettingsStore
    + LeaderStore
{
    /// Which engine this is: "sqlite" or "postgres".
    fn engine(&self) -> &'static str;
    /// Succeeds when the database answers.
    async fn ping(&self) -> StoreResult<()>;
    /// The channel between the servers sharing this database, when several can share it.
    fn broadcast(&self) -> Option<std::sync::Arc<dyn broadcast::Broadcast>> {
        None
    }
}
