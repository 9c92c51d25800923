//! [`TransportStore`] on PostgreSQL. Every write to a box runs in one transaction holding the
//! box's row lock (`FOR UPDATE`), so packing, sealing and hand-overs of one box are decided one
//! after the other on what is stored; a tube raced into two boxes at once is settled by the
//! unique tube column (`ON CONFLICT DO NOTHING`, then the holder is read again).

use crate::{
    PgStore,
    error::{Explain, corrupt, db},
    get,
};
use async_trait::async_trait;
use bulwark_domain::{
    Millis,
    access::{Scope, UserId},
    people::Phone,
    testing::{
        BoxCode, BoxId, BoxState, Handover, HandoverDecision, HandoverStage, NewBox, NewHandover, PackDecision,
        PackedTube, RoundId, SealDecision, TransportBox, TransportError, TransportFlag, TubeCode, TubeHolder, TubeId,
        TubeState, decide_handover, decide_pack, decide_seal,
    },
};
use bulwark_store::{
    StoreError, StoreResult, TransportStore,
    transport::{BoxDetail, HandedOver, Packed},
};
use deadpool_postgres::GenericClient;
use std::collections::HashMap;
use tokio_postgres::Row;

const BOX_COLS: &str = "b.id, b.code, b.round_id, b.site_id, b.area_path, b.state, b.flags, b.tubes, \
    b.first_sample_at, b.created_at, b.created_by, b.sealed_at, b.dispatched_at, b.received_at";

fn box_from(row: &Row) -> StoreResult<TransportBox> {
    let state: String = get(row, 5)?;
    let tubes: i32 = get(row, 7)?;
    Ok(TransportBox {
        id: get(row, 0)?,
        code: BoxCode::from_stored(get(row, 1)?),
        round: get(row, 2)?,
        site: get(row, 3)?,
        area_path: get(row, 4)?,
        state: BoxState::parse(&state).ok_or_else(|| corrupt("box state", &state))?,
        flags: TransportFlag::from_bits(get(row, 6)?),
        tubes: u32::try_from(tubes).map_err(|_| corrupt("box tubes", tubes))?,
        first_sample_at: get(row, 8)?,
        created_at: get(row, 9)?,
        created_by: get(row, 10)?,
        sealed_at: get(row, 11)?,
        dispatched_at: get(row, 12)?,
        received_at: get(row, 13)?,
    })
}

/// The box with this code, locked for the rest of the transaction when `lock`.
async fn box_by_code(client: &impl GenericClient, code: &BoxCode, lock: bool) -> StoreResult<Option<TransportBox>> {
    let sql = format!("SELECT {BOX_COLS} FROM boxes b WHERE b.code = $1{}", if lock { " FOR UPDATE" } else { "" });
    let row = client.query_opt(&sql, &[&code.as_str()]).await.map_err(db)?;
    row.as_ref().map(box_from).transpose()
}

async fn handovers_of(client: &impl GenericClient, box_id: BoxId) -> StoreResult<Vec<Handover>> {
    let rows = client
        .query(
            "SELECT id, stage, from_name, to_name, to_phone, at, account_id, flags FROM handovers
             WHERE box_id = $1 ORDER BY id",
            &[&box_id],
        )
        .await
        .map_err(db)?;
    rows.iter()
        .map(|row| {
            let stage: String = get(row, 1)?;
            let phone: Option<String> = get(row, 4)?;
            Ok(Handover {
                id: get(row, 0)?,
                stage: HandoverStage::parse(&stage).ok_or_else(|| corrupt("hand-over stage", &stage))?,
                from_name: get(row, 2)?,
                to_name: get(row, 3)?,
                to_phone: phone.map(|p| Phone::parse(&p).map_err(|e| corrupt("phone", e))).transpose()?,
                at: get(row, 5)?,
                by: get(row, 6)?,
                flags: TransportFlag::from_bits(get(row, 7)?),
            })
        })
        .collect()
}

async fn tubes_of(client: &impl GenericClient, box_id: BoxId) -> StoreResult<Vec<PackedTube>> {
    let rows = client
        .query(
            "SELECT t.code, t.opened_at, t.state, bt.packed_at, bt.account_id, bt.flags
             FROM box_tubes bt JOIN tubes t ON t.id = bt.tube_id WHERE bt.box_id = $1 ORDER BY bt.id",
            &[&box_id],
        )
        .await
        .map_err(db)?;
    rows.iter()
        .map(|row| {
            let state: String = get(row, 2)?;
            Ok(PackedTube {
                code: TubeCode::from_stored(get(row, 0)?),
                opened_at: get(row, 1)?,
                state: TubeState::parse(&state).ok_or_else(|| corrupt("tube state", &state))?,
                packed_at: get(row, 3)?,
                by: get(row, 4)?,
                flags: TransportFlag::from_bits(get(row, 5)?),
            })
        })
        .collect()
}

/// A tube as packing sees it: its id, state, sampling time and the box holding it (id, code).
struct TubeAt {
    id: TubeId,
    state: TubeState,
    opened_at: Millis,
    holder: Option<(BoxId, String)>,
}

async fn tubes_by_code(client: &impl GenericClient, codes: &[&str]) -> StoreResult<HashMap<String, TubeAt>> {
    let rows = client
        .query(
            "SELECT t.code, t.id, t.state, t.opened_at, b.id, b.code FROM tubes t
             LEFT JOIN box_tubes bt ON bt.tube_id = t.id LEFT JOIN boxes b ON b.id = bt.box_id
             WHERE t.code = ANY($1)",
            &[&codes],
        )
        .await
        .map_err(db)?;
    let mut out = HashMap::with_capacity(rows.len());
    for row in &rows {
        let state: String = get(row, 2)?;
        let holder_id: Option<BoxId> = get(row, 4)?;
        let holder_code: Option<String> = get(row, 5)?;
        let code: String = get(row, 0)?;
        out.insert(
            code,
            TubeAt {
                id: get(row, 1)?,
                state: TubeState::parse(&state).ok_or_else(|| corrupt("tube state", &state))?,
                opened_at: get(row, 3)?,
                holder: holder_id.zip(holder_code),
            },
        );
    }
    Ok(out)
}

impl PgStore {
    async fn pack_in(
        &self,
        code: &BoxCode,
        tubes: &[TubeCode],
        at: Millis,
        by: UserId,
    ) -> StoreResult<Vec<(TubeCode, Packed)>> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db)?;
        let the_box = box_by_code(&tx, code, true).await?.ok_or(StoreError::NotFound)?;
        let codes: Vec<&str> = tubes.iter().map(TubeCode::as_str).collect();
        let mut known = tubes_by_code(&tx, &codes).await?;
        let mut out = Vec::with_capacity(tubes.len());
        for tube in tubes {
            let found = known.get(tube.as_str());
            let holder = match found.and_then(|t| t.holder.as_ref()) {
                None => TubeHolder::Free,
                Some((b, _)) if *b == the_box.id => TubeHolder::ThisBox,
                Some(_) => TubeHolder::OtherBox,
            };
            let packed = match (decide_pack(the_box.state, found.map(|t| t.state), holder), found) {
                (PackDecision::Store(flags), Some(t)) => {
                    let bits = TransportFlag::to_bits(&flags);
                    let inserted = tx
                        .query_opt(
                            "INSERT INTO box_tubes (box_id, tube_id, packed_at, account_id, flags)
                             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (tube_id) DO NOTHING RETURNING id",
                            &[&the_box.id, &t.id, &at, &by, &bits],
                        )
                        .await
                        .map_err(db)?;
                    if inserted.is_some() {
                        tx.execute(
                            "UPDATE boxes SET tubes = tubes + 1, flags = flags | $2,
                                 first_sample_at = least(coalesce(first_sample_at, $3), $3)
                             WHERE id = $1",
                            &[&the_box.id, &bits, &t.opened_at],
                        )
                        .await
                        .map_err(db)?;
                        Packed::Stored(flags)
                    } else {
                        // Packed into another box by a transaction that committed meanwhile.
                        let again = tubes_by_code(&tx, &[tube.as_str()]).await?;
                        match again.get(tube.as_str()).and_then(|t| t.holder.clone()) {
                            Some((b, _)) if b == the_box.id => Packed::AlreadyInBox,
                            Some((_, other)) => Packed::InOtherBox(BoxCode::from_stored(other)),
                            None => return Err(StoreError::Unavailable("a tube moved while packing; retry".into())),
                        }
                    }
                }
                (PackDecision::InOtherBox, Some(t)) => {
                    Packed::InOtherBox(BoxCode::from_stored(t.holder.clone().map(|(_, c)| c).unwrap_or_default()))
                }
                (PackDecision::AlreadyInBox, _) => Packed::AlreadyInBox,
                _ => Packed::UnknownTube,
            };
            if matches!(packed, Packed::Stored(_))
                && let Some(t) = known.get_mut(tube.as_str())
            {
                // The same code twice in one request: the second is already in the box.
                t.holder = Some((the_box.id, code.as_str().to_string()));
            }
            out.push((tube.clone(), packed));
        }
        tx.commit().await.map_err(db)?;
        Ok(out)
    }

    async fn seal_in(&self, code: &BoxCode, at: Millis) -> StoreResult<TransportBox> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db)?;
        let the_box = box_by_code(&tx, code, true).await?.ok_or(StoreError::NotFound)?;
        match decide_seal(the_box.state, the_box.tubes) {
            Ok(SealDecision::Seal) => {
                tx.execute("UPDATE boxes SET state = 'sealed', sealed_at = $2 WHERE id = $1", &[&the_box.id, &at])
                    .await
                    .map_err(db)?;
            }
            Ok(SealDecision::Unchanged) => {}
            Err(e) => return Err(StoreError::Invalid(e.to_string())),
        }
        let sealed = box_by_code(&tx, code, false).await?.ok_or(StoreError::NotFound)?;
        tx.commit().await.map_err(db)?;
        Ok(sealed)
    }

    async fn hand_over_in(&self, code: &BoxCode, new: &NewHandover) -> StoreResult<HandedOver> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db)?;
        let the_box = box_by_code(&tx, code, true).await?.ok_or(StoreError::NotFound)?;
        let earlier = handovers_of(&tx, the_box.id).await?;
        let (state, from_name, flags) = match decide_handover(the_box.state, &earlier, new) {
            Ok(HandoverDecision::Repeat) => {
                let last =
                    earlier.last().cloned().ok_or_else(|| StoreError::Internal("no hand-over to repeat".into()))?;
                return Ok(HandedOver::Repeated(last));
            }
            Ok(HandoverDecision::Record { state, from_name, flags }) => (state, from_name, flags),
            Err(e @ TransportError::AlreadyReceived) => return Err(StoreError::Conflict(e.to_string())),
            Err(e) => return Err(StoreError::Invalid(e.to_string())),
        };
        let bits = TransportFlag::to_bits(&flags);
        let phone = new.to_phone.as_ref().map(|p| p.as_str());
        let row = tx
            .query_one(
                "INSERT INTO handovers (box_id, stage, from_name, to_name, to_phone, at, account_id, flags)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
                &[&the_box.id, &new.stage.as_str(), &from_name, &new.to_name, &phone, &new.at, &new.by, &bits],
            )
            .await
            .map_err(db)?;
        let courier = new.stage == HandoverStage::Courier;
        tx.execute(
            "UPDATE boxes SET state = $2, flags = flags | $3,
                 dispatched_at = CASE WHEN $4 THEN coalesce(dispatched_at, $6) ELSE dispatched_at END,
                 received_at = CASE WHEN $5 THEN $6 ELSE received_at END
             WHERE id = $1",
            &[&the_box.id, &state.as_str(), &bits, &courier, &!courier, &new.at],
        )
        .await
        .map_err(db)?;
        tx.commit().await.map_err(db)?;
        Ok(HandedOver::Recorded(Handover {
            id: get(&row, 0)?,
            stage: new.stage,
            from_name,
            to_name: new.to_name.clone(),
            to_phone: new.to_phone.clone(),
            at: new.at,
            by: new.by,
            flags,
        }))
    }
}

#[async_trait]
impl TransportStore for PgStore {
    async fn create_box(&self, new: NewBox) -> StoreResult<TransportBox> {
        let client = self.client().await?;
        let row = client
            .query_opt(
                &format!(
                    "INSERT INTO boxes AS b (code, round_id, site_id, area_path, state, created_at, created_by)
                     SELECT $1, r.id, s.id, s.area_path, 'packing', $4, $5
                     FROM rounds r, sites s WHERE r.id = $2 AND s.id = $3
                     RETURNING {BOX_COLS}"
                ),
                &[&new.code.as_str(), &new.round, &new.site, &new.at, &new.by],
            )
            .await
            .map_err(db)
            .conflict(|| format!("box {} exists already", new.code))?;
        match row {
            Some(row) => box_from(&row),
            None => {
                let round = client.query_opt("SELECT 1 FROM rounds WHERE id = $1", &[&new.round]).await.map_err(db)?;
                Err(StoreError::Invalid(match round {
                    None => format!("round {} does not exist", new.round),
                    Some(_) => format!("site {} does not exist", new.site),
                }))
            }
        }
    }

    async fn transport_box(&self, code: &BoxCode) -> StoreResult<Option<BoxDetail>> {
        let client = self.client().await?;
        let Some(summary) = box_by_code(&client, code, false).await? else { return Ok(None) };
        let (tubes, handovers) = tokio::try_join!(tubes_of(&client, summary.id), handovers_of(&client, summary.id))?;
        Ok(Some(BoxDetail { summary, tubes, handovers }))
    }

    async fn pack_tubes(
        &self,
        code: &BoxCode,
        tubes: Vec<TubeCode>,
        at: Millis,
        by: UserId,
    ) -> StoreResult<Vec<(TubeCode, Packed)>> {
        self.pack_in(code, &tubes, at, by).await
    }

    async fn seal_box(&self, code: &BoxCode, at: Millis) -> StoreResult<TransportBox> {
        self.seal_in(code, at).await
    }

    async fn record_handover(&self, code: &BoxCode, handover: NewHandover) -> StoreResult<HandedOver> {
        self.hand_over_in(code, &handover).await
    }

    async fn boxes(&self, round: RoundId, scope: &Scope) -> StoreResult<Vec<TransportBox>> {
        let client = self.client().await?;
        let (low, high) = scope.path_range();
        let rows = client
            .query(
                &format!(
                    "SELECT {BOX_COLS} FROM boxes b
                     WHERE b.round_id = $1 AND b.area_path >= $2 AND b.area_path < $3 ORDER BY b.id"
                ),
                &[&round, &low, &high],
            )
            .await
            .map_err(db)?;
        rows.iter().map(box_from).collect()
    }

    async fn overdue_boxes(&self, scope: &Scope, sampled_before: Millis) -> StoreResult<Vec<TransportBox>> {
        let client = self.client().await?;
        let (low, high) = scope.path_range();
        let rows = client
            .query(
                &format!(
                    "SELECT {BOX_COLS} FROM boxes b
                     WHERE b.state <> 'received' AND b.first_sample_at < $1 AND b.area_path >= $2 AND b.area_path < $3
                     ORDER BY b.first_sample_at, b.id"
                ),
                &[&sampled_before, &low, &high],
            )
            .await
            .map_err(db)?;
        rows.iter().map(box_from).collect()
    }
}
