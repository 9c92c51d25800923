//! `/api/v1/audit`: the audit log, for auditors.

use crate::{AppState, auth::Caller, error::ApiError};
use axum::{
    Json,
    extract::{Query, State},
};
use bulwark_app::audit;
use bulwark_domain::audit::AuditEntry;
use bulwark_store::AuditQuery;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

#[derive(Deserialize, IntoParams)]
pub(crate) struct AuditParams {
    /// Only entries about this person (internal id).
    person: Option<i64>,
    /// Only entries by this account.
    user: Option<i64>,
    /// Only entries older than this sequence number (the previous page's last `seq`).
    before: Option<i64>,
    /// 1–1000, default 100.
    limit: Option<u32>,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct AuditEntryView {
    seq: i64,
    /// Milliseconds since the Unix epoch.
    at: i64,
    user: Option<i64>,
    username: String,
    role: Option<String>,
    operation: String,
    /// Internal person id; never an ID number.
    person: Option<i64>,
    outcome: String,
    detail: Option<String>,
    request_id: String,
}

impl From<AuditEntry> for AuditEntryView {
    fn from(e: AuditEntry) -> Self {
        AuditEntryView {
            seq: e.seq,
            at: e.at,
            user: e.user,
            username: e.username,
            role: e.role,
            operation: e.operation,
            person: e.person,
            outcome: e.outcome,
            detail: e.detail,
            request_id: e.request_id,
        }
    }
}

/// Audit entries, newest first.
#[utoipa::path(get, path = "/api/v1/audit", operation_id = "audit_read", tag = "audit", params(AuditParams),
    responses((status = 200, body = Vec<AuditEntryView>), (status = 403, body = crate::error::ErrorBody)))]
pub(crate) async fn list(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Query(p): Query<AuditParams>,
) -> Result<Json<Vec<AuditEntryView>>, ApiError> {
    let query =
        AuditQuery { person: p.person, user: p.user, before: p.before, limit: p.limit.unwrap_or(100).clamp(1, 1000) };
    let entries = audit::entries(state.store.as_ref(), &actor, query, state.clock.now()).await?;
    Ok(Json(entries.into_iter().map(AuditEntryView::from).collect()))
}
