//! The hot path: one registration per scan, inside the writer's group commit.
//!
//! Per registration: one lookup of the key (unique, time-ordered), one of the tube by code, one of
//! the person's earlier registrations in the round (the table's only random-key index), the
//! decision (domain), then an insert, a tube update and counter upserts on hot pages. An upload
//! (`register_many`) reads each of its tubes once and writes each once, after its items
//! ([`Found`]).

use crate::{error, error::corrupt};
use bulwark_domain::{
    Millis,
    audit::NewAuditEntry,
    testing::{
        LabOutcome, NewRegistration, PoolSize, Registration, RegistrationFlag, RegistrationId, RoundId, ScanDecision,
        SiteId, TubeCode, TubeId, TubeSnapshot, TubeState, decide,
    },
};
use bulwark_store::{StoreError, StoreResult, testing::Registered};
use rusqlite::{CachedStatement, Connection, OptionalExtension, Row, params};
use std::collections::HashMap;

/// The columns [`registration_from_row`] reads, as a literal so that the hot path's SQL is
/// built at compile time.
macro_rules! registration_columns {
    () => {
        "r.id, r.idem_key, r.round_id, r.site_id, r.lane_id, r.tube_id, t.code, t.pool_size, r.person_id, r.at, \
         r.device_time, r.account_id, r.home, r.flags, r.tube_state, r.tube_members"
    };
}

pub(crate) const REGISTRATION_COLUMNS: &str = registration_columns!();

pub(crate) fn registration_from_row(row: &Row<'_>) -> rusqlite::Result<Registration> {
    registration_at(row, 0)
}

/// A registration from the [`REGISTRATION_COLUMNS`] that start at column `base` of `row`.
pub(crate) fn registration_at(row: &Row<'_>, base: usize) -> rusqlite::Result<Registration> {
    let pool: i64 = row.get(base + 7)?;
    let state: String = row.get(base + 14)?;
    let conv = |e: StoreError| crate::areas::conversion(e);
    Ok(Registration {
        id: row.get(base)?,
        key: row.get(base + 1)?,
        round: row.get(base + 2)?,
        site: row.get(base + 3)?,
        lane: row.get(base + 4)?,
        tube_id: row.get(base + 5)?,
        tube: TubeCode::from_stored(row.get(base + 6)?),
        pool_size: u8::try_from(pool)
            .ok()
            .and_then(|p| PoolSize::new(p).ok())
            .ok_or_else(|| conv(corrupt("pool size", pool)))?,
        person: row.get(base + 8)?,
        at: row.get(base + 9)?,
        device_time: row.get(base + 10)?,
        by: row.get(base + 11)?,
        home: row.get(base + 12)?,
        flags: RegistrationFlag::from_bits(row.get(base + 13)?),
        tube_state: TubeState::parse(&state).ok_or_else(|| conv(corrupt("tube state", &state)))?,
        tube_members: row.get(base + 15)?,
    })
}

pub(crate) fn registration_by_id(conn: &Connection, id: RegistrationId) -> StoreResult<Registration> {
    conn.prepare_cached(&format!(
        "SELECT {REGISTRATION_COLUMNS} FROM registrations r JOIN tubes t ON t.id = r.tube_id WHERE r.id = ?1"
    ))
    .and_then(|mut s| s.query_row([id], registration_from_row))
    .map_err(error::map)
}

/// The ids on a materialised path: `/1/4/17/` → 1, 4, 17.
pub(crate) fn path_ids(path: &str) -> impl Iterator<Item = i64> + '_ {
    path.split('/').filter_map(|p| p.parse().ok())
}

pub(crate) fn outcome_of(raw: Option<String>) -> StoreResult<Option<LabOutcome>> {
    raw.map(|o| LabOutcome::ALL.into_iter().find(|x| x.as_str() == o).ok_or_else(|| corrupt("lab outcome", &o)))
        .transpose()
}

struct StoredTube {
    id: TubeId,
    round: RoundId,
    snapshot: TubeSnapshot,
}

fn tube_by_code(conn: &Connection, code: &TubeCode) -> StoreResult<Option<StoredTube>> {
    let row = conn
        .prepare_cached("SELECT id, state, pool_size, members, outcome, round_id FROM tubes WHERE code = ?1")
        .and_then(|mut s| {
            s.query_row([code.as_str()], |r| {
                Ok((
                    (r.get::<_, i64>(0)?, r.get::<_, String>(1)?, r.get::<_, i64>(2)?, r.get::<_, u32>(3)?, r.get(4)?),
                    r.get::<_, i64>(5)?,
                ))
            })
            .optional()
        })
        .map_err(error::map)?;
    let Some(((id, state, pool, members, outcome), round)) = row else { return Ok(None) };
    let state = TubeState::parse(&state).ok_or_else(|| corrupt("tube state", &state))?;
    let pool_size =
        u8::try_from(pool).ok().and_then(|p| PoolSize::new(p).ok()).ok_or_else(|| corrupt("pool size", pool))?;
    Ok(Some(StoredTube {
        id,
        round,
        snapshot: TubeSnapshot { state, pool_size, members, outcome: outcome_of(outcome)? },
    }))
}

fn exists(conn: &Connection, sql: &str, id: i64) -> StoreResult<bool> {
    conn.prepare_cached(sql).and_then(|mut s| s.exists([id])).map_err(error::map)
}

/// The person's place in the round so far.
struct InRound {
    /// How many registrations she has in the round: the new one's `seq`.
    earlier: u32,
    this_tube: Option<RegistrationId>,
    other_tube: bool,
}

fn in_round(stmt: &mut CachedStatement<'_>, reg: &NewRegistration, tube: Option<TubeId>) -> StoreResult<InRound> {
    let mut rows = stmt.query(params![reg.round, reg.person]).map_err(error::map)?;
    let mut found = InRound { earlier: 0, this_tube: None, other_tube: false };
    while let Some(row) = rows.next().map_err(error::map)? {
        found.earlier += 1;
        let (id, tube_id, outcome): (i64, i64, Option<String>) =
            (row.get(0).map_err(error::map)?, row.get(1).map_err(error::map)?, row.get(2).map_err(error::map)?);
        if Some(tube_id) == tube {
            found.this_tube = Some(id);
        } else {
            // A single-tube re-test after an abnormal or invalid pool is expected, not a duplicate.
            let retest_expected = outcome_of(outcome)?.is_some_and(|o| o != LabOutcome::Negative);
            found.other_tube |= !retest_expected;
        }
    }
    Ok(found)
}

/// Stores one registration and, when the answer shows the person, its audit entry (the caller
/// runs this inside the writer's transaction). `found` holds what is known before it starts
/// ([`Found::knowing`]).
pub(crate) fn register(conn: &Connection, reg: &NewRegistration, mut found: Found) -> StoreResult<Registered> {
    let answer = store(conn, &mut Statements::prepare(conn)?, reg, &mut found)?;
    found.write_tubes(conn)?;
    if let Some(entry) = audit_of(reg, &answer) {
        crate::audit::insert_audit(conn, entry)?;
    }
    Ok(answer)
}

/// The audit entry a stored registration's answer calls for: it shows the person, unless the key
/// was reused with another body.
pub(crate) fn audit_of<'a>(reg: &'a NewRegistration, answer: &Registered) -> Option<&'a NewAuditEntry> {
    reg.audit.as_ref().filter(|_| !matches!(answer, Registered::KeyReused))
}

/// What the registrations of one job have found and changed so far in their transaction.
///
/// Rounds and sites are never deleted, so once found they stay found: the items of an upload,
/// which share them, check each once instead of twice per item. An upload also fills its tubes
/// one member after the other (a lane's ten scans into one tube), so each tube is read once and
/// kept here as it changes, and its row is written once, by [`Found::write_tubes`], instead of
/// once per member: the caller must call it before anything else in the transaction reads tubes.
#[derive(Default)]
pub(crate) struct Found {
    round: Option<RoundId>,
    site: Option<SiteId>,
    tubes: HashMap<TubeCode, HeldTube>,
}

/// A tube as this job's registrations have left it; `sealed_at` is `Some` once one sealed it, and
/// `changed` says its row is behind.
struct HeldTube {
    stored: StoredTube,
    sealed_at: Option<Millis>,
    changed: bool,
}

impl Found {
    /// Nothing found yet but the round and the site given, known to exist.
    pub(crate) fn knowing(round: Option<RoundId>, site: Option<SiteId>) -> Found {
        Found { round, site, tubes: HashMap::new() }
    }

    /// Writes the rows of the tubes whose members or state changed since they were read.
    pub(crate) fn write_tubes(&mut self, conn: &Connection) -> StoreResult<()> {
        if !self.tubes.values().any(|h| h.changed) {
            return Ok(());
        }
        let mut update = conn
            .prepare_cached(
                "UPDATE tubes SET members = ?1, state = ?2, sealed_at = CASE WHEN ?3 THEN ?4 ELSE sealed_at END WHERE id = ?5",
            )
            .map_err(error::map)?;
        for held in self.tubes.values_mut().filter(|h| h.changed) {
            let t = &held.stored;
            update
                .execute(params![
                    t.snapshot.members,
                    t.snapshot.state.as_str(),
                    held.sealed_at.is_some(),
                    held.sealed_at,
                    t.id
                ])
                .map_err(error::map)?;
            held.changed = false;
        }
        Ok(())
    }
}

/// The statements every registration runs, taken from the connection's cache once per job: an
/// upload's items share them instead of each looking them up by their SQL text (a hash and a
/// compare of the whole text, three times an item).
pub(crate) struct Statements<'c> {
    by_key: CachedStatement<'c>,
    in_round: CachedStatement<'c>,
    insert: CachedStatement<'c>,
}

impl<'c> Statements<'c> {
    pub(crate) fn prepare(conn: &'c Connection) -> StoreResult<Self> {
        let by_key = conn.prepare_cached(concat!(
            "SELECT ",
            registration_columns!(),
            ", r.body_hash FROM registrations r JOIN tubes t ON t.id = r.tube_id WHERE r.idem_key = ?1"
        ));
        let in_round = conn.prepare_cached(
            "SELECT r.id, r.tube_id, t.outcome FROM registrations r JOIN tubes t ON t.id = r.tube_id \
             WHERE r.round_id = ?1 AND r.person_id = ?2",
        );
        let insert = conn.prepare_cached(
            "INSERT INTO registrations (idem_key, body_hash, round_id, site_id, lane_id, tube_id, person_id, at, \
             device_time, account_id, home, flags, tube_state, tube_members, seq) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
        );
        Ok(Statements {
            by_key: by_key.map_err(error::map)?,
            in_round: in_round.map_err(error::map)?,
            insert: insert.map_err(error::map)?,
        })
    }
}

/// Stores one registration without its audit entry (the caller appends it).
pub(crate) fn store(
    conn: &Connection,
    statements: &mut Statements<'_>,
    reg: &NewRegistration,
    found: &mut Found,
) -> StoreResult<Registered> {
    let earlier = statements
        .by_key
        .query_row([&reg.key], |row| {
            let hash: i64 = row.get(16)?;
            Ok((hash, registration_from_row(row)?))
        })
        .optional()
        .map_err(error::map)?;
    if let Some((hash, stored)) = earlier {
        return Ok(if hash == reg.body_hash { Registered::Replayed(stored) } else { Registered::KeyReused });
    }
    if found.round != Some(reg.round) {
        if !exists(conn, "SELECT 1 FROM rounds WHERE id = ?1", reg.round)? {
            return Err(StoreError::Invalid(format!("round {} does not exist", reg.round)));
        }
        found.round = Some(reg.round);
    }
    if found.site != Some(reg.site) {
        if !exists(conn, "SELECT 1 FROM sites WHERE id = ?1", reg.site)? {
            return Err(StoreError::Invalid(format!("site {} does not exist", reg.site)));
        }
        found.site = Some(reg.site);
    }
    if !found.tubes.contains_key(&reg.tube)
        && let Some(stored) = tube_by_code(conn, &reg.tube)?
    {
        found.tubes.insert(reg.tube.clone(), HeldTube { stored, sealed_at: None, changed: false });
    }
    let tube = found.tubes.get(&reg.tube).map(|h| &h.stored);
    let place = in_round(&mut statements.in_round, reg, tube.map(|t| t.id))?;
    let snapshot = tube.map(|t| t.snapshot).unwrap_or(TubeSnapshot::new(reg.pool_size));
    let (flags, members, state) = match decide(snapshot, place.this_tube.is_some(), place.other_tube, &reg.flags) {
        ScanDecision::AlreadyInTube => {
            let id = place.this_tube.ok_or_else(|| StoreError::Internal("no earlier registration".into()))?;
            return Ok(Registered::AlreadyInTube(registration_by_id(conn, id)?));
        }
        ScanDecision::Store { flags, members, state } => (flags, members, state),
    };
    let sealed_now = state == TubeState::Sealed && snapshot.state == TubeState::Open;
    let pool_size = tube.map(|t| t.snapshot.pool_size).unwrap_or(reg.pool_size);
    let was_held = tube.is_some();
    let tube_id = match tube {
        Some(t) => {
            // Its row is written once the job's registrations are in (`Found::write_tubes`).
            crate::deferred::tube_state(t.round, Some(t.snapshot.state.as_str()), Some(state.as_str()));
            t.id
        }
        None => {
            conn.prepare_cached(
                "INSERT INTO tubes (code, round_id, site_id, lane_id, pool_size, state, members, opened_at, sealed_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, CASE WHEN ?9 THEN ?8 END)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    reg.tube.as_str(),
                    reg.round,
                    reg.site,
                    reg.lane,
                    reg.pool_size.get(),
                    state.as_str(),
                    members,
                    reg.at,
                    sealed_now
                ])
            })
            .map_err(error::map)?;
            crate::deferred::tube_state(reg.round, None, Some(state.as_str()));
            let id = conn.last_insert_rowid();
            let stored = StoredTube { id, round: reg.round, snapshot: TubeSnapshot { state, members, ..snapshot } };
            found.tubes.insert(reg.tube.clone(), HeldTube { stored, sealed_at: None, changed: false });
            id
        }
    };
    let bits = RegistrationFlag::to_bits(&flags);
    statements
        .insert
        .execute(params![
            reg.key,
            reg.body_hash,
            reg.round,
            reg.site,
            reg.lane,
            tube_id,
            reg.person,
            reg.at,
            reg.device_time,
            reg.by,
            reg.home,
            bits,
            state.as_str(),
            members,
            place.earlier
        ])
        .map_err(error::map)?;
    let id = conn.last_insert_rowid();
    // Scanned into an abnormal pool after its result: kept with the pool's other members.
    if pool_size.get() > 1 && snapshot.outcome.is_some_and(LabOutcome::is_abnormal) {
        super::pools::keep_members(conn, tube_id, id)?;
    }
    // Only now that the registration is in: a job that fails before leaves its tube as it was.
    if let Some(held) = found.tubes.get_mut(&reg.tube).filter(|_| was_held) {
        held.stored.snapshot.members = members;
        held.stored.snapshot.state = state;
        if sealed_now {
            held.sealed_at = Some(reg.at);
        }
        held.changed = true;
    }
    if place.earlier == 0 {
        count_sampled(reg.round, &reg.person_area_path);
    }
    count_minute(reg, reg.at);
    Ok(Registered::Created(Registration {
        id,
        key: reg.key.clone(),
        round: reg.round,
        site: reg.site,
        lane: reg.lane,
        tube_id,
        tube: reg.tube.clone(),
        pool_size,
        person: reg.person,
        at: reg.at,
        device_time: reg.device_time,
        by: reg.by,
        home: reg.home,
        flags,
        tube_state: state,
        tube_members: members,
    }))
}

/// Every area on the person's path, and the whole round (area 0), counts one more person sampled.
fn count_sampled(round: i64, path: &str) {
    for area in std::iter::once(0).chain(path_ids(path)) {
        crate::deferred::sampled(round, area);
    }
}

fn count_minute(reg: &NewRegistration, at: Millis) {
    crate::deferred::lane_minute(reg.round, reg.site, reg.lane.unwrap_or(0), at.div_euclid(60_000));
}
