//! [`TransportStore`] on SQLite: writes go through the writer's group commit (so a box, its tubes
//! and its hand-overs are read and changed by one writer at a time), reads through the read pool.

use crate::{SqliteStore, areas::conversion, error, error::corrupt};
use async_trait::async_trait;
use bulwark_domain::{
    Millis,
    access::{Scope, UserId},
    people::Phone,
    testing::{
        BoxCode, BoxState, Handover, HandoverDecision, HandoverStage, NewBox, NewHandover, PackDecision, PackedTube,
        RoundId, SealDecision, TransportBox, TransportError, TransportFlag, TubeCode, TubeHolder, TubeState,
        decide_handover, decide_pack, decide_seal,
    },
};
use bulwark_store::{
    StoreError, StoreResult, TransportStore,
    transport::{BoxDetail, HandedOver, Packed},
};
use rusqlite::{Connection, OptionalExtension, Row, params};

const BOX_COLUMNS: &str = "id, code, round_id, site_id, area_path, state, flags, tubes, first_sample_at, created_at, \
    created_by, sealed_at, dispatched_at, received_at";

fn box_from_row(row: &Row<'_>) -> rusqlite::Result<TransportBox> {
    let state: String = row.get(5)?;
    Ok(TransportBox {
        id: row.get(0)?,
        code: BoxCode::from_stored(row.get(1)?),
        round: row.get(2)?,
        site: row.get(3)?,
        area_path: row.get(4)?,
        state: BoxState::parse(&state).ok_or_else(|| conversion(corrupt("box state", &state)))?,
        flags: TransportFlag::from_bits(row.get(6)?),
        tubes: row.get(7)?,
        first_sample_at: row.get(8)?,
        created_at: row.get(9)?,
        created_by: row.get(10)?,
        sealed_at: row.get(11)?,
        dispatched_at: row.get(12)?,
        received_at: row.get(13)?,
    })
}

fn box_by_code(conn: &Connection, code: &BoxCode) -> StoreResult<Option<TransportBox>> {
    conn.prepare_cached(&format!("SELECT {BOX_COLUMNS} FROM boxes WHERE code = ?1"))
        .and_then(|mut s| s.query_row([code.as_str()], box_from_row).optional())
        .map_err(error::map)
}

fn existing_box(conn: &Connection, code: &BoxCode) -> StoreResult<TransportBox> {
    box_by_code(conn, code)?.ok_or(StoreError::NotFound)
}

fn phone_of(stored: Option<String>) -> rusqlite::Result<Option<Phone>> {
    stored.map(|p| Phone::parse(&p).map_err(|e| conversion(corrupt("phone", e)))).transpose()
}

fn handovers(conn: &Connection, box_id: i64) -> StoreResult<Vec<Handover>> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT id, stage, from_name, to_name, to_phone, at, account_id, flags FROM handovers
             WHERE box_id = ?1 ORDER BY id",
        )
        .map_err(error::map)?;
    let rows = stmt
        .query_map([box_id], |row| {
            let stage: String = row.get(1)?;
            Ok(Handover {
                id: row.get(0)?,
                stage: HandoverStage::parse(&stage).ok_or_else(|| conversion(corrupt("hand-over stage", &stage)))?,
                from_name: row.get(2)?,
                to_name: row.get(3)?,
                to_phone: phone_of(row.get(4)?)?,
                at: row.get(5)?,
                by: row.get(6)?,
                flags: TransportFlag::from_bits(row.get(7)?),
            })
        })
        .map_err(error::map)?;
    rows.collect::<Result<_, _>>().map_err(error::map)
}

fn packed_tubes(conn: &Connection, box_id: i64) -> StoreResult<Vec<PackedTube>> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT t.code, t.opened_at, t.state, bt.packed_at, bt.account_id, bt.flags
             FROM box_tubes bt JOIN tubes t ON t.id = bt.tube_id WHERE bt.box_id = ?1 ORDER BY bt.id",
        )
        .map_err(error::map)?;
    let rows = stmt
        .query_map([box_id], |row| {
            let state: String = row.get(2)?;
            Ok(PackedTube {
                code: TubeCode::from_stored(row.get(0)?),
                opened_at: row.get(1)?,
                state: TubeState::parse(&state).ok_or_else(|| conversion(corrupt("tube state", &state)))?,
                packed_at: row.get(3)?,
                by: row.get(4)?,
                flags: TransportFlag::from_bits(row.get(5)?),
            })
        })
        .map_err(error::map)?;
    rows.collect::<Result<_, _>>().map_err(error::map)
}

fn create(conn: &Connection, new: &NewBox) -> StoreResult<()> {
    let round: Option<i64> = conn
        .prepare_cached("SELECT id FROM rounds WHERE id = ?1")
        .and_then(|mut s| s.query_row([new.round], |r| r.get(0)).optional())
        .map_err(error::map)?;
    if round.is_none() {
        return Err(StoreError::Invalid(format!("round {} does not exist", new.round)));
    }
    let area_path: String = conn
        .prepare_cached("SELECT area_path FROM sites WHERE id = ?1")
        .and_then(|mut s| s.query_row([new.site], |r| r.get(0)).optional())
        .map_err(error::map)?
        .ok_or_else(|| StoreError::Invalid(format!("site {} does not exist", new.site)))?;
    conn.execute(
        "INSERT INTO boxes (code, round_id, site_id, area_path, state, created_at, created_by)
         VALUES (?1, ?2, ?3, ?4, 'packing', ?5, ?6)",
        params![new.code.as_str(), new.round, new.site, area_path, new.at, new.by],
    )
    .map_err(|e| match error::map(e) {
        StoreError::Conflict(_) => StoreError::Conflict(format!("box {} exists already", new.code)),
        other => other,
    })?;
    Ok(())
}

fn pack(
    conn: &Connection,
    code: &BoxCode,
    tubes: &[TubeCode],
    at: Millis,
    by: UserId,
) -> StoreResult<Vec<(TubeCode, Packed)>> {
    let mut the_box = existing_box(conn, code)?;
    let mut find = conn
        .prepare_cached(
            "SELECT t.id, t.state, t.opened_at, b.id, b.code FROM tubes t
             LEFT JOIN box_tubes bt ON bt.tube_id = t.id LEFT JOIN boxes b ON b.id = bt.box_id
             WHERE t.code = ?1",
        )
        .map_err(error::map)?;
    let mut insert = conn
        .prepare_cached(
            "INSERT INTO box_tubes (box_id, tube_id, packed_at, account_id, flags) VALUES (?1, ?2, ?3, ?4, ?5)",
        )
        .map_err(error::map)?;
    let mut summary = conn
        .prepare_cached(
            "UPDATE boxes SET tubes = tubes + 1, flags = flags | ?2,
                 first_sample_at = min(coalesce(first_sample_at, ?3), ?3)
             WHERE id = ?1",
        )
        .map_err(error::map)?;
    let mut out = Vec::with_capacity(tubes.len());
    for tube in tubes {
        let found = find
            .query_row([tube.as_str()], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, Millis>(2)?,
                    r.get::<_, Option<i64>>(3)?,
                    r.get::<_, Option<String>>(4)?,
                ))
            })
            .optional()
            .map_err(error::map)?;
        let (state, holder) = match &found {
            None => (None, TubeHolder::Free),
            Some((_, state, _, holder, _)) => {
                let state = TubeState::parse(state).ok_or_else(|| corrupt("tube state", state))?;
                let holder = match holder {
                    None => TubeHolder::Free,
                    Some(b) if *b == the_box.id => TubeHolder::ThisBox,
                    Some(_) => TubeHolder::OtherBox,
                };
                (Some(state), holder)
            }
        };
        let packed = match (decide_pack(the_box.state, state, holder), found) {
            (PackDecision::Store(flags), Some((tube_id, _, opened_at, _, _))) => {
                let bits = TransportFlag::to_bits(&flags);
                insert.execute(params![the_box.id, tube_id, at, by, bits]).map_err(error::map)?;
                summary.execute(params![the_box.id, bits, opened_at]).map_err(error::map)?;
                the_box.tubes += 1;
                Packed::Stored(flags)
            }
            (PackDecision::InOtherBox, Some((_, _, _, _, other))) => {
                Packed::InOtherBox(BoxCode::from_stored(other.unwrap_or_default()))
            }
            (PackDecision::AlreadyInBox, _) => Packed::AlreadyInBox,
            _ => Packed::UnknownTube,
        };
        out.push((tube.clone(), packed));
    }
    Ok(out)
}

fn seal(conn: &Connection, code: &BoxCode, at: Millis) -> StoreResult<()> {
    let the_box = existing_box(conn, code)?;
    match decide_seal(the_box.state, the_box.tubes) {
        Ok(SealDecision::Seal) => {
            conn.execute("UPDATE boxes SET state = 'sealed', sealed_at = ?2 WHERE id = ?1", params![the_box.id, at])
                .map_err(error::map)?;
            Ok(())
        }
        Ok(SealDecision::Unchanged) => Ok(()),
        Err(e) => Err(StoreError::Invalid(e.to_string())),
    }
}

fn hand_over(conn: &Connection, code: &BoxCode, new: &NewHandover) -> StoreResult<HandedOver> {
    let the_box = existing_box(conn, code)?;
    let earlier = handovers(conn, the_box.id)?;
    let (state, from_name, flags) = match decide_handover(the_box.state, &earlier, new) {
        Ok(HandoverDecision::Repeat) => {
            let last = earlier.last().cloned().ok_or_else(|| StoreError::Internal("no hand-over to repeat".into()))?;
            return Ok(HandedOver::Repeated(last));
        }
        Ok(HandoverDecision::Record { state, from_name, flags }) => (state, from_name, flags),
        Err(e @ TransportError::AlreadyReceived) => return Err(StoreError::Conflict(e.to_string())),
        Err(e) => return Err(StoreError::Invalid(e.to_string())),
    };
    let bits = TransportFlag::to_bits(&flags);
    let phone = new.to_phone.as_ref().map(|p| p.as_str().to_string());
    conn.execute(
        "INSERT INTO handovers (box_id, stage, from_name, to_name, to_phone, at, account_id, flags)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![the_box.id, new.stage.as_str(), from_name, new.to_name, phone, new.at, new.by, bits],
    )
    .map_err(error::map)?;
    let id = conn.last_insert_rowid();
    let courier = new.stage == HandoverStage::Courier;
    conn.execute(
        "UPDATE boxes SET state = ?2, flags = flags | ?3,
             dispatched_at = CASE WHEN ?4 THEN coalesce(dispatched_at, ?6) ELSE dispatched_at END,
             received_at = CASE WHEN ?5 THEN ?6 ELSE received_at END
         WHERE id = ?1",
        params![the_box.id, state.as_str(), bits, courier, !courier, new.at],
    )
    .map_err(error::map)?;
    Ok(HandedOver::Recorded(Handover {
        id,
        stage: new.stage,
        from_name,
        to_name: new.to_name.clone(),
        to_phone: new.to_phone.clone(),
        at: new.at,
        by: new.by,
        flags,
    }))
}

fn detail(conn: &Connection, code: &BoxCode) -> StoreResult<Option<BoxDetail>> {
    let Some(summary) = box_by_code(conn, code)? else { return Ok(None) };
    let tubes = packed_tubes(conn, summary.id)?;
    let handovers = handovers(conn, summary.id)?;
    Ok(Some(BoxDetail { summary, tubes, handovers }))
}

fn boxes_where(conn: &Connection, sql: &str, params: impl rusqlite::Params) -> StoreResult<Vec<TransportBox>> {
    let mut stmt = conn.prepare_cached(sql).map_err(error::map)?;
    let rows = stmt.query_map(params, box_from_row).map_err(error::map)?;
    rows.collect::<Result<_, _>>().map_err(error::map)
}

#[async_trait]
impl TransportStore for SqliteStore {
    async fn create_box(&self, new: NewBox) -> StoreResult<TransportBox> {
        let code = new.code.clone();
        self.write(move |c| create(c, &new)).await?;
        self.read(move |c| existing_box(c, &code)).await
    }

    async fn transport_box(&self, code: &BoxCode) -> StoreResult<Option<BoxDetail>> {
        let code = code.clone();
        self.read(move |c| detail(c, &code)).await
    }

    async fn pack_tubes(
        &self,
        code: &BoxCode,
        tubes: Vec<TubeCode>,
        at: Millis,
        by: UserId,
    ) -> StoreResult<Vec<(TubeCode, Packed)>> {
        let code = code.clone();
        self.write(move |c| pack(c, &code, &tubes, at, by)).await
    }

    async fn seal_box(&self, code: &BoxCode, at: Millis) -> StoreResult<TransportBox> {
        let code = code.clone();
        self.write(move |c| {
            seal(c, &code, at)?;
            existing_box(c, &code)
        })
        .await
    }

    async fn record_handover(&self, code: &BoxCode, handover: NewHandover) -> StoreResult<HandedOver> {
        let code = code.clone();
        self.write(move |c| hand_over(c, &code, &handover)).await
    }

    async fn boxes(&self, round: RoundId, scope: &Scope) -> StoreResult<Vec<TransportBox>> {
        let (low, high) = scope.path_range();
        self.read(move |c| {
            boxes_where(
                c,
                &format!(
                    "SELECT {BOX_COLUMNS} FROM boxes WHERE round_id = ?1 AND area_path >= ?2 AND area_path < ?3 ORDER BY id"
                ),
                params![round, low, high],
            )
        })
        .await
    }

    async fn overdue_boxes(&self, scope: &Scope, sampled_before: Millis) -> StoreResult<Vec<TransportBox>> {
        let (low, high) = scope.path_range();
        self.read(move |c| {
            boxes_where(
                c,
                &format!(
                    "SELECT {BOX_COLUMNS} FROM boxes
                     WHERE state <> 'received' AND first_sample_at < ?1 AND area_path >= ?2 AND area_path < ?3
                     ORDER BY first_sample_at, id"
                ),
                params![sampled_before, low, high],
            )
        })
        .await
    }
}
