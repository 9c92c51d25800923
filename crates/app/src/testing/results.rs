//! Tubes and lab results.

use super::millis_of;
use crate::{Actor, AppError, AppResult};
use bulwark_domain::{
    Millis,
    access::Operation,
    testing::{LabOutcome, LabResult, TubeCode, TubeFormat},
};
use bulwark_store::{
    Store,
    testing::{ResultsReport, Tube},
};
use serde::Deserialize;

/// Seals a tube by hand (the sampler closes a pool that will not fill).
pub async fn seal(store: &dyn Store, actor: &Actor, code: &str, now: Millis) -> AppResult<Tube> {
    let op = Operation::TubesSeal;
    actor.authorize(store, op, now).await?;
    let code = TubeCode::parse(code, &TubeFormat::default()).map_err(|e| AppError::invalid("code", e))?;
    // An unknown tube and one sampled outside the scope answer alike: codes do not leak.
    let site = match store.tube(&code).await? {
        Some(tube) => store.site(tube.site).await?,
        None => None,
    };
    if !site.is_some_and(|s| actor.scope.contains_path(&s.area_path)) {
        return Err(actor.deny(store, op, None, now).await);
    }
    Ok(store.seal_tube(&code, now).await?)
}

/// One result as a lab system sends it.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct LabResultInput {
    pub tube: String,
    /// 阴性/阳性/可疑/无效 or negative/positive/abnormal/invalid.
    pub result: String,
    pub ct_orf1ab: Option<f32>,
    pub ct_n: Option<f32>,
    pub sampled_at: Option<String>,
    pub tested_at: Option<String>,
    pub reported_at: Option<String>,
    pub lab: Option<String>,
}

impl LabResultInput {
    fn parse(&self, i: usize) -> AppResult<LabResult> {
        let field = |f: &str| format!("[{i}].{f}");
        let ct = |f: &str, v: Option<f32>| -> AppResult<Option<f32>> {
            match v {
                Some(x) if !(0.0..=50.0).contains(&x) => {
                    Err(AppError::invalid(field(f), "a Ct value between 0 and 50"))
                }
                v => Ok(v),
            }
        };
        Ok(LabResult {
            tube: TubeCode::parse(&self.tube, &TubeFormat::default())
                .map_err(|e| AppError::invalid(field("tube"), e))?,
            outcome: LabOutcome::parse(&self.result).ok_or_else(|| {
                AppError::invalid(field("result"), "阴性, 阳性, 可疑, 无效 (or negative, positive, abnormal, invalid)")
            })?,
            ct_orf1ab: ct("ct_orf1ab", self.ct_orf1ab)?,
            ct_n: ct("ct_n", self.ct_n)?,
            sampled_at: millis_of(&field("sampled_at"), self.sampled_at.as_deref())?,
            tested_at: millis_of(&field("tested_at"), self.tested_at.as_deref())?,
            reported_at: millis_of(&field("reported_at"), self.reported_at.as_deref())?,
            lab: self.lab.clone().filter(|l| !l.trim().is_empty()),
        })
    }
}

/// Stores results from a lab system. All items are checked first: one malformed item refuses the
/// whole request (naming it), so a lab never half-sends a batch.
pub async fn submit(
    store: &dyn Store,
    hub: &crate::notify::Hub,
    actor: &Actor,
    input: Vec<LabResultInput>,
    now: Millis,
) -> AppResult<ResultsReport> {
    actor.authorize(store, Operation::LabResultsSubmit, now).await?;
    let results = input.iter().enumerate().map(|(i, r)| r.parse(i)).collect::<AppResult<Vec<_>>>()?;
    record(store, hub, actor, results, now).await
}

/// Stores parsed results (from JSON or a file), notes abnormal pools in the audit trail and in
/// the timelines of the incidents over their areas, and alerts the leaders of the villages with
/// members in them (see [`crate::leaders::alert_abnormal_pools`]).
pub async fn record(
    store: &dyn Store,
    hub: &crate::notify::Hub,
    actor: &Actor,
    results: Vec<LabResult>,
    now: Millis,
) -> AppResult<ResultsReport> {
    let count = results.len();
    let report = store.record_results(results, actor.account.id, now).await?;
    let detail = format!(
        "{count} results: {} applied, {} unchanged, {} for review, {} abnormal",
        report.applied,
        report.unchanged,
        report.review.len(),
        report.abnormal.len()
    );
    actor.record_change(store, Operation::LabResultsSubmit, detail, now).await?;
    if !report.abnormal.is_empty() {
        // The results are stored and audited: an alert that cannot be queued is logged, never
        // turned into a failed import (the lab would send the whole batch again).
        if let Err(e) = crate::leaders::alert_abnormal_pools(store, hub, &report.abnormal, now).await {
            tracing::warn!(error = %e, "abnormal pools: the village leaders' SMS could not be queued");
        }
        if let Err(e) = crate::command::timeline::note_abnormal_pools(store, &report.abnormal, now).await {
            tracing::warn!(error = %e, "abnormal pools: the incidents' timelines could not be written");
        }
    }
    Ok(report)
}
