//! Tubes, lab results, the review queue and abnormal pools on SQLite.

use super::registrations::{REGISTRATION_COLUMNS, outcome_of, registration_from_row};
use crate::{
    error,
    error::corrupt,
    people::{self, COLUMNS as PERSON_COLUMNS},
};
use bulwark_domain::{
    Millis,
    access::{Scope, UserId},
    people::Person,
    testing::{
        LabResult, PoolCaseState, PoolSize, Registration, ResultArrival, ReviewReason, RoundId, TubeCode, TubeId,
        TubeState,
    },
};
use bulwark_store::{
    StoreError, StoreResult,
    testing::{AbnormalPool, PoolMember, ResultsReport, ReviewItem, Tube},
};
use rusqlite::{Connection, OptionalExtension, Row, params};
use std::collections::HashMap;

const TUBE_COLUMNS: &str =
    "id, code, round_id, site_id, lane_id, pool_size, state, members, opened_at, sealed_at, outcome, resulted_at";

fn tube_from_row(row: &Row<'_>) -> rusqlite::Result<Tube> {
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
    let mut find =
        conn.prepare_cached("SELECT id, round_id, outcome, state FROM tubes WHERE code = ?1").map_err(error::map)?;
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
                Ok((row.get::<_, i64>(0)?, row.get::<_, i64>(1)?, row.get(2)?, row.get::<_, String>(3)?))
            })
            .optional()
            .map_err(error::map)?;
        let (tube_id, review) = match tube {
            None => (None, Some(ReviewReason::UnknownTube)),
            Some((id, round, existing, state)) => {
                let was = outcome_of(existing)?;
                let arrival = ResultArrival::of(was, r.outcome);
                match arrival.new_outcome() {
                    Some(outcome) if Some(outcome) != was => {
                        set.execute(params![id, outcome.as_str(), r.ct_orf1ab, r.ct_n, at]).map_err(error::map)?;
                        let was = TubeState::parse(&state).ok_or_else(|| corrupt("tube state", &state))?;
                        crate::deferred::tube_state(round, Some(was.as_str()), Some(TubeState::Resulted.as_str()));
                        report.applied += 1;
                        if outcome.is_abnormal() {
                            hold.execute(params![id, round, at]).map_err(error::map)?;
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

/// Abnormal pools of the round with a member inside `scope`, in the order their results came.
/// Set-based: the pools, all their registrations, the members inside the scope and every
/// single-tube re-test of those people are four queries whatever the number of pools (one query
/// per member and pool took 1.6 s for 5,000 pools).
pub(crate) fn abnormal_pools(conn: &Connection, round: RoundId, scope: &Scope) -> StoreResult<Vec<AbnormalPool>> {
    const POOLS: &str = "t.round_id = ?1 AND t.outcome IN ('abnormal','positive') AND t.pool_size > 1";
    let mut stmt = conn
        .prepare_cached(&format!("SELECT {TUBE_COLUMNS} FROM tubes t WHERE {POOLS} ORDER BY t.resulted_at, t.id"))
        .map_err(error::map)?;
    let tubes: Vec<Tube> =
        stmt.query_map([round], tube_from_row).map_err(error::map)?.collect::<Result<_, _>>().map_err(error::map)?;
    if tubes.is_empty() {
        return Ok(Vec::new());
    }
    // Every registration of those pools, in order; a person scanned twice into one tube counts once.
    let mut by_tube: HashMap<i64, Vec<Registration>> = HashMap::new();
    let mut stmt = conn
        .prepare_cached(&format!(
            "SELECT {REGISTRATION_COLUMNS} FROM registrations r JOIN tubes t ON t.id = r.tube_id WHERE {POOLS} ORDER BY r.tube_id, r.id"
        ))
        .map_err(error::map)?;
    for registration in stmt.query_map([round], registration_from_row).map_err(error::map)? {
        let registration = registration.map_err(error::map)?;
        let list = by_tube.entry(registration.tube_id).or_default();
        if list.iter().all(|r| r.person != registration.person) {
            list.push(registration);
        }
    }
    // The members inside the scope.
    let (low, high) = scope.path_range();
    let mut stmt = conn
        .prepare_cached(&format!(
            "SELECT {PERSON_COLUMNS} FROM persons WHERE area_path >= ?2 AND area_path < ?3 AND id IN
             (SELECT r.person_id FROM registrations r JOIN tubes t ON t.id = r.tube_id WHERE {POOLS})"
        ))
        .map_err(error::map)?;
    let mut people: HashMap<i64, Person> = HashMap::new();
    for person in stmt.query_map(params![round, low, high], people::person_from_row).map_err(error::map)? {
        let person = person.map_err(error::map)?;
        people.insert(person.id, person);
    }
    // Every single-tube registration in the round of anyone in those pools, newest first.
    let mut stmt = conn
        .prepare_cached(&format!(
            "SELECT r.person_id, r.at, t.code, t.outcome FROM registrations r JOIN tubes t ON t.id = r.tube_id
             WHERE r.round_id = ?1 AND t.pool_size = 1 AND r.person_id IN
             (SELECT r.person_id FROM registrations r JOIN tubes t ON t.id = r.tube_id WHERE {POOLS})
             ORDER BY r.id DESC"
        ))
        .map_err(error::map)?;
    let mut singles: HashMap<i64, Vec<(Millis, String, Option<String>)>> = HashMap::new();
    let rows = stmt
        .query_map([round], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, Millis>(1)?, r.get(2)?, r.get(3)?)))
        .map_err(error::map)?;
    for row in rows {
        let (person, at, code, outcome) = row.map_err(error::map)?;
        singles.entry(person).or_default().push((at, code, outcome));
    }
    // A person is in one pool as a rule: hand each record over on its last use instead of copying.
    let mut uses: HashMap<i64, usize> = HashMap::with_capacity(people.len());
    for registration in by_tube.values().flatten() {
        *uses.entry(registration.person).or_default() += 1;
    }
    let mut pools = Vec::new();
    for tube in tubes {
        let after = tube.resulted_at.unwrap_or(tube.opened_at);
        let mut results = Vec::new();
        let mut any_retest = false;
        let mut members = Vec::new();
        for registration in by_tube.remove(&tube.id).unwrap_or_default() {
            // The latest single-tube registration after the pool's result is the re-test.
            let retest = match singles.get(&registration.person).and_then(|s| s.iter().find(|(at, ..)| *at > after)) {
                Some((_, code, outcome)) => Some((TubeCode::from_stored(code.clone()), outcome_of(outcome.clone())?)),
                None => None,
            };
            any_retest |= retest.is_some();
            results.push(retest.as_ref().and_then(|(_, o)| *o));
            let left = uses.get_mut(&registration.person).map(|n| {
                *n -= 1;
                *n
            });
            let person = match left {
                Some(0) => people.remove(&registration.person),
                _ => people.get(&registration.person).cloned(),
            };
            let Some(person) = person else { continue };
            members.push(PoolMember { person, registration, retest });
        }
        if members.is_empty() {
            continue;
        }
        let state = PoolCaseState::from_member_results(&results, any_retest);
        pools.push(AbnormalPool { tube, state, members });
    }
    Ok(pools)
}
