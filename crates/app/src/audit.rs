//! Reading the audit log (the auditor's task).

use crate::{Actor, AppResult};
use bulwark_domain::{Millis, access::Operation, audit::AuditEntry};
use bulwark_store::{AuditQuery, Store};

pub async fn entries(store: &dyn Store, actor: &Actor, query: AuditQuery, now: Millis) -> AppResult<Vec<AuditEntry>> {
    actor.authorize(store, Operation::AuditRead, now).await?;
    Ok(store.audit_entries(&query).await?)
}
