//! Progress, coverage, the door-knock list and home visits on SQLite: read from counters kept in
//! the write path, never by grouping registrations at read time.

use super::registrations::{REGISTRATION_COLUMNS, path_ids, registration_from_row};
use crate::{areas, error, error::corrupt, people};
use bulwark_domain::{
    Millis,
    access::{Scope, UserId},
    areas::AreaId,
    people::{Document, Person, PersonId},
    testing::{DoorKnock, DoorKnockOutcome, LaneId, RoundId, SiteId},
};
use bulwark_store::{
    StoreResult,
    testing::{CoverageRow, FlaggedRegistration, HomeVisit, HomeVisitReason, HourCount, Progress, SiteCount, Untested},
};
use rusqlite::{Connection, OptionalExtension, params};

fn count(conn: &Connection, sql: &str, round: RoundId) -> StoreResult<u64> {
    conn.prepare_cached(sql)
        .and_then(|mut s| s.query_row([round], |r| r.get::<_, Option<i64>>(0)).optional())
        .map_err(error::map)
        .map(|n| n.flatten().unwrap_or(0) as u64)
}

/// The round's figures from its counters (round_counts, round_tubes, round_hours, round_sites):
/// a handful of rows per round whatever its size.
pub(crate) fn progress(conn: &Connection, round: RoundId) -> StoreResult<Progress> {
    let sampled = count(conn, "SELECT sampled FROM round_counts WHERE round_id = ?1 AND area_id = 0", round)?;
    let mut stmt = conn.prepare_cached("SELECT state, n FROM round_tubes WHERE round_id = ?1").map_err(error::map)?;
    let states = stmt
        .query_map([round], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?.max(0) as u64)))
        .map_err(error::map)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(error::map)?;
    let state = |name: &str| states.iter().filter(|(s, _)| s == name).map(|(_, n)| n).sum::<u64>();
    let tubes = states.iter().map(|(_, n)| n).sum();
    let (tubes_open, tubes_resulted) = (state("open"), state("resulted"));
    let mut stmt = conn
        .prepare_cached("SELECT hour, n FROM round_hours WHERE round_id = ?1 AND n <> 0 ORDER BY hour")
        .map_err(error::map)?;
    let by_hour: Vec<HourCount> = stmt
        .query_map([round], |r| Ok(HourCount { hour: r.get(0)?, samples: r.get::<_, i64>(1)? as u64 }))
        .map_err(error::map)?
        .collect::<Result<_, _>>()
        .map_err(error::map)?;
    let registrations = by_hour.iter().map(|h| h.samples).sum();
    let mut stmt = conn
        .prepare_cached(
            "SELECT s.id, s.name, c.n FROM round_sites c JOIN sites s ON s.id = c.site_id \
             WHERE c.round_id = ?1 AND c.n <> 0 ORDER BY s.name, s.id",
        )
        .map_err(error::map)?;
    let by_site = stmt
        .query_map([round], |r| Ok(SiteCount { site: r.get(0)?, name: r.get(1)?, samples: r.get::<_, i64>(2)? as u64 }))
        .map_err(error::map)?
        .collect::<Result<_, _>>()
        .map_err(error::map)?;
    Ok(Progress { round, sampled, registrations, tubes, tubes_open, tubes_resulted, by_hour, by_site })
}

pub(crate) fn coverage(conn: &Connection, round: RoundId, area: AreaId) -> StoreResult<Vec<CoverageRow>> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT a.id, a.code, a.name, a.kind, a.parent_id, a.path, coalesce(ar.residents, 0), coalesce(rc.excluded, 0), \
             coalesce(rc.sampled, 0) FROM areas a \
             LEFT JOIN area_residents ar ON ar.area_id = a.id \
             LEFT JOIN round_counts rc ON rc.round_id = ?1 AND rc.area_id = a.id \
             WHERE a.id = ?2 OR (a.parent_id = ?2 AND a.kind <> 'household') ORDER BY a.id <> ?2, a.code",
        )
        .map_err(error::map)?;
    let rows = stmt
        .query_map(params![round, area], |r| {
            Ok(CoverageRow {
                area: areas::area_from_row(r)?,
                residents: r.get::<_, i64>(6)? as u64,
                excluded: r.get::<_, i64>(7)? as u64,
                sampled: r.get::<_, i64>(8)? as u64,
            })
        })
        .map_err(error::map)?;
    rows.collect::<Result<_, _>>().map_err(error::map)
}

fn last_knock(conn: &Connection, round: RoundId, person: PersonId) -> StoreResult<Option<DoorKnock>> {
    let row = conn
        .prepare_cached(
            "SELECT outcome, note, at FROM door_knocks WHERE round_id = ?1 AND person_id = ?2 ORDER BY id DESC LIMIT 1",
        )
        .and_then(|mut s| {
            s.query_row(params![round, person], |r| Ok((r.get::<_, String>(0)?, r.get(1)?, r.get(2)?))).optional()
        })
        .map_err(error::map)?;
    row.map(|(outcome, note, at)| {
        let outcome = DoorKnockOutcome::parse(&outcome).ok_or_else(|| corrupt("door-knock outcome", &outcome))?;
        Ok(DoorKnock { person, outcome, note, at })
    })
    .transpose()
}

pub(crate) fn untested(
    conn: &Connection,
    round: RoundId,
    scope: &Scope,
    after: Option<PersonId>,
    limit: u32,
) -> StoreResult<Vec<Untested>> {
    let (low, high) = scope.path_range();
    // Each person's latest knock comes in the same statement (its id from the (round, person, id)
    // index): a statement per person listed cost more than the lookups themselves.
    let mut stmt = conn
        .prepare_cached(&format!(
            "SELECT {}, k.outcome, k.note, k.at FROM persons p \
             LEFT JOIN door_knocks k ON k.id = (SELECT max(id) FROM door_knocks WHERE round_id = ?1 AND person_id = p.id) \
             WHERE p.area_path >= ?2 AND p.area_path < ?3 AND p.id > ?4 \
             AND NOT EXISTS (SELECT 1 FROM registrations r WHERE r.round_id = ?1 AND r.person_id = p.id) \
             ORDER BY p.id LIMIT ?5",
            prefixed("p")
        ))
        .map_err(error::map)?;
    let rows = stmt
        .query_map(params![round, low, high, after.unwrap_or(0), limit], |r| {
            Ok((people::person_from_row(r)?, r.get::<_, Option<String>>(17)?, r.get(18)?, r.get::<_, Option<i64>>(19)?))
        })
        .map_err(error::map)?;
    rows.map(|row| {
        let (person, outcome, note, at) = row.map_err(error::map)?;
        let knock = match (outcome, at) {
            (Some(o), Some(at)) => {
                let outcome = DoorKnockOutcome::parse(&o).ok_or_else(|| corrupt("door-knock outcome", &o))?;
                Some(DoorKnock { person: person.id, outcome, note, at })
            }
            _ => None,
        };
        Ok(Untested { person, knock })
    })
    .collect()
}

/// The person columns with a table alias.
fn prefixed(alias: &str) -> String {
    people::COLUMNS.split(", ").map(|c| format!("{alias}.{}", c.trim())).collect::<Vec<_>>().join(", ")
}

pub(crate) fn record_door_knock(conn: &Connection, round: RoundId, knock: &DoorKnock, by: UserId) -> StoreResult<()> {
    let path: String = conn
        .prepare_cached("SELECT area_path FROM persons WHERE id = ?1")
        .and_then(|mut s| s.query_row([knock.person], |r| r.get(0)).optional())
        .map_err(error::map)?
        .ok_or_else(|| bulwark_store::StoreError::Invalid(format!("person {} does not exist", knock.person)))?;
    let before = last_knock(conn, round, knock.person)?.is_some_and(|k| k.outcome.excludes_from_target());
    conn.prepare_cached(
        "INSERT INTO door_knocks (round_id, person_id, outcome, note, at, account_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )
    .and_then(|mut s| s.execute(params![round, knock.person, knock.outcome.as_str(), knock.note, knock.at, by]))
    .map_err(error::map)?;
    let after = knock.outcome.excludes_from_target();
    if before != after {
        let delta = if after { 1 } else { -1 };
        let mut stmt = conn
            .prepare_cached(
                "INSERT INTO round_counts (round_id, area_id, excluded) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (round_id, area_id) DO UPDATE SET excluded = excluded + ?3",
            )
            .map_err(error::map)?;
        for area in std::iter::once(0).chain(path_ids(&path)) {
            stmt.execute(params![round, area, delta]).map_err(error::map)?;
        }
    }
    Ok(())
}

pub(crate) fn home_visits(conn: &Connection, round: RoundId, scope: &Scope) -> StoreResult<Vec<HomeVisit>> {
    let (low, high) = scope.path_range();
    // Not sampled, and unable to walk in the register or at the last knock.
    let mut stmt = conn
        .prepare_cached(&format!(
            "SELECT {}, (SELECT k.outcome FROM door_knocks k WHERE k.round_id = ?1 AND k.person_id = p.id ORDER BY k.id DESC LIMIT 1) \
             FROM persons p WHERE p.area_path >= ?2 AND p.area_path < ?3 \
             AND NOT EXISTS (SELECT 1 FROM registrations r WHERE r.round_id = ?1 AND r.person_id = p.id) \
             AND (p.cannot_walk OR p.bedridden OR EXISTS (SELECT 1 FROM door_knocks k WHERE k.round_id = ?1 AND k.person_id = p.id))",
            prefixed("p")
        ))
        .map_err(error::map)?;
    let mut visits: Vec<HomeVisit> = Vec::new();
    let mut rows = stmt.query(params![round, low, high]).map_err(error::map)?;
    while let Some(row) = rows.next().map_err(error::map)? {
        let person = people::person_from_row(row).map_err(error::map)?;
        let knock: Option<String> = row.get(17).map_err(error::map)?;
        let reason = match knock.as_deref().and_then(DoorKnockOutcome::parse) {
            Some(DoorKnockOutcome::CannotWalk) => HomeVisitReason::DoorKnock,
            Some(o) if o.excludes_from_target() => continue,
            _ if person.needs.needs_home_visit() => HomeVisitReason::CannotWalk,
            _ => continue,
        };
        visits.push(HomeVisit { person, reason });
    }
    // Members of abnormal pools without a re-test, with their whole record (the list reads only
    // what it shows).
    let members = super::pools::pool_members_to_retest(conn, round, scope)?;
    if !members.is_empty() {
        let members = people::people_by_ids(conn, &members, &low, &high)?;
        let ids: std::collections::HashSet<PersonId> = members.iter().map(|m| m.id).collect();
        visits.retain(|v| !ids.contains(&v.person.id));
        visits.extend(members.into_iter().map(|person| HomeVisit { person, reason: HomeVisitReason::AbnormalPool }));
    }
    visits.sort_by_key(|v| (v.person.grid, v.person.id));
    visits.dedup_by_key(|v| v.person.id);
    Ok(visits)
}

pub(crate) fn lane_counts(
    conn: &Connection,
    round: RoundId,
    site: SiteId,
    since: Millis,
) -> StoreResult<Vec<(LaneId, u64)>> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT lane_id, sum(n) FROM lane_minutes WHERE round_id = ?1 AND site_id = ?2 AND minute >= ?3 GROUP BY lane_id ORDER BY lane_id",
        )
        .map_err(error::map)?;
    let rows = stmt
        .query_map(params![round, site, since.div_euclid(60_000)], |r| Ok((r.get(0)?, r.get::<_, i64>(1)? as u64)))
        .map_err(error::map)?;
    rows.collect::<Result<_, _>>().map_err(error::map)
}

pub(crate) fn person_by_document(conn: &Connection, document: &Document) -> StoreResult<Option<Person>> {
    let Some(number) = document.number() else { return Ok(None) };
    conn.prepare_cached(&format!("SELECT {} FROM persons WHERE doc_type = ?1 AND doc_number = ?2", people::COLUMNS))
        .and_then(|mut s| s.query_row(params![document.kind().as_str(), number], people::person_from_row).optional())
        .map_err(error::map)
}

pub(crate) fn person_by_qr(conn: &Connection, token: &str) -> StoreResult<Option<Person>> {
    conn.prepare_cached(&format!("SELECT {} FROM persons WHERE qr_token = ?1", people::COLUMNS))
        .and_then(|mut s| s.query_row([token], people::person_from_row).optional())
        .map_err(error::map)
}

pub(crate) fn qr_tokens(
    conn: &Connection,
    scope: &Scope,
    new_token: &(dyn Fn() -> String + Send + Sync),
) -> StoreResult<Vec<(Person, String)>> {
    let (low, high) = scope.path_range();
    let mut stmt = conn
        .prepare_cached(&format!(
            "SELECT {}, qr_token FROM persons WHERE area_path >= ?1 AND area_path < ?2 ORDER BY id",
            people::COLUMNS
        ))
        .map_err(error::map)?;
    let rows: Vec<(Person, Option<String>)> = stmt
        .query_map(params![low, high], |r| Ok((people::person_from_row(r)?, r.get(17)?)))
        .map_err(error::map)?
        .collect::<Result<_, _>>()
        .map_err(error::map)?;
    let mut set = conn.prepare_cached("UPDATE persons SET qr_token = ?2 WHERE id = ?1").map_err(error::map)?;
    let mut out = Vec::with_capacity(rows.len());
    for (person, token) in rows {
        let token = match token {
            Some(t) => t,
            None => {
                let t = new_token();
                set.execute(params![person.id, t]).map_err(error::map)?;
                t
            }
        };
        out.push((person, token));
    }
    Ok(out)
}

pub(crate) fn flagged(
    conn: &Connection,
    round: RoundId,
    scope: &Scope,
    limit: u32,
) -> StoreResult<Vec<FlaggedRegistration>> {
    let (low, high) = scope.path_range();
    let mut stmt = conn
        .prepare_cached(&format!(
            "SELECT {REGISTRATION_COLUMNS} FROM registrations r JOIN tubes t ON t.id = r.tube_id JOIN sites s ON s.id = r.site_id \
             WHERE r.round_id = ?1 AND r.flags <> 0 AND s.area_path >= ?2 AND s.area_path < ?3 ORDER BY r.id DESC LIMIT ?4"
        ))
        .map_err(error::map)?;
    let rows = stmt.query_map(params![round, low, high, limit], registration_from_row).map_err(error::map)?;
    rows.map(|r| r.map(|registration| FlaggedRegistration { flags: registration.flags.clone(), registration }))
        .collect::<Result<_, _>>()
        .map_err(error::map)
}
