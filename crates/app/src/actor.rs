//! The actor: who is asking, in which role, within which area scope, in which request.

use crate::{AppError, AppResult};
use bulwark_domain::{
    Millis,
    access::{Account, Operation, Scope, allows},
    audit::AuditStamp,
};

#[derive(Debug, Clone)]
pub struct Actor {
    pub account: Account,
    pub scope: Scope,
    pub request_id: String,
}

impl Actor {
    /// Checks the policy table; the first thing every service does.
    pub fn require(&self, op: Operation) -> AppResult<()> {
        if allows(self.account.role, op) { Ok(()) } else { Err(AppError::Forbidden) }
    }

    /// The audit stamp for `op` at `now`.
    pub fn stamp(&self, op: Operation, now: Millis) -> AuditStamp {
        AuditStamp {
            at: now,
            user: Some(self.account.id),
            username: self.account.username.as_str().to_string(),
            role: Some(self.account.role),
            operation: op,
            request_id: self.request_id.clone(),
        }
    }
}

impl Actor {
    /// Checks the policy table and, when the role may not do `op`, appends a "denied" audit entry
    /// before refusing (ASVS 16.3.2: failed authorization is logged).
    pub async fn authorize(&self, store: &dyn bulwark_store::Store, op: Operation, now: Millis) -> AppResult<()> {
        match self.require(op) {
            Ok(()) => Ok(()),
            Err(e) => {
                self.record_denied(store, op, None, now).await?;
                Err(e)
            }
        }
    }

    /// Refuses an object outside the scope (or one that does not exist): appends a "denied" entry
    /// and returns the error to answer with (`Forbidden`, or `Unavailable` if the audit failed).
    pub async fn deny(
        &self,
        store: &dyn bulwark_store::Store,
        op: Operation,
        person: Option<bulwark_domain::people::PersonId>,
        now: Millis,
    ) -> AppError {
        match self.record_denied(store, op, person, now).await {
            Ok(()) => AppError::Forbidden,
            Err(e) => e,
        }
    }

    /// Appends a "denied" entry (a refused operation, or an object outside the scope).
    pub async fn record_denied(
        &self,
        store: &dyn bulwark_store::Store,
        op: Operation,
        person: Option<bulwark_domain::people::PersonId>,
        now: Millis,
    ) -> AppResult<()> {
        let entry = self.stamp(op, now).entry(person, bulwark_domain::audit::Outcome::Denied, None);
        store.append_audit(vec![entry]).await?;
        Ok(())
    }
}

impl Actor {
    /// Appends a "success" entry for a change that is not about a person (areas, accounts), after
    /// it was committed. `detail` says what changed, without personal data.
    pub async fn record_change(
        &self,
        store: &dyn bulwark_store::Store,
        op: Operation,
        detail: String,
        now: Millis,
    ) -> AppResult<()> {
        let entry = self.stamp(op, now).entry(None, bulwark_domain::audit::Outcome::Success, Some(detail));
        store.append_audit(vec![entry]).await?;
        Ok(())
    }

    /// Appends a success entry about `person` after a committed change (a roster assignment, a
    /// village leader named).
    pub async fn record_person_change(
        &self,
        store: &dyn bulwark_store::Store,
        op: Operation,
        person: bulwark_domain::people::PersonId,
        detail: String,
        now: Millis,
    ) -> AppResult<()> {
        let entry = self.stamp(op, now).entry(Some(person), bulwark_domain::audit::Outcome::Success, Some(detail));
        store.append_audit(vec![entry]).await.map_err(|e| crate::AppError::Unavailable(format!("audit log: {e}")))
    }
}
