//! Tubes, lab results and the review queue on SQLite (the abnormal pools: `pools`).

use super::registrations::{REGISTRATION_COLUMNS, outcome_of, registration_from_row};
use crate::{error, error::corrupt};
use bulwark_domain::{
    Millis,
    access::UserId,
    testing::{LabResult, PoolSize, Registration, ResultArrival, ReviewReason, TubeCode, TubeId, TubeState},
};
use bulwark_store::{
    StoreError, StoreResult,
    testing::{ResultsReport, ReviewItem, Tube},
};
use rusqlite::{Connection, OptionalExtension, Row, params};

const TUBE_COLUMNS: &str =
    "id, code, round_id, site_id, lane_id, pool_size, state, members, opened_at, sealed_at, outcome, resulted_at";

pub(super) fn tube_from_row(row: &Row<'_>) -> rusqlite::Result<Tube> {
    let conv = crate::areas::conversion;
    let pool: i64 = row.get(5)?;
    let state: String = row.get(6)?;
    Ok(Tube {
        id: row.get(0)?,
        code: TubeCode::from_stored(row.get(1)?),
        round: row.get(2)?,
        site: row.get(3)?,
        lane: row.get(4)?,
        pool_size: u8::try_from(pool)
            .ok()
            .and_then(|p| PoolSize::new(p).ok())
            .ok_or_else(|| conv(corrupt("pool size", pool)))?,
        state: TubeState::parse(&state).ok_or_else(|| conv(corrupt("tube state", &state)))?,
        members: row.get(7)?,
        opened_at: row.get(8)?,
        sealed_at: row.get(9)?,
        outcome: outcome_of(row.get(10)?).map_err(conv)?,
        resulted_at: row.get(11)?,
    })
}

pub(crate) fn tube(conn: &Connection, code: &TubeCode) -> StoreResult<Option<Tube>> {
    conn.prepare_cached(&format!("SELECT {TUBE_COLUMNS} FROM tubes WHERE code = ?1"))
        .and_then(|mut s| s.query_row([code.as_str()], tube_from_row).optional())
        .map_err(error::map)
}

pub(crate) fn seal(conn: &Connection, code: &TubeCode, at: Millis) -> StoreResult<Tube> {
    let sealed = conn
        .prepare_cached(
            "UPDATE tubes SET state = 'sealed', sealed_at = ?2 WHERE code = ?1 AND state = 'open' RETURNING round_id",
        )
        .and_then(|mut s| s.query_row(params![code.as_str(), at], |r| r.get::<_, i64>(0)).optional())
        .map_err(error::map)?;
    if let Some(round) = sealed {
        crate::deferred::tube_state(round, Some(TubeState::Open.as_str()), Some(TubeState::Sealed.as_str()));
    }
    tube(conn, code)?.ok_or(StoreError::NotFound)
}

pub(crate) fn tube_registrations(conn: &Connection, tube: TubeId) -> StoreResult<Vec<Registration>> {
    let mut stmt = conn
        .prepare_cached(&format!(
            "SELECT {REGISTRATION_COLUMNS} FROM registrations r JOIN tubes t ON t.id = r.tube_id WHERE r.tube_id = ?1 ORDER BY r.id"
        ))
        .map_err(error::map)?;
    let rows = stmt.query_map([tube], registration_from_row).map_err(error::map)?;
    rows.collect::<Result<_, _>>().map_err(error::map)
}

/// Applies results in order; every result is logged as it arrived.
pub(crate) fn record(conn: &Connection, results: &[LabResult], by: UserId, at: Millis) -> StoreResult<ResultsReport> {
    let mut report = ResultsReport::default();
    let mut find = conn
        .prepare_cached("SELECT id, round_id, outcome, state, pool_size FROM tubes WHERE code = ?1")
        .map_err(error::map)?;
    let mut log = conn
        .prepare_cached(
            "INSERT INTO lab_results (tube_code, tube_id, outcome, ct_orf1ab, ct_n, sampled_at, tested_at, reported_at, lab, \
             received_at, account_id, review) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
        )
        .map_err(error::map)?;
    let mut set = conn
        .prepare_cached(
            "UPDATE tubes SET outcome = ?2, state = 'resulted', ct_orf1ab = ?3, ct_n = ?4, resulted_at = ?5 WHERE id = ?1",
        )
        .map_err(error::map)?;
    let mut hold = conn
        .prepare_cached("INSERT OR IGNORE INTO pool_cases (tube_id, round_id, opened_at) VALUES (?1, ?2, ?3)")
        .map_err(error::map)?;
    for r in results {
        let tube = find
            .query_row([r.tube.as_str()], |row| {
                Ok((
                    row.get::<_, i64>(0)?,
                    row.get::<_, i64>(1)?,
                    row.get(2)?,
                    row.get::<_, String>(3)?,
                    row.get::<_, i64>(4)?,
                ))
            })
            .optional()
            .map_err(error::map)?;
        let (tube_id, review) = match tube {
            None => (None, Some(ReviewReason::UnknownTube)),
            Some((id, round, existing, state, pool_size)) => {
                let was = outcome_of(existing)?;
                let arrival = ResultArrival::of(was, r.outcome);
                match arrival.new_outcome() {
                    Some(outcome) if Some(outcome) != was => {
                        set.execute(params![id, outcome.as_str(), r.ct_orf1ab, r.ct_n, at]).map_err(error::map)?;
                        let was = TubeState::parse(&state).ok_or_else(|| corrupt("tube state", &state))?;
                        crate::deferred::tube_state(round, Some(was.as_str()), Some(TubeState::Resulted.as_str()));
                        report.applied += 1;
                        report.note_round(round, outcome.is_abnormal());
                        if outcome.is_abnormal() {
                            hold.execute(params![id, round, at]).map_err(error::map)?;
                            if pool_size > 1 {
                                super::pools::keep_members(conn, id, 0)?;
                            }
                            report.abnormal.push(r.tube.clone());
                        }
                    }
                    _ if arrival == ResultArrival::Same => report.unchanged += 1,
                    _ => {}
                }
                (Some(id), matches!(arrival, ResultArrival::Conflict { .. }).then_some(ReviewReason::Conflict))
            }
        };
        if let Some(reason) = review {
            report.review.push((r.tube.clone(), reason));
        }
        log.execute(params![
            r.tube.as_str(),
            tube_id,
            r.outcome.as_str(),
            r.ct_orf1ab,
            r.ct_n,
            r.sampled_at,
            r.tested_at,
            r.reported_at,
            r.lab,
            at,
            by,
            review.map(ReviewReason::as_str)
        ])
        .map_err(error::map)?;
    }
    Ok(report)
}

pub(crate) fn review_queue(conn: &Connection, limit: u32) -> StoreResult<Vec<ReviewItem>> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT id, tube_code, outcome, ct_orf1ab, ct_n, sampled_at, tested_at, reported_at, lab, received_at, review \
             FROM lab_results WHERE review IS NOT NULL ORDER BY id LIMIT ?1",
        )
        .map_err(error::map)?;
    let mut rows = stmt.query([limit]).map_err(error::map)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(error::map)? {
        let outcome: Option<String> = Some(row.get(2).map_err(error::map)?);
        let reason: String = row.get(10).map_err(error::map)?;
        let reason = [ReviewReason::UnknownTube, ReviewReason::Conflict]
            .into_iter()
            .find(|r| r.as_str() == reason)
            .ok_or_else(|| corrupt("review reason", &reason))?;
        out.push(ReviewItem {
            id: row.get(0).map_err(error::map)?,
            result: LabResult {
                tube: TubeCode::from_stored(row.get(1).map_err(error::map)?),
                outcome: outcome_of(outcome)?.ok_or_else(|| corrupt("lab outcome", "null"))?,
                ct_orf1ab: row.get(3).map_err(error::map)?,
                ct_n: row.get(4).map_err(error::map)?,
                sampled_at: row.get(5).map_err(error::map)?,
                tested_at: row.get(6).map_err(error::map)?,
                reported_at: row.get(7).map_err(error::map)?,
                lab: row.get(8).map_err(error::map)?,
            },
            reason,
            received_at: row.get(9).map_err(error::map)?,
        });
    }
    Ok(out)
}
